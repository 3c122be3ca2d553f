"""The client's rules, tick by tick: LeRobot's RobotClient without a clock.

One :class:`RobotClient` owns the action queue, the actuator, the aggregate function and the
must-go event, and reports every merge, pop and observation to the episode's recorder. Both
runtimes drive it and keep only their own timing:

- the DES (:mod:`simbench.scheduler.control_loop`) calls it from SimPy events, and settles the ticks
  between two arrivals in bulk with the closed forms it exposes (:meth:`RobotClient.ticks_above_trigger`,
  :meth:`RobotClient.take_must_go`, :meth:`RobotClient.stamp`);
- the wall-clock runtime (``simbench.hil.wallclock``) calls it from its control thread at real
  deadlines and hands its observations to a server thread.

Per tick, in this order (the runtime calls each step):

1. :meth:`RobotClient.merge` every chunk that has arrived (LeRobot's ``_aggregate_action_queues``):
   async merges with the aggregate function and sets the must-go event; sync replaces the queue with
   the chunk's first ``n_action_steps`` actions;
2. :meth:`RobotClient.tick`: async pops one action (or stalls) and, while
   ``len(queue) <= trigger_queue_size``, captures an observation stamped with the latest executed
   timestep, ``must_go`` when the event is set and the queue is empty (the event is then cleared).
   Sync captures (always must-go) before the pop when the queue is empty and no inference is in
   flight, and the runtime pops with :meth:`RobotClient.pop` once same-instant arrivals are merged.

Which observation enters the server's one-slot queue is the server's filter
(:class:`simbench.scheduler.observation_filter.ObservationFilter`, behind the DES's Link or the
wall runtime's lock). When the server takes one, it reads :meth:`RobotClient.queue_state` (the
executed action, its timestep and the left-over queue: RTC's inputs).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from simbench.envs.base import SchedulerEnv
from simbench.scheduler.action_queue import ActionQueue
from simbench.scheduler.actuator import Actuator
from simbench.scheduler.aggregate import Aggregator
from simbench.scheduler.recorder import EpisodeRecorder
from simbench.scheduler.settings import SchedulerSettings
from simbench.scheduler.timed import TimedChunk, TimedObservation

Array = NDArray[np.float64]


@dataclass(frozen=True)
class QueueState:
    """The client's queue as the server finds it when it takes an observation (what RTC guides toward)."""

    executed: Array | None
    """The last executed action (None before the first)."""
    executed_timestep: int
    leftover: Array | None
    """The queued actions, next first (None: sync, which hands the server no queue)."""

    def stamp(self, obs: TimedObservation) -> None:
        """Write this state onto the observation the server takes."""
        obs.executed, obs.executed_timestep, obs.leftover = self.executed, self.executed_timestep, self.leftover


NO_QUEUE = QueueState(None, -1, None)
"""Sync: the server predicts from scratch (the observation's defaults)."""


class RobotClient:
    """The client's per-tick decisions: merging chunks, executing a tick, when and what to send."""

    def __init__(
        self, settings: SchedulerSettings, env: SchedulerEnv, aggregate: Aggregator, recorder: EpisodeRecorder
    ) -> None:
        self.s = settings
        self.sync = settings.mode == "sync"
        self.env = env
        self.aggregate = aggregate
        self.rec = recorder
        self.dt = settings.dt
        self.trigger_q = settings.trigger_queue_size
        self.queue = ActionQueue(settings.action_dim)
        self.actuator = Actuator(self.queue, recorder, env, settings.actuation_delay_ticks)
        self.must_go = True
        """Async: set by every merge; the next observation sent with an empty queue is must-go."""
        self.in_flight = False
        """Sync: an observation was sent and its chunk has not been merged yet."""

    # --- arrivals ------------------------------------------------------------------------------
    def merge(self, chunk: TimedChunk, k: int) -> None:
        """Merge a chunk that arrived by tick ``k`` into the queue."""
        before = len(self.queue)
        if self.sync:
            self.queue.replace(chunk.actions[: self.s.n_action_steps], chunk.obs_time_s)
            self.in_flight = False
        else:
            self.queue.merge(chunk.actions, chunk.first_timestep, chunk.obs_time_s, self.aggregate)
            self.must_go = True
        self.rec.merge(chunk.arrival_s, k, before, len(self.queue), chunk.inference_id)

    # --- ticks ---------------------------------------------------------------------------------
    def tick(self, k: int) -> TimedObservation | None:
        """Tick ``k`` after its merges: the observation it sends, or None.

        Sync: an observation returned was captured *before* the pop, which has not happened yet:
        the runtime calls :meth:`pop` for tick ``k`` once the chunks arriving at that instant are merged.
        """
        if self.sync:
            if len(self.queue) == 0 and not self.in_flight:
                self.in_flight = True
                return self.capture(k, must_go=True)
            self.actuator.tick(k)
            return None
        self.actuator.tick(k)
        if len(self.queue) > self.trigger_q:
            return None
        return self.capture(k, self.take_must_go(len(self.queue) == 0))

    def pop(self, k: int) -> None:
        """Sync: the pop of a tick that sent its observation (see :meth:`tick`)."""
        self.actuator.tick(k)

    def capture(self, k: int, must_go: bool) -> TimedObservation:
        """The observation sent at tick ``k``, stamped from the queue (counted as sent)."""
        self.rec.obs_sent += 1
        return TimedObservation(
            self.stamp(self.queue.latest_executed),
            k * self.dt,
            must_go,
            self.env.joint_state(),
            self.env.snapshot(),
        )

    # --- the rules, as the DES's bulk path also needs them ---------------------------------------
    def stamp(self, latest_executed: int) -> int:
        """The timestep an observation carries. Async stamps the latest executed timestep (LeRobot:
        the chunk's first action already ran); sync executes the chunk from its first action, so that
        action is the next timestep."""
        return latest_executed + 1 if self.sync else max(latest_executed, 0)

    def take_must_go(self, empty: bool) -> bool:
        """Is an observation sent with the queue ``empty`` or not must-go? Only with the event set and
        the queue empty; that clears the event."""
        if self.must_go and empty:
            self.must_go = False
            return True
        return False

    def ticks_above_trigger(self) -> int:
        """Async: ticks from now whose post-pop queue stays above the trigger size (they send nothing)."""
        return max(0, len(self.queue) - 1 - self.trigger_q)

    # --- what the server reads -------------------------------------------------------------------
    def queue_state(self) -> QueueState:
        """The queue as it is now, for the observation the server takes (async; sync hands none)."""
        if self.sync:
            return NO_QUEUE
        return QueueState(self.queue.last_action, self.queue.latest_executed, self.queue.pending())


__all__ = ["NO_QUEUE", "QueueState", "RobotClient"]
