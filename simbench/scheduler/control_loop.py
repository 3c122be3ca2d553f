"""The robot side: LeRobot's RobotClient control loop as a SimPy process.

The client's rules (merge, pop or stall, the trigger, must-go, the observation's stamp, the queue
state the server reads) live in :class:`simbench.scheduler.client.RobotClient`, which the
wall-clock runtime drives as well; this module only decides *when* they run in simulated time.
Each tick at ``fps``, in this order: merge every chunk that has arrived, then the tick's pop and
observation (async: while ``queue_size / actions_per_chunk <= threshold``). Sync captures before
the pop when the queue is empty and no inference is in flight; the pop then waits for chunks that
arrive at the same instant, so the first action runs at the first tick at or after its chunk.

Events at the same instant are ordered: chunk merge, then the control tick, then the server's pick
of the newest observation. The server starts an inference at the tick's nominal time, so a constant
latency that is a whole number of ticks lands exactly on a tick and is merged at that tick.

Speed: with an environment without physics, nothing observable happens between a chunk arrival and
the next arrival except popping and, once below the threshold, observations that only matter if
they are the newest when the server frees. So the loop sleeps from arrival to arrival and settles
the ticks in between as one span, evaluating the server's filter lazily on the newest candidates.
With a physical environment every tick is stepped.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator
from typing import Any

import simpy

from simbench.envs.base import SchedulerEnv
from simbench.scheduler.aggregate import Aggregator
from simbench.scheduler.client import RobotClient
from simbench.scheduler.link import TICK_TOLERANCE, Link, tick_of
from simbench.scheduler.recorder import EpisodeRecorder
from simbench.scheduler.settings import SchedulerSettings
from simbench.scheduler.timed import TimedChunk, TimedObservation

TICK_OFFSET = 1e-7
"""Ticks are processed this fraction of a tick after their nominal time, so that same-instant
arrivals are merged first whatever order SimPy scheduled them in."""


class ControlLoop:
    """Client: runs :class:`RobotClient`'s ticks in simulated time and meets the server at the Link."""

    def __init__(
        self,
        sim: simpy.Environment,
        settings: SchedulerSettings,
        env: SchedulerEnv,
        aggregate: Aggregator,
        recorder: EpisodeRecorder,
        link: Link,
    ) -> None:
        self.sim = sim
        self.s = settings
        self.env = env
        self.rec = recorder
        self.dt = settings.dt
        self.client = RobotClient(settings, env, aggregate, recorder)
        self.queue = self.client.queue
        self.link = link
        link.on_change = self._poke
        self.tick = 0
        self._wake: simpy.Event = sim.event()
        self._end_alarm = False
        self._deferred_tick: int | None = None  # sync: pop waits for a same-instant arrival
        self._bulk = not env.physical and settings.actuation_delay_ticks == 0

    # --- time helpers ------------------------------------------------------------------------
    def tick_time(self, k: int) -> float:
        return k * self.dt

    def tick_of(self, t: float) -> int:
        """First tick whose nominal time is at or after ``t`` (within float tolerance)."""
        return tick_of(t, self.dt)

    def _processing_time(self, k: int) -> float:
        return (k + TICK_OFFSET) * self.dt

    def _server_waiting(self, k: int) -> bool:
        """Was the server already free when tick k was processed? (Ticks settled late, while
        catching up to an arrival, happened before the server asked.)"""
        return self.link.request is not None and self._processing_time(k) >= self.link.request_s

    @staticmethod
    def _alarm_for(wake: simpy.Event) -> Callable[[simpy.Event], None]:
        """Timeout callback that wakes the loop only if this very sleep has not ended already."""

        def ring(_: simpy.Event) -> None:
            if not wake.triggered:
                wake.succeed()

        return ring

    def _poke(self) -> None:
        if not self._wake.triggered:
            self._wake.succeed()

    # --- the process -------------------------------------------------------------------------
    def run(self) -> Generator[simpy.Event, Any, None]:
        s = self.s
        while (self.tick < s.max_ticks or self._deferred_tick is not None) and not self.env.done:
            now = self.sim.now
            if self._deferred_tick is not None:
                self._finish_deferred_tick()
            self._advance_to(now)
            if (self.tick >= s.max_ticks and self._deferred_tick is None) or self.env.done:
                break
            if self.link.request is not None and self.link.inbox is not None and not self._tick_is_now(self.tick, now):
                self._hand(self.link.inbox, max(self.link.request_s, self.link.inbox.time_s))
            target = self._next_wake_tick()
            wake = self._wake = self.sim.event()
            if target < s.max_ticks:
                alarm = self.sim.timeout(max(0.0, self._processing_time(target) - now))
                alarm.callbacks.append(self._alarm_for(wake))
            elif not self._end_alarm:
                # One alarm for the end of the episode, shared by every sleep that waits for an arrival.
                self._end_alarm = True
                end = self.sim.timeout(max(0.0, self._processing_time(s.max_ticks) - now))
                end.callbacks.append(lambda _: self._poke())
            yield wake
        if not self.env.done and self.sim.now < self._processing_time(s.max_ticks):
            # The last tick lasts a full period: work finishing inside it is part of the episode,
            # whether the loop stepped tick by tick or slept through a span to the end.
            yield self.sim.timeout(self._processing_time(s.max_ticks) - self.sim.now)
        self.rec.finish(self.tick)

    def _tick_is_now(self, k: int, now: float) -> bool:
        """Is ``now`` the instant of tick k (so the server waits for that tick before picking)?"""
        return k - now / self.dt <= TICK_TOLERANCE

    def _next_wake_tick(self) -> int:
        """Earliest tick that needs the loop's attention if no chunk arrives before it."""
        if not self._bulk:
            return self.tick
        if self.s.mode == "sync":
            return self.tick + len(self.queue)  # the tick that finds the queue empty
        if self.link.request is not None:  # server free: a waiting observation goes right after this tick
            return self.tick if self.link.inbox is not None else self._first_trigger_tick(self.tick)
        return self.s.max_ticks  # server busy: sleep until its chunk arrives

    def _first_trigger_tick(self, k: int) -> int:
        """First tick >= k at which the post-pop queue is at or below the trigger size."""
        return k + self.client.ticks_above_trigger()

    # --- ticks -------------------------------------------------------------------------------
    def _advance_to(self, now: float) -> None:
        """Process every tick whose processing instant is at or before ``now``."""
        s = self.s
        while self.tick < s.max_ticks and self._processing_time(self.tick) <= now + 1e-12 and not self.env.done:
            k = self.tick
            self._merge_arrived(k)
            if not self._bulk:
                self._single_tick(k)
                if self._deferred_tick is not None:
                    return
                continue
            last_due = min(s.max_ticks - 1, math.floor(now / self.dt - TICK_OFFSET + 1e-9))
            end = last_due + 1
            if self.link.chunks:
                end = min(end, min(c.arrival_tick for c in self.link.chunks))
            if s.mode == "sync":
                if len(self.queue) == 0:
                    self._single_tick(k)
                    if self._deferred_tick is not None:
                        return
                    continue
                end = min(end, k + len(self.queue))
            elif self._server_waiting(k):
                trig = self._first_trigger_tick(k)
                if trig == k:
                    self._single_tick(k)
                    continue
                end = min(end, trig)
            if end <= k:
                self._single_tick(k)
                continue
            self._span(k, end - k)

    def _merge_arrived(self, k: int) -> None:
        if not self.link.chunks or min(c.arrival_tick for c in self.link.chunks) > k:
            return
        keep: list[TimedChunk] = []
        for chunk in self.link.chunks:
            if chunk.arrival_tick > k:
                keep.append(chunk)
            else:
                self.client.merge(chunk, k)
        self.link.chunks = keep

    def _single_tick(self, k: int) -> None:
        """One tick, processed on its own (physical envs, trigger ticks)."""
        self.tick = k + 1
        obs = self.client.tick(k)
        if obs is None:
            return
        if self.client.sync:
            self._deferred_tick = k  # the pop runs after the chunks arriving at this instant
        self._send(k, obs)

    def _finish_deferred_tick(self) -> None:
        """Sync: the pop of the tick that sent the observation, after same-instant arrivals."""
        k = self._deferred_tick
        assert k is not None
        self._deferred_tick = None
        self._merge_arrived(k)
        self.client.pop(k)

    def _send(self, k: int, obs: TimedObservation) -> None:
        """Offer tick k's observation to the server's one-slot queue; hand it over if the server is waiting.

        The server's filter decides (sync's observations are all must-go, which it always takes)."""
        if self.link.accepts(obs):
            self.link.inbox = obs
        if self.link.inbox is not None and self._server_waiting(k):
            self._hand(self.link.inbox, self.tick_time(k))

    def _hand(self, obs: TimedObservation, nominal_start: float) -> None:
        """Give the waiting server ``obs`` with the queue as it is now (what RTC guides toward)."""
        self.client.queue_state().stamp(obs)
        self.link.hand(obs, nominal_start)

    def _span(self, k: int, n: int) -> None:
        """Ticks k .. k+n-1 in one go: pops while the queue lasts, then stalls (no merges inside).

        The client's rules in closed form over the span (what :meth:`RobotClient.tick` does one tick
        at a time): ticks whose post-pop queue is at or below the trigger send observations."""
        self.tick = k + n
        q0 = len(self.queue)
        latest0 = self.queue.latest_executed
        first_i = self.client.ticks_above_trigger()  # ticks i >= first_i send
        n_exec = min(q0, n)
        actions, inside = self.queue.pop(n_exec)
        self.rec.span(k, q0, actions, self.queue.obs_time, inside, n - n_exec)
        prev_state = self.env.joint_state()
        self.env.apply_span(actions, n - n_exec)
        if self.client.sync or first_i >= n:
            return
        self.rec.obs_sent += n - first_i
        empty_i = max(0, q0 - 1) if q0 > 0 else 0  # first tick whose post-pop queue is empty
        must_go_i = empty_i if self.client.take_must_go(empty_i < n) else -1
        # Only the newest observation that passes the server's filter survives in its one-slot queue.
        lowest = max(first_i, must_go_i)
        for i in range(n - 1, lowest - 1, -1):
            done = min(i + 1, q0)
            state = actions[done - 1] if done > 0 else prev_state
            obs = TimedObservation(
                self.client.stamp(latest0 + done), self.tick_time(k + i), i == must_go_i, state, state
            )
            if self.link.accepts(obs):
                self.link.inbox = obs
                break
