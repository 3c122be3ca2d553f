"""The client's action queue, held as arrays so that spans of ticks pop in one slice.

Invariant (LeRobot's merge guarantees it): the queue holds the consecutive timesteps
``latest_executed + 1 ... latest_executed + len``, so a timestep is a position and a merge is array
arithmetic, never a dict of timesteps.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from simbench.scheduler.aggregate import Aggregator, Shift

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
    """Actions waiting to be executed, the source observation time and prediction counts."""

    def __init__(self, action_dim: int) -> None:
        self.action_dim = action_dim
        self.latest_executed = -1
        """Timestep of the last executed action; -1 before the first."""
        self._actions: Array = np.empty((0, action_dim))
        self._n_pred: NDArray[np.int64] = np.empty(0, dtype=np.int64)
        self._path: Array = np.zeros(1)
        self._pos = 0
        self._len = 0
        self.obs_time = 0.0
        """Capture time of the newest observation behind every queued action (one per rebuild)."""
        self.last_action: Array | None = None
        """The last executed action (None before the first)."""

    def __len__(self) -> int:
        return self._len - self._pos

    def pop(self, n: int) -> tuple[Array, float]:
        """Execute the next ``n`` actions (n <= len).

        Returns the actions and their summed step length sum ||a_i - a_(i-1)|| inside the slice,
        read off a prefix sum built once per merge, so a span of pops costs no per-action work.
        """
        a, b = self._pos, self._pos + n
        self._pos = b
        self.latest_executed += n
        if n:
            self.last_action = self._actions[b - 1]
        inside = float(self._path[b - 1] - self._path[a]) if n > 1 else 0.0
        return self._actions[a:b], inside

    def pending(self) -> Array:
        """A copy of the queued actions, next first (RTC's left-over prefix)."""
        return self._actions[self._pos : self._len].copy()

    def _rebuild(self, actions: Array, n_pred: NDArray[np.int64], obs_time: float) -> None:
        self._actions, self._n_pred, self._pos, self._len, self.obs_time = actions, n_pred, 0, len(actions), obs_time
        steps = actions[1:] - actions[:-1]
        self._path = np.concatenate(([0.0], np.cumsum(np.sqrt(np.einsum("ij,ij->i", steps, steps)))))

    def merge(self, chunk: Array, first_timestep: int, obs_time: float, aggregate: Aggregator) -> MergeResult:
        """Merge a chunk whose action i is stamped ``first_timestep + i`` (LeRobot semantics).

        Actions at or before the latest executed timestep are dropped, new timesteps appended and
        overlaps combined with ``aggregate(old, new, n_old)``; queued actions the chunk does not
        cover are discarded.
        """
        skip = max(0, self.latest_executed + 1 - first_timestep)
        new = np.asarray(chunk[skip:], dtype=np.float64)
        if isinstance(aggregate, Shift) and 0 < skip <= len(chunk) and self.last_action is not None:
            new = aggregate.shifted(new, self.last_action - np.asarray(chunk[skip - 1], dtype=np.float64))
        old = self._actions[self._pos :]
        overlap = min(len(old), len(new))
        n_pred = np.ones(len(new), dtype=np.int64)
        if overlap:
            new = new.copy()
            n_old = self._n_pred[self._pos : self._pos + overlap]
            new[:overlap] = aggregate(old[:overlap], new[:overlap], n_old)
            n_pred[:overlap] += n_old
        result = MergeResult(kept=len(new), overlapped=overlap, discarded=len(old) - overlap)
        self._rebuild(new, n_pred, obs_time)
        return result

    def replace(self, chunk: Array, obs_time: float) -> None:
        """Sync execution: the queue becomes exactly this chunk (its first action runs next)."""
        self._rebuild(np.asarray(chunk, dtype=np.float64), np.ones(len(chunk), dtype=np.int64), obs_time)
