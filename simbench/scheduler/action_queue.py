"""The client's action queue, held as arrays so that spans of ticks pop in one slice.

Invariant (LeRobot's merge guarantees it): the queue holds the consecutive timesteps
``latest_executed + 1 ... latest_executed + len``, so a timestep is a position and a merge is array
arithmetic, never a dict of timesteps.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from simbench.scheduler.aggregate import Aggregator

Array = NDArray[np.float64]


@dataclass
class MergeResult:
    """What one chunk arrival did to the queue."""

    kept: int
    """Actions of the chunk that were not already executed."""
    overlapped: int
    """Queued actions combined with the new chunk by the aggregate function."""
    discarded: int
    """Queued actions beyond the new chunk's horizon, dropped (the queue is rebuilt from the chunk)."""


class ActionQueue:
    """Actions waiting to be executed, with the data each carries (source observation time)."""

    def __init__(self, action_dim: int) -> None:
        self.action_dim = action_dim
        self.latest_executed = -1
        """Timestep of the last executed action; -1 before the first."""
        self._actions: Array = np.empty((0, action_dim))
        self._obs_time: Array = np.empty(0)
        self._n_pred: NDArray[np.int64] = np.empty(0, dtype=np.int64)
        self._pos = 0

    def __len__(self) -> int:
        return len(self._obs_time) - self._pos

    def pop(self, n: int) -> tuple[Array, Array]:
        """Execute the next ``n`` actions (n <= len): returns (actions, source observation times)."""
        a, b = self._pos, self._pos + n
        self._pos = b
        self.latest_executed += n
        return self._actions[a:b], self._obs_time[a:b]

    def merge(self, chunk: Array, first_timestep: int, obs_time: float, aggregate: Aggregator) -> MergeResult:
        """Merge a chunk whose action i is stamped ``first_timestep + i`` (LeRobot semantics).

        Actions at or before the latest executed timestep are dropped, new timesteps appended and
        overlaps combined with ``aggregate(old, new, n_old)``; queued actions the chunk does not
        cover are discarded.
        """
        skip = max(0, self.latest_executed + 1 - first_timestep)
        new = np.asarray(chunk[skip:], dtype=np.float64)
        old = self._actions[self._pos :]
        overlap = min(len(old), len(new))
        n_pred = np.ones(len(new), dtype=np.int64)
        obs_times = np.full(len(new), obs_time)
        if overlap:
            new = new.copy()
            n_old = self._n_pred[self._pos : self._pos + overlap]
            new[:overlap] = aggregate(old[:overlap], new[:overlap], n_old)
            n_pred[:overlap] += n_old
        result = MergeResult(kept=len(new), overlapped=overlap, discarded=len(old) - overlap)
        self._actions, self._obs_time, self._n_pred, self._pos = new, obs_times, n_pred, 0
        return result

    def replace(self, chunk: Array, obs_time: float) -> None:
        """Sync execution: the queue becomes exactly this chunk (its first action runs next)."""
        self._actions = np.asarray(chunk, dtype=np.float64)
        self._obs_time = np.full(len(chunk), obs_time)
        self._n_pred = np.ones(len(chunk), dtype=np.int64)
        self._pos = 0
