"""A deep ensemble of ONNX ACT exports: every member predicts the chunk, the policy executes their mean.

Why it is here: the mean of several independently trained models' chunks can score above each
of them (measured: docs/2026-11-29-history-notes.md). An ensemble is a deployment choice with a
price simbench can show: the members run one after another, so inference costs the sum of theirs
(``latency=host`` measures it), which on an edge board decides whether the arm stalls.

Config (``runtime: ensemble``)::

    members: [path/a.onnx, path/b.onnx]   # >= 2 ACT exports with the same cameras, chunk and fps
    threads: 1                            # per member session

The other keys (``actions_per_chunk``, ``fps``, ``name``) mean what they mean for ``runtime: onnx``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from simbench.errors import ConfigError, bad_value
from simbench.policies.act.onnx_runtime import ACTOnnxPolicy
from simbench.policies.request import PolicyRequest

MATCHING = ("cameras", "image_size", "state_dim", "action_dim", "chunk_size", "model_fps")
"""What every member must share with the first, or their chunks cannot be averaged tick by tick."""


class EnsembleChunkPolicy:
    """Mean of the members' action chunks; deterministic, since each member is."""

    def __init__(self, members: list[ACTOnnxPolicy], name: str = "act_ensemble") -> None:
        if len(members) < 2:
            raise bad_value("policy.members", [str(m.path) for m in members], "list at least two ONNX exports")
        first = members[0]
        for m in members[1:]:
            for attr in MATCHING:
                if getattr(m, attr) != getattr(first, attr):
                    raise ConfigError(
                        f"policy.members: {m.path} has {attr}={getattr(m, attr)} but {first.path} has "
                        f"{getattr(first, attr)}; members must agree to be averaged"
                    )
        self.members = members
        self.name = name
        self.actions_per_chunk = first.actions_per_chunk
        self.action_dim = first.action_dim
        self.chunk_size = first.chunk_size
        self.model_fps = first.model_fps
        self.control_hz = first.control_hz
        self.cameras = first.cameras
        self.precision = "+".join(sorted({m.precision for m in members}))

    @classmethod
    def from_config(cls, cfg: dict[str, Any], env: Any = None) -> EnsembleChunkPolicy:
        paths = cfg.get("members")
        if not isinstance(paths, (list, tuple)) or len(paths) < 2:
            raise bad_value("policy.members", paths, "list at least two ONNX exports")
        members = [ACTOnnxPolicy.from_config({**cfg, "model_path": p}, env) for p in paths]
        return cls(members, name=str(cfg.get("name", "act_ensemble")))

    def reset(self, seed: int) -> None:
        for m in self.members:
            m.reset(seed)

    def predict_chunk(self, request: PolicyRequest) -> NDArray[np.float64]:
        return np.mean([m.predict_chunk(request) for m in self.members], axis=0)


__all__ = ["EnsembleChunkPolicy"]
