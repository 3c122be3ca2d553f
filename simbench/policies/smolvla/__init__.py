"""SmolVLA-style policy: ``configuration_smolvla.SmolVLAConfig`` (shapes), ``modeling_smolvla`` (network),
``tokenizer`` (shipped vocabulary), ``onnx_runtime`` (the three-graph ONNX Runtime pipeline).

The network classes need torch (training and export only); the runtime and tokenizer do not, so the
torch-backed names load lazily, on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from simbench.policies.smolvla.configuration_smolvla import SmolVLAConfig

if TYPE_CHECKING:
    from simbench.policies.smolvla.modeling_smolvla import SmolVLAPolicy

_TORCH_NAMES = ("SmolVLAPolicy", "VisionExport", "PrefillExport", "DenoiseExport")


def __getattr__(name: str) -> Any:
    if name in _TORCH_NAMES:
        from simbench.policies.smolvla import modeling_smolvla

        return getattr(modeling_smolvla, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["SmolVLAConfig", "SmolVLAPolicy"]
