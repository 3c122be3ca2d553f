"""A latency source beside the core, as a user adds one: this file and ``conf/latency/toy.yaml``.

Every inference takes ``per_graph_s`` per ONNX graph the policy runs: it sees the model (ACT has one
graph, SmolVLA three), not just the policy's name.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from simbench.latency.base import StageTimes
from simbench.latency.context import LatencyContext


@dataclass(frozen=True)
class ToyLatency:
    seconds: float
    graphs: tuple[str, ...]

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any], ctx: LatencyContext) -> ToyLatency:
        sha = ctx.model_sha256() or ()
        return cls(float(cfg["per_graph_s"]) * len(sha), sha)

    def draw(self, rng: np.random.Generator, measured_s: float) -> StageTimes:
        return StageTimes(self.seconds)

    def describe(self) -> dict[str, Any]:
        return {"kind": "distribution", "name": "toy", "seconds": self.seconds, "graphs": list(self.graphs)}
