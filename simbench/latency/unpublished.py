"""A device profile's latency for a policy it has no figure for: the device model on the policy's own graph.

``latency=imx95`` (a device profile) knows published figures for the shipped variants and rescales
them for their siblings. A model brought from elsewhere (``+policy=onnx``) has neither a figure nor a
sibling, and another model's figure would be a guess dressed as a measurement. So it gets the device
model's own prediction for its graph, exactly ``latency=predicted`` on the profile's device, and says
so; where the model cannot price the graph, the run is refused in one line naming the sources that
can time it (host, a trace, a board, a constant).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from simbench.errors import ConfigError
from simbench.latency.context import GraphsOf
from simbench.latency.predicted import PredictedLatency, predict_policy

OTHER_SOURCES = (
    "latency=host (time it here), latency=trace latency.path=DIR/trace.csv (hil measure on a board), "
    "latency=board board=..., or latency=constant latency.value=SECONDS"
)


@dataclass(frozen=True)
class UnpublishedLatency(PredictedLatency):
    """``latency=predicted`` on the profile's device, reported as standing in for a missing figure."""

    profile: str = ""

    def describe(self) -> dict[str, Any]:
        return {
            **super().describe(),
            "profile": self.profile,
            "why": f"no published {self.profile} figure for {self.policy}: the device model's prediction for "
            "its own graph (not borrowed from another model)",
        }


def unpublished_latency(cfg: Mapping[str, Any], policy: str, graphs_of: GraphsOf) -> UnpublishedLatency | None:
    """The device model's latency for ``policy`` on the profile's device; None for a policy without
    ONNX graphs (the profile's own unknown-policy error then stands)."""
    try:
        graphs = graphs_of(policy)
    except ConfigError:
        return None
    device = str(cfg.get("device", "imx95"))
    try:
        prediction = predict_policy({"device": device}, graphs, "latency")
    except (ConfigError, KeyError, ValueError, TypeError) as err:
        raise ConfigError(
            f"latency={device} has no published figure for policy {policy} and the device model cannot "
            f"price its graph ({str(err).splitlines()[0][:120] if str(err) else type(err).__name__}); "
            f"use {OTHER_SOURCES}"
        ) from None
    if not prediction.total_s > 0:
        raise ConfigError(
            f"latency={device} has no published figure for policy {policy} and the device model "
            f"prices its graph at 0 s; use {OTHER_SOURCES}"
        )
    return UnpublishedLatency(prediction, policy, float(cfg.get("jitter", 0.0)), device)


__all__ = ["OTHER_SOURCES", "UnpublishedLatency", "unpublished_latency"]
