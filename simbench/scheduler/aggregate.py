"""How an arriving chunk combines with the actions already queued for the same timesteps.

The four LeRobot aggregate functions are fixed blends of the old and the new action. ACT's temporal
ensembling is a running weighted mean over *every* prediction made for a timestep, with weight
exp(-m i) for the i-th prediction (i = 0 the oldest, so older predictions weigh more, as in
Zhao et al. 2023). It needs to know how many predictions an action already averages, so every
aggregator takes that count (``n_old``); the fixed blends ignore it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from simbench.errors import unknown_name
from simbench.registry import target

Array = NDArray[np.float64]


@dataclass(frozen=True)
class Blend:
    """f(old, new) = old_weight * old + (1 - old_weight) * new (LeRobot's aggregate functions)."""

    old_weight: float

    def __call__(self, old: Array, new: Array, n_old: NDArray[np.int64]) -> Array:
        if self.old_weight == 0.0:
            return new.copy()
        return self.old_weight * old + (1.0 - self.old_weight) * new


@dataclass(frozen=True)
class TemporalEnsemble:
    """Running mean with weights exp(-m i), i = 0 the oldest prediction for that timestep."""

    m: float

    def weight_sum(self, n: NDArray[np.int64]) -> Array:
        """Sum of exp(-m i) for i < n, in closed form."""
        if self.m == 0.0:
            return n.astype(np.float64)
        return (1.0 - np.exp(-self.m * n)) / (1.0 - math.exp(-self.m))

    def __call__(self, old: Array, new: Array, n_old: NDArray[np.int64]) -> Array:
        s_old = self.weight_sum(n_old)[:, None]
        w_new = np.exp(-self.m * n_old.astype(np.float64))[:, None]
        return (s_old * old + w_new * new) / (s_old + w_new)


@dataclass(frozen=True)
class Shift:
    """A latency-aware shift for policies that cannot be guided (ACT): the new chunk is translated so
    that its action at the last executed timestep (where the delay put the chunk) lands on the action
    the arm actually executed there; the offset fades out linearly over ``ticks``. Then it replaces
    the queue, as ``latest_only`` does."""

    ticks: int

    def shifted(self, new: Array, offset: Array) -> Array:
        """``new`` (the chunk from the next timestep on) plus ``offset`` x (1 - i / ticks)."""
        fade = np.clip(1.0 - np.arange(1, len(new) + 1) / max(1, self.ticks), 0.0, 1.0)[:, None]
        return new + fade * offset[None, :]

    def __call__(self, old: Array, new: Array, n_old: NDArray[np.int64]) -> Array:
        return new.copy()


Aggregator = Callable[[Array, Array, NDArray[np.int64]], Array]


@dataclass(frozen=True)
class AggregateParams:
    """What an aggregate function may be parameterized by (``scheduler.*``)."""

    temporal_ensemble_m: float
    shift_ticks: int


AGGREGATORS: dict[str, Callable[[AggregateParams], Aggregator]] = {
    "weighted_average": lambda p: Blend(0.3),  # LeRobot default: 0.3 old + 0.7 new
    "latest_only": lambda p: Blend(0.0),
    "average": lambda p: Blend(0.5),
    "conservative": lambda p: Blend(0.7),
    "temporal_ensemble": lambda p: TemporalEnsemble(p.temporal_ensemble_m),
    "shift": lambda p: Shift(p.shift_ticks),
    # Real-Time Chunking: the flow policy guides the new chunk toward the queue (``policy.rtc``), which
    # it then replaces, as ``latest_only`` does: with zero guidance the two runs are the same.
    "rtc": lambda p: Blend(0.0),
}
"""``scheduler.aggregate`` -> factory. A function beside the core is named as ``package.module:factory``
(any callable taking :class:`AggregateParams` and returning an :data:`Aggregator`)."""
NAMES = tuple(AGGREGATORS)


def make_aggregator(name: str, temporal_ensemble_m: float, shift_ticks: int) -> Aggregator:
    """The aggregate function ``scheduler.aggregate`` names: a LeRobot name from :data:`AGGREGATORS` or a
    ``module:factory`` beside the core."""
    if name in AGGREGATORS:
        factory = AGGREGATORS[name]
    elif isinstance(name, str) and ":" in name:
        factory = target(name, "scheduler.aggregate")
    else:
        raise unknown_name("scheduler.aggregate", name, [*NAMES, "package.module:factory"])
    return factory(AggregateParams(temporal_ensemble_m, shift_ticks))
