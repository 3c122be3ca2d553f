"""Per-episode bookkeeping: metric accumulators and the timeline.

The control loop reports *spans* of ticks (execute while the queue lasts, then stall), so every
accumulator here is updated in closed form per span: a 10-hour run is a few hundred thousand spans,
not two million ticks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.float64]

# Timeline row kinds (column ``kind``).
INFERENCE = "inference"
STALL = "stall"
MERGE = "merge"


@dataclass
class TimelineRows:
    """Column lists of the timeline table (appended in simulation order)."""

    kind: list[str] = field(default_factory=list)
    name: list[str] = field(default_factory=list)
    unit: list[str] = field(default_factory=list)
    inference_id: list[int] = field(default_factory=list)
    start_s: list[float] = field(default_factory=list)
    end_s: list[float] = field(default_factory=list)
    value: list[float] = field(default_factory=list)
    value2: list[float] = field(default_factory=list)

    def add(
        self,
        kind: str,
        name: str,
        unit: str,
        inference_id: int,
        start: float,
        end: float,
        value: float = 0.0,
        value2: float = 0.0,
    ) -> None:
        self.kind.append(kind)
        self.name.append(name)
        self.unit.append(unit)
        self.inference_id.append(inference_id)
        self.start_s.append(start)
        self.end_s.append(end)
        self.value.append(value)
        self.value2.append(value2)


class EpisodeRecorder:
    """Accumulates what the metrics need, and the timeline rows for plots and parquet."""

    def __init__(self, dt: float, actuation_delay_s: float = 0.0) -> None:
        self.dt = dt
        self.actuation_delay_s = actuation_delay_s
        self.ticks = 0
        self.actions_executed = 0
        self.stall_ticks = 0
        self.startup_stall_ticks = 0
        self.stall_events = 0
        self.longest_stall_ticks = 0
        self.queue_sum = 0.0
        self.obs_sent = 0
        self.action_age_sum = 0.0
        self.boundary_jump_sum = 0.0
        self.boundary_jumps = 0
        self.within_jump_sum = 0.0
        self.within_jumps = 0
        self.merges = 0
        self.latencies: list[float] = []
        self.timeline = TimelineRows()
        self._last_action: Array | None = None
        self._merged_since_exec = False
        self._stall_start: int | None = None
        self.first_action_tick: int | None = None
        self.wall: dict[str, list[float]] = {}
        """clock=wall: per-tick and per-message wall-clock samples (simbench.hil.wallclock)."""
        self.tick_observer: Callable[[int, int, bool], None] | None = None
        """Called as (tick, queue size after the pop, stalled) for every tick (videos)."""

    # --- ticks -------------------------------------------------------------------------------
    def span(
        self, first_tick: int, queue_before: int, executed: Array, obs_time: float, inside_path: float, n_stall: int
    ) -> None:
        """Ticks ``first_tick ..``: ``len(executed)`` pops, then ``n_stall`` stalled ticks.

        ``obs_time`` is the capture time behind the executed actions; ``inside_path`` the summed
        step length between them (both from the queue, see :meth:`ActionQueue.pop`).
        """
        n_exec = len(executed)
        n = n_exec + n_stall
        self.ticks += n
        if self.tick_observer is not None:
            for i in range(n):
                self.tick_observer(first_tick + i, max(queue_before - 1 - i, 0), i >= n_exec)
        # queue size after each tick's pop: q0-1, q0-2, ..., then 0 while stalled
        q0 = queue_before
        self.queue_sum += n_exec * (q0 - 1) - n_exec * (n_exec - 1) / 2 if n_exec else 0.0
        if n_exec:
            if self._stall_start is not None:
                self._close_stall(first_tick)
            if self.first_action_tick is None:
                self.first_action_tick = first_tick
            self.actions_executed += n_exec
            exec_time_sum = (
                n_exec * (first_tick * self.dt + self.actuation_delay_s) + self.dt * n_exec * (n_exec - 1) / 2
            )
            self.action_age_sum += exec_time_sum - n_exec * obs_time
            if self._last_action is not None:
                d0 = executed[0] - self._last_action
                jump = float(np.sqrt(d0 @ d0))
                if self._merged_since_exec:
                    self.boundary_jump_sum += jump
                    self.boundary_jumps += 1
                else:
                    self.within_jump_sum += jump
                    self.within_jumps += 1
            if n_exec > 1:
                self.within_jump_sum += inside_path
                self.within_jumps += n_exec - 1
            self._last_action = executed[-1]
            self._merged_since_exec = False
        if n_stall:
            self.stall_ticks += n_stall
            if self.first_action_tick is None:
                self.startup_stall_ticks += n_stall
            if self._stall_start is None:
                self._stall_start = first_tick + n_exec
                self.stall_events += 1

    def _close_stall(self, end_tick: int) -> None:
        assert self._stall_start is not None
        length = end_tick - self._stall_start
        self.longest_stall_ticks = max(self.longest_stall_ticks, length)
        self.timeline.add(STALL, "stall", "robot", -1, self._stall_start * self.dt, end_tick * self.dt, float(length))
        self._stall_start = None

    # --- events ------------------------------------------------------------------------------
    def merge(self, time_s: float, tick: int, queue_before: int, queue_after: int, inference_id: int) -> None:
        self.merges += 1
        self._merged_since_exec = True
        self.timeline.add(
            MERGE, "merge", "robot", inference_id, time_s, tick * self.dt, float(queue_before), float(queue_after)
        )

    def stage(self, inference_id: int, name: str, unit: str, start: float, end: float) -> None:
        self.timeline.add(INFERENCE, name, unit, inference_id, start, end)

    def finish(self, end_tick: int) -> None:
        if self._stall_start is not None:
            self._close_stall(end_tick)
