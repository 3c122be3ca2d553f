"""Parametric latency distributions (``latency=constant|normal|lognormal|uniform``)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import MISSING, asdict, dataclass, fields
from typing import Any, ClassVar

import numpy as np

from simbench.errors import ConfigError, bad_value
from simbench.latency.base import SampledLatency
from simbench.latency.context import LatencyContext


class _Describe(SampledLatency):
    """``describe()`` for the parametric sources: their name and parameters, chosen by the user."""

    name: ClassVar[str] = ""

    def describe(self) -> dict[str, Any]:
        return {"kind": "distribution", "name": self.name, **asdict(self)}  # type: ignore[call-overload]

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any], ctx: LatencyContext) -> SampledLatency:
        """The distribution from its node's parameters (the dataclass fields; missing ones keep their defaults)."""
        missing = [f.name for f in fields(cls) if f.name not in cfg and f.default is MISSING]  # type: ignore[arg-type]
        if missing:
            raise ConfigError(f"{ctx.key}={cls.name} needs {', '.join(f'{ctx.key}.{m}' for m in missing)} (seconds)")
        return cls(**{f.name: float(cfg[f.name]) for f in fields(cls) if f.name in cfg})  # type: ignore[arg-type]


def _positive(key: str, value: float, allow_zero: bool = True) -> float:
    value = float(value)
    if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        raise bad_value(key, value, "must be a finite number " + (">= 0" if allow_zero else "> 0"))
    return value


@dataclass(frozen=True)
class ConstantLatency(_Describe):
    """Every inference takes ``value`` seconds."""

    name: ClassVar[str] = "constant"
    value: float

    def __post_init__(self) -> None:
        _positive("latency.value", self.value)

    def sample(self, rng: np.random.Generator) -> float:
        return self.value


@dataclass(frozen=True)
class NormalLatency(_Describe):
    """Normal(mean, std) truncated below at ``min`` (a latency is never negative)."""

    name: ClassVar[str] = "normal"
    mean: float
    std: float
    min: float = 0.0

    def __post_init__(self) -> None:
        _positive("latency.mean", self.mean)
        _positive("latency.std", self.std)
        _positive("latency.min", self.min)

    def sample(self, rng: np.random.Generator) -> float:
        return max(self.min, float(rng.normal(self.mean, self.std)))


@dataclass(frozen=True)
class LognormalLatency(_Describe):
    """exp(Normal(log median, sigma)): the right-skewed shape measured latencies usually have."""

    name: ClassVar[str] = "lognormal"
    median: float
    sigma: float

    def __post_init__(self) -> None:
        _positive("latency.median", self.median, allow_zero=False)
        _positive("latency.sigma", self.sigma)

    def sample(self, rng: np.random.Generator) -> float:
        return float(self.median * math.exp(self.sigma * rng.standard_normal()))


@dataclass(frozen=True)
class UniformLatency(_Describe):
    name: ClassVar[str] = "uniform"
    low: float
    high: float

    def __post_init__(self) -> None:
        _positive("latency.low", self.low)
        if float(self.high) < float(self.low):
            raise bad_value("latency.high", self.high, f"must be >= latency.low ({self.low})")

    def sample(self, rng: np.random.Generator) -> float:
        return float(rng.uniform(self.low, self.high))
