"""The policy server's acceptance filter for its one-slot observation queue (LeRobot's sanity checks).

Shared by the DES server (:mod:`simbench.scheduler.policy_server`) and the wall-clock runtime
(:mod:`simbench.hil.wallclock`), so both accept exactly the same observations: a ``must_go``
observation always enters; otherwise one whose timestep was already predicted from, or whose joint
state is within ``similarity_eps`` of the last processed observation's, is dropped.
"""

from __future__ import annotations

import numpy as np

from simbench.scheduler.timed import TimedObservation


class ObservationFilter:
    """What the server has processed so far, and whether a new observation gets in."""

    def __init__(self, similarity_eps: float | None) -> None:
        self.similarity_eps = similarity_eps
        self.last_processed: TimedObservation | None = None
        self.predicted: set[int] = set()

    def accepts(self, obs: TimedObservation) -> bool:
        if obs.must_go or self.last_processed is None:
            return True
        if obs.timestep in self.predicted:
            return False
        eps = self.similarity_eps
        if eps is not None and float(np.linalg.norm(obs.state - self.last_processed.state)) < eps:
            return False
        return True

    def processed(self, obs: TimedObservation) -> None:
        """The server took ``obs`` for an inference."""
        self.last_processed = obs
        self.predicted.add(obs.timestep)
