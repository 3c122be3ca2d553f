"""Data that carries its time, like LeRobot's TimedObservation / TimedAction."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray


@dataclass
class TimedObservation:
    """An observation the client sent: stamped with the last executed timestep (LeRobot)."""

    timestep: int
    time_s: float
    """Simulated capture time (the tick's time)."""
    must_go: bool
    state: NDArray[np.float64]
    """Joint positions at capture, for the server's similarity filter."""
    snapshot: Any
    """Env handle rendered into the policy input only if the server takes this observation."""
    executed: NDArray[np.float64] | None = None
    """Async, set when the server takes it: the last executed action then (None before the first)."""
    executed_timestep: int = -1
    leftover: NDArray[np.float64] | None = None
    """Async, set when the server takes it: the actions queued then, next first."""


@dataclass
class TimedChunk:
    """A chunk on its way back: action i is stamped ``first_timestep + i``."""

    actions: NDArray[np.float64]
    first_timestep: int
    obs_time_s: float
    arrival_s: float
    arrival_tick: int
    inference_id: int
