"""``runtime: torch``: the trained ACT checkpoint in eager PyTorch, the reference the ONNX variants
are checked against (and the "torch eager fp32" row of the latency benchmark).

Config keys: ``checkpoint`` (a ``.pt`` from ``simbench train``), ``threads`` (torch intra-op
threads), ``fps`` (control rate, default 60), ``actions_per_chunk``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray

from simbench.envs.base import CONTROL_HZ, Observation
from simbench.policies.act import ACTPolicy
from simbench.policies.checkpoint import load_checkpoint
from simbench.policies.request import PolicyRequest
from simbench.policies.runtime_io import observation_inputs, resample_chunk


class TorchChunkPolicy:
    """ChunkPolicy over an in-memory :class:`ACTPolicy` (eval mode, latent at the prior mean)."""

    def __init__(
        self,
        policy: ACTPolicy,
        model_fps: float,
        name: str = "act_torch",
        actions_per_chunk: int | None = None,
        control_hz: float = CONTROL_HZ,
        threads: int | None = None,
    ) -> None:
        self.policy = policy.eval()
        self.cfg = policy.config
        self.name = name
        self.action_dim = self.cfg.action_dim
        self.model_fps = float(model_fps)
        self.control_hz = float(control_hz)
        self.actions_per_chunk = int(actions_per_chunk or self.cfg.chunk_size)
        if threads:
            torch.set_num_threads(threads)

    @classmethod
    def from_checkpoint(cls, path: str | Path, **kw: Any) -> TorchChunkPolicy:
        policy, ckpt = load_checkpoint(path)
        return cls(policy, float(ckpt.get("fps", 30)), **kw)

    @classmethod
    def from_config(cls, cfg: dict[str, Any], env: Any = None) -> TorchChunkPolicy:
        return cls.from_checkpoint(
            cfg["checkpoint"], name=str(cfg.get("name", "act_torch")), actions_per_chunk=cfg.get("actions_per_chunk"),
            control_hz=float(cfg.get("fps", CONTROL_HZ)), threads=cfg.get("threads"),
        )

    def reset(self, seed: int) -> None:
        torch.manual_seed(seed)

    @torch.no_grad()
    def predict_chunk_raw(self, observation: Observation) -> NDArray[np.float32]:
        state, images = observation_inputs(observation, self.cfg.cameras, self.cfg.image_size, self.cfg.state_dim)
        stacked = torch.from_numpy(np.stack(images, axis=1))  # (1, n_cam, h, w, 3)
        return self.policy.predict_action_chunk(torch.from_numpy(state), stacked)[0].numpy()

    def predict_chunk(self, request: PolicyRequest) -> NDArray[np.float64]:
        return resample_chunk(
            self.predict_chunk_raw(request.observation), self.model_fps, self.control_hz, self.actions_per_chunk
        )


__all__ = ["TorchChunkPolicy"]
