"""One request per chunk, the same for every policy: what the observation is and what the client
still has queued (LeRobot's RTC inputs: ``prev_chunk_left_over`` and ``inference_delay``).

The DES, the wall-clock runtime and the board path build it the same way; a policy uses what it
needs (ACT only the observation; SmolVLA with RTC the left-over actions and the delay).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from simbench.envs.base import Observation

Array = NDArray[np.float64]


def _no_actions() -> Array:
    return np.empty((0, 0))


@dataclass(frozen=True)
class PolicyRequest:
    """Chunk action i answers timestep ``timestep + i`` (LeRobot's stamping).

    The queue part is read when the server takes the observation (LeRobot's RTC reads the left-over
    when the inference starts): a chunk may have been merged since the observation was captured.
    """

    observation: Observation
    timestep: int = 0
    """The observation's timestep: the last executed one (async) or the next one (sync)."""
    executed: Array | None = None
    """Async: the last executed action when the server took the observation (None if none yet)."""
    executed_timestep: int = -1
    """Its timestep (>= ``timestep``)."""
    leftover: Array = field(default_factory=_no_actions)
    """Actions queued then, not yet executed: timesteps ``executed_timestep + 1, ...``."""
    delay_ticks: int = 0
    """Control ticks the client expects to execute from ``leftover`` before this chunk arrives."""

    @property
    def prefix_start(self) -> int:
        """The chunk position of ``prefix[0]``."""
        return self.executed_timestep - self.timestep + (0 if self.executed is not None else 1)

    @property
    def prefix(self) -> Array:
        """What the new chunk should agree with from position ``prefix_start``: ``executed`` then ``leftover``."""
        if self.executed is None:
            return self.leftover
        if len(self.leftover) == 0:
            return np.asarray(self.executed, np.float64)[None, :]
        return np.concatenate([np.asarray(self.executed, np.float64)[None, :], self.leftover])


class DelayEstimate:
    """LeRobot's latency tracker: the delay expected for the next chunk is the largest of the last
    ``window`` inference latencies, in control ticks (rounded up)."""

    def __init__(self, dt: float, window: int = 10) -> None:
        self.dt = dt
        self._recent: deque[float] = deque(maxlen=max(1, window))

    def add(self, latency_s: float) -> None:
        self._recent.append(float(latency_s))

    def ticks(self) -> int:
        if not self._recent:
            return 0
        return max(0, math.ceil(max(self._recent) / self.dt - 1e-9))
