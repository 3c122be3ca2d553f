"""``latency`` config node -> latency source."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from simbench.errors import bad_value
from simbench.latency.base import LatencySource, StageTimes
from simbench.latency.context import GraphsOf, LatencyContext
from simbench.registry import LATENCY_SOURCES, implementation


@dataclass(frozen=True)
class Scaled:
    """Multiplies another source by a factor (``latency.scale``), e.g. a host-to-board ratio."""

    source: LatencySource
    scale: float

    def draw(self, rng: np.random.Generator, measured_s: float) -> StageTimes:
        times = self.source.draw(rng, measured_s)
        parts = times.components
        return StageTimes(
            self.scale * times.total, None if parts is None else {k: self.scale * v for k, v in parts.items()}
        )

    def describe(self) -> dict[str, Any]:
        return {**self.source.describe(), "scale": self.scale}


MAX_LATENCY_S = 3_600.0
"""Largest latency parameter (seconds) a source may be given."""
MAX_SIGMA = 3.0
"""Largest lognormal sigma / jitter: at 3 the 99.9th percentile is already ~10,000x the median;
sigma 1000 overflowed inside SimPy."""
MAX_SCALE = 1_000.0
_SECONDS = ("value", "mean", "std", "min", "median", "low", "high")
# latency=predicted: ``jitter`` is bounded like a sigma below; device, threads, unit and precision
# are checked by the source (simbench.latency.predicted.predict_policy).


def _check_numbers(cfg: Mapping[str, Any], key: str) -> None:
    """Every numeric parameter a number, finite, >= 0 and bounded; messages name ``key.param``."""
    bounds = {**{k: MAX_LATENCY_S for k in _SECONDS}, "sigma": MAX_SIGMA, "jitter": MAX_SIGMA, "scale": MAX_SCALE}
    for name, limit in bounds.items():
        if name not in cfg:
            continue
        value = cfg[name]
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise bad_value(f"{key}.{name}", value, "must be a number")
        if not math.isfinite(value) or not 0 <= value <= limit:
            raise bad_value(f"{key}.{name}", value, f"must be finite, >= 0 and <= {limit:g}")
    if "profiles" in cfg:
        profiles = cfg["profiles"]
        if not isinstance(profiles, Mapping):
            raise bad_value(f"{key}.profiles", profiles, "give a mapping of policy name -> median seconds")
        for name, value in profiles.items():
            if (
                isinstance(value, bool)
                or not isinstance(value, (int, float))
                or not math.isfinite(value)
                or not 0 <= value <= MAX_LATENCY_S
            ):
                raise bad_value(
                    f"{key}.profiles.{name}", value, f"must be a number of seconds in [0, {MAX_LATENCY_S:g}]"
                )


def make_latency(cfg: Mapping[str, Any], policy: str, key: str = "latency",
                 graphs_of: GraphsOf | None = None, run: Any = None) -> LatencySource:
    """Build the source for ``policy``: ``LATENCY_SOURCES[cfg.name]``, or the class ``cfg.target`` names
    (a source beside the core), through its ``from_config(cfg, LatencyContext)``. ``key`` is where
    ``cfg`` sits in the config (a pipeline stage's own latency), for error messages; ``graphs_of``
    gives the policy's ONNX graphs to the sources that price or match them; ``run`` is the whole
    composed config, for plug-ins that need more of it (the board)."""
    if not isinstance(cfg, Mapping):
        raise bad_value(key, cfg, f"give a latency mapping with a name ({', '.join(LATENCY_SOURCES)})")
    _check_numbers(cfg, key)
    scale = float(cfg.get("scale", 1.0))
    if not scale > 0:
        raise bad_value(f"{key}.scale", scale, "must be > 0")
    source = implementation(LATENCY_SOURCES, key, cfg).from_config(cfg, LatencyContext(policy, key, graphs_of, run))
    if hasattr(source, "scale"):
        return source  # it applies latency.scale itself (host timing, the board: a wrapper would hide what else it does)
    return source if scale == 1.0 else Scaled(source, scale)
