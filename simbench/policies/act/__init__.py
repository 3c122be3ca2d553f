"""ACT policy: ``configuration_act.ACTConfig`` (shapes) and ``modeling_act.ACTPolicy`` (network).

The network classes need torch, which only training and export install (``pip install -e
".[train]"``). ACT's ONNX runtime (``onnx_runtime``) lives in this package too and must import
without torch (as on a board), so the torch-backed names load lazily, on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from simbench.policies.act.configuration_act import ACTConfig

if TYPE_CHECKING:  # for type checkers only; at run time they come from __getattr__
    from simbench.policies.act.modeling_act import ACTExportModule, ACTPolicy

_TORCH_NAMES = ("ACTExportModule", "ACTPolicy")


def __getattr__(name: str) -> Any:
    """Import ``modeling_act`` (and so torch) only when one of its classes is asked for."""
    if name in _TORCH_NAMES:
        from simbench.policies.act import modeling_act

        return getattr(modeling_act, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["ACTConfig", "ACTExportModule", "ACTPolicy"]
