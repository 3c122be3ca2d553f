"""The ensemble runtime executes the mean of its members' chunks and refuses members that disagree."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from simbench.errors import ConfigError
from simbench.export.onnx_export import export_onnx
from simbench.policies.act import ACTPolicy
from simbench.policies.ensemble_policy import EnsembleChunkPolicy
from simbench.policies.request import PolicyRequest
from simbench.registry import POLICY_RUNTIMES, resolve
from simbench.training.synthetic import tiny_config


def _export(tmp_path: Path, seed: int, **kw) -> Path:
    torch.manual_seed(seed)
    policy = ACTPolicy(tiny_config(cameras=("top", "gripper"), **kw)).eval()
    return export_onnx(policy, tmp_path / f"m{seed}_{len(kw)}.onnx", fps=30)


def _obs(seed: int) -> dict:
    rng = np.random.default_rng(seed)
    return {"observation.state": rng.normal(size=6).astype(np.float32),
            "observation.images.top": rng.integers(0, 255, (16, 16, 3), dtype=np.uint8),
            "observation.images.gripper": rng.integers(0, 255, (16, 16, 3), dtype=np.uint8)}


def test_ensemble_is_the_mean_of_its_members(tmp_path: Path) -> None:
    paths = [_export(tmp_path, s) for s in (0, 1, 2)]
    cfg = {"name": "ens", "members": [str(p) for p in paths], "fps": 60, "actions_per_chunk": 12}
    ens = resolve(POLICY_RUNTIMES, "policy.runtime", "ensemble").from_config(cfg, None)
    assert isinstance(ens, EnsembleChunkPolicy) and ens.actions_per_chunk == 12
    for k in range(3):
        obs = _obs(k)
        chunks = [m.predict_chunk(PolicyRequest(obs)) for m in ens.members]
        assert not np.allclose(chunks[0], chunks[1])  # different weights, different chunks
        np.testing.assert_allclose(ens.predict_chunk(PolicyRequest(obs)), np.mean(chunks, axis=0), rtol=0, atol=1e-12)
        assert ens.predict_chunk(PolicyRequest(obs)).shape == (12, 6)


def test_ensemble_refuses_disagreeing_or_too_few_members(tmp_path: Path) -> None:
    a, b = _export(tmp_path, 0), _export(tmp_path, 1, chunk_size=4, n_action_steps=4)
    with pytest.raises(ConfigError, match="chunk_size"):
        EnsembleChunkPolicy.from_config({"members": [str(a), str(b)], "fps": 60}, None)
    with pytest.raises(ConfigError, match="policy.members"):
        EnsembleChunkPolicy.from_config({"members": [str(a)], "fps": 60}, None)
    with pytest.raises(ConfigError, match="policy.members"):
        EnsembleChunkPolicy.from_config({"members": str(a), "fps": 60}, None)
