"""Board profiles from published measurements (``latency=imx95``).

The profile maps a policy name (``act_int8``...) to the median seconds per inference measured on the
board, and adds lognormal jitter around it. The numbers live in ``conf/latency/imx95.yaml`` with
their source; this module only knows how to sample them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from simbench.errors import unknown_name
from simbench.latency.distributions import LognormalLatency


@dataclass(frozen=True)
class DeviceProfileLatency:
    """Lognormal around a per-policy published median."""

    median: float
    jitter: float

    @classmethod
    def for_policy(cls, profiles: Mapping[str, float], policy: str, jitter: float, profile_key: str = "latency") -> DeviceProfileLatency:
        if policy not in profiles:
            raise unknown_name(f"{profile_key}.profiles (policy)", policy, profiles)
        return cls(float(profiles[policy]), float(jitter))

    def __post_init__(self) -> None:
        if self.median != 0.0:  # 0 s: a policy with nothing to run on the board (scripted expert)
            LognormalLatency(self.median, self.jitter)  # same validation

    def sample(self, rng: np.random.Generator) -> float:
        if self.jitter == 0.0 or self.median == 0.0:
            return self.median
        return float(self.median * np.exp(self.jitter * rng.standard_normal()))
