"""``latency`` config node -> latency source."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from simbench.errors import bad_value, unknown_name
from simbench.latency.base import LatencySource, MeasuredLatency
from simbench.latency.device_profile import DeviceProfileLatency, profile_provenance
from simbench.latency.distributions import ConstantLatency, LognormalLatency, NormalLatency, UniformLatency
from simbench.latency.trace import TraceLatency


@dataclass(frozen=True)
class Scaled:
    """Multiplies another source by a factor (``latency.scale``), e.g. a host-to-board ratio."""

    source: LatencySource
    scale: float

    def sample(self, rng: np.random.Generator) -> float:
        return self.scale * self.source.sample(rng)

    def describe(self) -> dict[str, Any]:
        return {**self.source.describe(), "scale": self.scale}

    def __getattr__(self, name: str) -> Any:  # component traces keep their per-stage API
        return getattr(self.source, name)


def _build(cfg: Mapping[str, Any], policy: str) -> LatencySource:
    name = cfg["name"]
    builders: dict[str, Callable[[], LatencySource]] = {
        "constant": lambda: ConstantLatency(float(cfg["value"])),
        "normal": lambda: NormalLatency(float(cfg["mean"]), float(cfg["std"]), float(cfg.get("min", 0.0))),
        "lognormal": lambda: LognormalLatency(float(cfg["median"]), float(cfg["sigma"])),
        "uniform": lambda: UniformLatency(float(cfg["low"]), float(cfg["high"])),
        "trace": lambda: TraceLatency(str(cfg["path"]), str(cfg.get("column", "latency_s"))),
        "imx95": lambda: DeviceProfileLatency.for_policy(cfg["profiles"], policy, float(cfg.get("jitter", 0.0)),
                                                  provenance=profile_provenance(cfg, policy)),
        "host": lambda: MeasuredLatency(),
    }
    if name not in builders:
        raise unknown_name("latency", name, builders)
    return builders[name]()


LATENCY_SOURCES = ("constant", "normal", "lognormal", "uniform", "trace", "imx95", "host")


def make_latency(cfg: Mapping[str, Any], policy: str) -> LatencySource:
    """Build the source for ``policy`` (device profiles are picked by the policy's name)."""
    scale = float(cfg.get("scale", 1.0))
    if not scale > 0:
        raise bad_value("latency.scale", scale, "must be > 0")
    source = _build(cfg, policy)
    if isinstance(source, MeasuredLatency):
        source.scale = scale
        return source
    return source if scale == 1.0 else Scaled(source, scale)
