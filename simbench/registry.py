"""Name -> implementation tables for the swappable parts.

Plain dicts of ``"module:attr"`` strings, imported on first use so that a timing-only run never
imports MuJoCo or ONNX Runtime. A missed lookup raises a one-line :class:`ConfigError` listing the
valid names (LeRobot's aggregator-table style).
"""

from __future__ import annotations

import importlib
from typing import Any

from simbench.errors import unknown_name

ENVS: dict[str, str] = {
    "timing": "simbench.envs.timing:TimingEnv",
    "teabag_mug": "simbench.envs.teabag_scheduler_env:TeaBagSchedulerEnv",
}
"""env=NAME -> class with ``from_config(cfg: dict) -> SchedulerEnv``."""

POLICY_RUNTIMES: dict[str, str] = {
    "timing": "simbench.policies.timing_policy:TimingPolicy",
    "onnx": "simbench.policies.factory:OnnxRuntimes",  # the arch's ONNX runtime (act, smolvla)
    "ensemble": "simbench.policies.ensemble_policy:EnsembleChunkPolicy",
    "torch": "simbench.policies.torch_policy:TorchChunkPolicy",
    "scripted": "simbench.expert.scripted_policy:ScriptedPolicy",
}
"""policy.runtime -> class with ``from_config(cfg: dict, env: SchedulerEnv) -> ChunkPolicy``."""


def resolve(table: dict[str, str], key: str, name: str) -> Any:
    """Import and return the object registered under ``name`` in ``table``."""
    if name not in table:
        raise unknown_name(key, name, table)
    module_name, attr = table[name].split(":")
    return getattr(importlib.import_module(module_name), attr)
