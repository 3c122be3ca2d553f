"""Perturbations of the expert's executed servo targets while its clean targets are recorded (DART).

A policy trained only on the expert's own trajectories never sees a state off them, so the small
errors of a learned policy compound into states it has no label for (covariate shift; Laskey et
al., "DART: Noise Injection for Robust Imitation Learning", 2017). Recording with the executed
targets perturbed, and the expert's unperturbed targets as the labels, puts the demonstrations in
the neighbourhood of the nominal path, labelled with the way back to it; missed grasps caused by the
perturbation are retried by the expert, so the data also holds retries.

The perturbation is an Ornstein-Uhlenbeck offset per arm joint: a servo tracks its target within a
few ticks, so white noise at 60 Hz would be filtered away, while an offset correlated over
``tau_s`` moves the arm the way a policy's drift does. The jaw is not perturbed (its errors are
drops, which the scene's recovery starts already cover).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from simbench.errors import bad_value


@dataclass(frozen=True)
class ActionNoiseConfig:
    """``conf/record.yaml: action_noise``."""

    share: float = 0.0
    """Share of the episodes recorded with perturbed execution (0: none)."""
    std_rad: float = 0.03
    """Stationary standard deviation of each arm joint's offset."""
    tau_s: float = 0.3
    """Correlation time of the offset."""

    def __post_init__(self) -> None:
        if not 0.0 <= self.share <= 1.0:
            raise bad_value("action_noise.share", self.share, "must be in [0, 1]")
        if not self.std_rad >= 0.0:
            raise bad_value("action_noise.std_rad", self.std_rad, "must be >= 0 (radians)")
        if not self.tau_s > 0.0:
            raise bad_value("action_noise.tau_s", self.tau_s, "must be > 0 (seconds)")

    def perturbs(self, index: int) -> bool:
        """Whether the ``index``-th episode of a cluster's slots is perturbed: spread evenly, so
        every cluster and start kind gets its share (index i is perturbed when floor((i+1) s) >
        floor(i s))."""
        return int((index + 1) * self.share) > int(index * self.share)


class OUActionNoise:
    """Exact discretisation of an Ornstein-Uhlenbeck process, started from its stationary law:
    ``x[k+1] = a x[k] + sqrt(1 - a^2) std eps``, ``a = exp(-dt / tau)``; so every ``x[k]`` has
    standard deviation ``std`` and lag-k correlation ``a^k``."""

    def __init__(self, rng: np.random.Generator, dim: int, std: float, tau_s: float, dt_s: float) -> None:
        self._rng = rng
        self._a = float(np.exp(-dt_s / tau_s))
        self._std = float(std)
        self._x = rng.normal(0.0, self._std, dim)

    @property
    def value(self) -> NDArray[np.float64]:
        return self._x.copy()

    def step(self) -> NDArray[np.float64]:
        """The offset for this tick; advances the process."""
        out = self._x.copy()
        eps = self._rng.normal(0.0, 1.0, self._x.shape)
        self._x = self._a * self._x + np.sqrt(1.0 - self._a**2) * self._std * eps
        return out
