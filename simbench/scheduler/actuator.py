"""The robot's side of a tick: pop the next action (or record a stall) and apply it after the actuation delay.

Part of :class:`simbench.scheduler.client.RobotClient`, so the simulated control loop and the wall-clock
runtime execute and record a tick alike.
"""

from __future__ import annotations

from collections import deque

import numpy as np
from numpy.typing import NDArray

from simbench.envs.base import SchedulerEnv
from simbench.scheduler.action_queue import ActionQueue
from simbench.scheduler.recorder import EpisodeRecorder


class Actuator:
    """Executes one tick from ``queue``; an action reaches the env ``delay_ticks`` ticks after its pop."""

    def __init__(self, queue: ActionQueue, recorder: EpisodeRecorder, env: SchedulerEnv, delay_ticks: int) -> None:
        self.queue = queue
        self.rec = recorder
        self.env = env
        self.delay_ticks = delay_ticks
        self._in_flight: deque[NDArray[np.float64] | None] = deque()

    def tick(self, k: int) -> None:
        q0 = len(self.queue)
        if q0:
            actions, _ = self.queue.pop(1)
            self.rec.span(k, q0, actions, self.queue.obs_time, 0.0, 0)
            action: NDArray[np.float64] | None = actions[0]
        else:
            self.rec.span(k, 0, self.queue.pop(0)[0], 0.0, 0.0, 1)
            action = None
        if self.delay_ticks:
            self._in_flight.append(action)
            action = self._in_flight.popleft() if len(self._in_flight) > self.delay_ticks else None
        self.env.apply(action)
