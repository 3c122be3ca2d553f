"""The seam between the control loop (client) and the policy server: what the two hold in common.

It holds the server's one-slot observation mailbox with LeRobot's acceptance filter and the inbox
of chunks on their way back. Neither side knows the other: the client puts observations in and
takes chunks out, the server asks for an observation and delivers chunks. A network tether is this
object with transport in between (``scheduler.clock=wall`` runs the same semantics over the board
protocol).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import simpy
from numpy.typing import NDArray

from simbench.scheduler.observation_filter import ObservationFilter
from simbench.scheduler.timed import TimedChunk, TimedObservation

TICK_TOLERANCE = 1e-5
"""Arrivals within this fraction of a tick before a tick count as at that tick (float noise)."""


def tick_of(t: float, dt: float) -> int:
    """First tick whose nominal time is at or after ``t`` (within float tolerance)."""
    return max(0, math.ceil(t / dt - TICK_TOLERANCE))


class Link:
    """Observation mailbox (with its filter) and chunk inbox, shared by client and server."""

    def __init__(self, sim: simpy.Environment, dt: float, similarity_eps: float | None) -> None:
        self.sim = sim
        self.dt = dt
        self.filter = ObservationFilter(similarity_eps)
        self.inbox: TimedObservation | None = None
        """The newest accepted observation the server has not taken yet (the one-slot queue)."""
        self.request: simpy.Event | None = None
        """Set while the server is free and waits for an observation."""
        self.request_s = 0.0
        self.chunks: list[TimedChunk] = []
        """Chunks that arrived and are not merged yet."""
        self.on_change: Callable[[], None] = lambda: None
        """The client's wake-up: called when a chunk arrives or the server asks."""

    # --- server side --------------------------------------------------------------------------
    def request_observation(self) -> simpy.Event:
        """The server is free: the returned event yields ``(observation, nominal_start_s)``."""
        self.request = self.sim.event()
        self.request_s = self.sim.now
        self.on_change()
        return self.request

    def deliver(self, chunk: NDArray[np.float64], first_timestep: int, obs_time_s: float, inference_id: int) -> None:
        """A chunk arrives now."""
        now = self.sim.now
        self.chunks.append(TimedChunk(chunk, first_timestep, obs_time_s, now, tick_of(now, self.dt), inference_id))
        self.on_change()

    # --- client side --------------------------------------------------------------------------
    def accepts(self, obs: TimedObservation) -> bool:
        """Would this observation enter the server's one-slot queue? (LeRobot's sanity checks)"""
        return self.filter.accepts(obs)

    def hand(self, obs: TimedObservation, nominal_start: float) -> None:
        """Give the waiting server this observation, to start at ``nominal_start``."""
        assert self.request is not None
        request, self.request, self.inbox = self.request, None, None
        request.succeed((obs, nominal_start))
