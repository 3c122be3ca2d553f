"""One factory for every policy architecture (LeRobot's ``make_policy`` pattern).

Each architecture lives in ``simbench/policies/<arch>/`` and registers here what the generic code
needs of it: its configuration class (no torch), its network class (torch: training and export
only), its ONNX Runtime chunk policy (numpy: what a board runs) and its exporter. Entries are
``"module:attr"`` strings imported on first use, so a timing-only run imports none of them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from simbench.errors import unknown_name


@dataclass(frozen=True)
class ArchSpec:
    config: str
    """Dataclass with ``from_dict``/``to_dict``: the network's shapes."""
    policy: str
    """torch ``nn.Module(config, stats)`` with ``forward(batch) -> (loss, info)`` and
    ``predict_action_chunk(state, images)``."""
    onnx_runtime: str
    """ChunkPolicy class with ``from_config(cfg, env)`` over the exported ONNX graph(s)."""
    exporter: str
    """``export(policy, out_dir, fps, cfg, data) -> report``: fp32 graph(s), parity, precision variants."""


ARCHS: dict[str, ArchSpec] = {
    "act": ArchSpec(
        config="simbench.policies.act.configuration_act:ACTConfig",
        policy="simbench.policies.act.modeling_act:ACTPolicy",
        onnx_runtime="simbench.policies.act.onnx_runtime:ACTOnnxPolicy",
        exporter="simbench.export.act:export_act",
    ),
    "smolvla": ArchSpec(
        config="simbench.policies.smolvla.configuration_smolvla:SmolVLAConfig",
        policy="simbench.policies.smolvla.modeling_smolvla:SmolVLAPolicy",
        onnx_runtime="simbench.policies.smolvla.onnx_runtime:SmolVLAOnnxPolicy",
        exporter="simbench.export.smolvla:export_smolvla",
    ),
    "chunk": ArchSpec(  # any ONNX file keeping the chunk-policy contract (docs/byo-policy.md): runs, never trains
        config="simbench.policies.onnx_chunk:NotTrainable",
        policy="simbench.policies.onnx_chunk:NotTrainable",
        onnx_runtime="simbench.policies.onnx_chunk:OnnxContractPolicy",
        exporter="simbench.policies.onnx_chunk:export",
    ),
}


def _load(target: str) -> Any:
    import importlib

    module, attr = target.split(":")
    return getattr(importlib.import_module(module), attr)


def arch_spec(arch: str | None, key: str = "policy.arch") -> ArchSpec:
    if arch not in ARCHS:
        raise unknown_name(key, str(arch), ARCHS)
    return ARCHS[arch]


def config_class(arch: str | None, key: str = "policy.arch") -> Any:
    return _load(arch_spec(arch, key).config)


def arch_of(config: Any) -> str:
    """The architecture name of a config instance."""
    for name, spec in ARCHS.items():
        if type(config).__name__ == spec.config.split(":")[1]:
            return name
    raise TypeError(f"{type(config).__name__} is not a registered policy config")


def make_config(arch: str | None, node: dict[str, Any], key: str = "policy.arch") -> Any:
    return config_class(arch, key).from_dict(node)


def make_policy(config: Any, stats: dict[str, dict[str, Any]] | None = None) -> Any:
    """The torch network of ``config``'s architecture, with dataset statistics when given."""
    import torch

    cls = _load(ARCHS[arch_of(config)].policy)
    if stats is None:
        return cls(config)
    return cls(config, {k: {s: torch.as_tensor(v) for s, v in d.items()} for k, d in stats.items()})


def onnx_runtime(arch: str | None) -> Any:
    return _load(arch_spec(arch).onnx_runtime)


class OnnxRuntimes:
    """``runtime: onnx`` in the runtime table: opens the ONNX runtime of the config's ``arch``."""

    @staticmethod
    def from_config(cfg: dict[str, Any], env: Any = None) -> Any:
        return onnx_runtime(cfg.get("arch", "act")).from_config(cfg, env)


def model_metadata_file(cfg: Mapping[str, Any]) -> Path:
    """The ONNX file whose ``simbench.*`` metadata (cameras, image size, state size, chunk) describes
    an ``runtime: onnx`` config's model, whatever its architecture."""
    return onnx_runtime(cfg.get("arch", "act")).metadata_file(cfg)


def exporter(arch: str | None) -> Any:
    return _load(arch_spec(arch, "checkpoint arch").exporter)


__all__ = ["ARCHS", "ArchSpec", "OnnxRuntimes", "arch_of", "arch_spec", "config_class", "exporter", "make_config", "make_policy",
           "model_metadata_file", "onnx_runtime"]
