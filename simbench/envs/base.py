"""The contract between the scheduler and an environment.

The scheduler owns time. Each control tick it either applies one action or holds (a stall), and when
the client triggers an observation it asks the environment for a cheap *snapshot* of the state at
that tick. Images are rendered only when the policy actually consumes that observation
(``observation(snapshot)``), because most triggered observations are replaced by newer ones before
the server takes them (LeRobot keeps only the newest) and rendering dominates the cost of a step.

An environment without physics (``physical = False``) lets the scheduler advance over spans of
ticks in one call (``apply_span``); a physical one is stepped tick by tick.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

CONTROL_HZ = 60
"""The control rate (ticks per second) of the scene, the recorder and the policies unless a config says
otherwise (``scheduler.fps``, ``env.control_hz``): one name for it, ``control_hz``, in code."""



def control_hz(env: Any, default: float = CONTROL_HZ) -> float:
    """The env's control rate: its ``control_hz`` when it states one, else ``default``."""
    value = getattr(env, "control_hz", None)
    return (
        float(value)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0
        else float(default)
    )


Observation = dict[str, Any]
"""A policy input, keyed like LeRobot: ``observation.state`` (float32 joints) and
``observation.images.<camera>`` (uint8 H x W x 3)."""


@dataclass
class EpisodeOutcome:
    """What an environment reports about an episode when the scheduler stops it."""

    success: bool = False
    completion_time_s: float | None = None
    """Simulated time at which the task was first completed (None if it never was)."""
    extra: dict[str, float] = field(default_factory=dict)


@runtime_checkable
class SchedulerEnv(Protocol):
    """What the scheduler needs from an environment."""

    action_dim: int
    physical: bool
    """False: ticks have no side effects beyond the action itself, so spans may be skipped."""

    def reset(self, seed: int, options: dict[str, Any] | None = None) -> None:
        """Start an episode; the scheduler then calls ``apply`` once per control tick."""

    def joint_state(self) -> NDArray[np.float64]:
        """Current joint positions (cheap; used by the similarity filter)."""

    def snapshot(self) -> Any:
        """A cheap handle on the current state, turned into an observation only if consumed."""

    def observation(self, snapshot: Any) -> Observation:
        """The policy input for a snapshot (renders camera images if the env has cameras)."""

    def apply(self, action: NDArray[np.float64] | None) -> None:
        """Advance one control tick; ``None`` means no new action arrived (the arm holds)."""

    def apply_span(self, actions: NDArray[np.float64], holds_after: int) -> None:
        """Advance ``len(actions)`` ticks executing ``actions``, then ``holds_after`` held ticks.

        Only called when ``physical`` is False; physical envs may implement it as a loop.
        """

    @property
    def done(self) -> bool:
        """True once the episode is over (success held, failure, or time limit)."""

    def outcome(self) -> EpisodeOutcome:
        """Success and completion time of the current episode."""

    def episode_plan(self) -> list[dict[str, Any]]:
        """Reset options of every episode in this env's evaluation protocol, in order.

        Each dict is passed to ``reset(seed, options)``; a ``split`` key (for example ``test`` or
        ``val``) groups episodes in the reports.
        """

    def close(self) -> None:
        """Release renderers and other resources."""
