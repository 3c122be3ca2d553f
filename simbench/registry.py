"""Name -> implementation tables for the swappable parts: envs, policy runtimes, latency sources.

Plain dicts of ``"module:attr"`` strings, imported on first use so that a timing-only run never
imports MuJoCo or ONNX Runtime; each implementation is a class with ``from_config``. A missed lookup
raises a one-line :class:`ConfigError` listing the valid names (LeRobot's aggregator-table style).
An option beside the core names its class in its own YAML (``target: package.module:Class``), so a
new one is one file and one YAML; the aggregate functions' table is ``scheduler.aggregate.AGGREGATORS``.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Mapping
from typing import Any

from simbench.errors import bad_value, unknown_name

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

LATENCY_SOURCES: dict[str, str] = {
    "constant": "simbench.latency.distributions:ConstantLatency",
    "normal": "simbench.latency.distributions:NormalLatency",
    "lognormal": "simbench.latency.distributions:LognormalLatency",
    "uniform": "simbench.latency.distributions:UniformLatency",
    "trace": "simbench.latency.trace:TraceLatency",
    "device_profile": "simbench.latency.device_profile:DeviceProfileLatency",
    "predicted": "simbench.latency.predicted:PredictedLatency",
    "host": "simbench.latency.base:MeasuredLatency",
}
"""latency.name -> class with ``from_config(node: dict, ctx: LatencyContext) -> LatencySource``."""


TARGET = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*:[A-Za-z_][A-Za-z0-9_]*")


def target(spec: Any, key: str) -> Any:
    """The callable a config names as ``module:function`` (Hydra's ``_target_`` idea): how parts that
    live beside the core (the board, the wall clock) plug into a run without the core importing them."""
    if not isinstance(spec, str) or not TARGET.fullmatch(spec):
        raise bad_value(key, spec, "must name a callable as package.module:function")
    module_name, attr = spec.split(":")
    try:
        found = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as err:
        raise bad_value(key, spec, f"cannot be loaded ({type(err).__name__}: {err})") from None
    if not callable(found):
        raise bad_value(key, spec, "is not callable")
    return found


def resolve(table: dict[str, str], key: str, name: str) -> Any:
    """Import and return the object registered under ``name`` in ``table``."""
    if name not in table:
        raise unknown_name(key, name, table)
    module_name, attr = table[name].split(":")
    return getattr(importlib.import_module(module_name), attr)


def implementation(table: dict[str, str], key: str, node: Mapping[str, Any]) -> Any:
    """The class an option's node asks for: its ``target`` (a part beside the core) or ``table[node.name]``."""
    if node.get("target") is not None:
        return target(node["target"], f"{key}.target")
    return resolve(table, key, node.get("name"))
