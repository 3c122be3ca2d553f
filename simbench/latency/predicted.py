"""``latency=predicted``: a board's latency for this policy's own ONNX graph(s), from a device model.

The median is :func:`simbench.latency.roofline.predict` on the policy's graphs (per pipeline
stage, so the scheduler gets per-component times); each inference draws a lognormal ``jitter``
around it, the same shape the device profiles use. Nothing is measured, so a run is reproducible bit
for bit; ``describe`` names the device, the thread count and the sha256 of every graph priced.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from simbench.errors import ConfigError, bad_value
from simbench.latency.base import SampledLatency, StageTimes
from simbench.latency.context import LatencyContext, PolicyGraphs
from simbench.latency.device_model import UNITS, load_device
from simbench.latency.graph_cost import PRECISIONS
from simbench.latency.roofline import Prediction, predict

def predict_policy(cfg: Mapping[str, Any], graphs: PolicyGraphs, key: str = "latency") -> Prediction:
    """The device model's prediction for ``graphs`` with a ``latency=predicted`` node's settings
    (``device``, ``threads``, ``unit``, ``precision``), each checked with a one-line error."""
    device = load_device(cfg.get("device", "imx95"), f"{key}.device")
    threads = cfg.get("threads")
    n_threads = device.threads(threads, f"{key}.threads")
    unit = cfg.get("unit")
    if unit is not None and unit not in UNITS:
        raise bad_value(f"{key}.unit", unit, f"choose one of: {', '.join(UNITS)} (or null: the pipeline's units)")
    if unit == "npu" and device.npu is None:
        raise bad_value(f"{key}.unit", unit, f"device {device.name} has no NPU in its model")
    precision = cfg.get("precision")
    if precision is not None and precision not in PRECISIONS:
        raise bad_value(f"{key}.precision", precision, f"choose one of: {', '.join(PRECISIONS)} (or null: as stored)")
    parts, stages = graphs
    if not parts:
        raise ConfigError(f"{key}=predicted needs a policy with ONNX graphs (runtime: onnx)")
    return predict(parts, [(name, where) for name, where, _ in stages], device, n_threads, precision, unit)


@dataclass(frozen=True)
class PredictedLatency(SampledLatency):
    """Lognormal jitter around the device model's prediction, split per pipeline component."""

    prediction: Prediction
    policy: str
    jitter: float

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any], ctx: LatencyContext) -> PredictedLatency:
        if ctx.graphs_of is None:
            raise ConfigError(f"{ctx.key}=predicted needs the policy's graphs; it prices a policy's ONNX model")
        jitter = float(cfg.get("jitter", 0.0))
        return cls(predict_policy(cfg, ctx.graphs_of(None), ctx.key), ctx.policy, jitter)

    def _factor(self, rng: np.random.Generator) -> float:
        return 1.0 if self.jitter == 0.0 else math.exp(self.jitter * float(rng.standard_normal()))

    def sample(self, rng: np.random.Generator) -> float:
        return self.prediction.total_s * self._factor(rng)

    def draw(self, rng: np.random.Generator, measured_s: float) -> StageTimes:
        factor = self._factor(rng)
        p = self.prediction
        return StageTimes(p.total_s * factor, {k: v * factor for k, v in p.components.items()})

    def describe(self) -> dict[str, Any]:
        p = self.prediction
        return {"kind": "predicted", "policy": self.policy, "device": p.device, "threads": p.threads,
                "median_s": p.total_s, "jitter": self.jitter, "components_s": dict(p.components),
                "graphs": dict(p.graphs)}


def anchored_median(published_s: float, anchor_shares: Sequence[tuple[str, float]], variant: Prediction,
                    anchor: Prediction) -> tuple[float, float]:
    """(median seconds, ratio) for a variant without a published figure: the anchor's published
    seconds split by its pipeline shares, each share scaled by the device model's variant/anchor
    ratio for that stage on the shipped graphs, summed."""
    total = 0.0
    for stage, share in anchor_shares:
        base = anchor.components.get(stage, 0.0)
        ratio = variant.components.get(stage, 0.0) / base if base > 0 else 1.0
        total += published_s * share * ratio
    return total, (total / published_s if published_s else 1.0)


__all__ = ["PredictedLatency", "anchored_median", "predict_policy"]
