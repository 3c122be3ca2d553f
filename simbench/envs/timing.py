"""``env=timing``: no physics, the arm follows every executed action exactly.

For timing studies and large sweeps: the joint state is the last executed action, so the scheduler
may settle whole spans of ticks at once (``physical = False``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from simbench.envs.base import EpisodeOutcome, Observation
from simbench.errors import bad_value


class TimingEnv:
    physical = False
    has_success = False  # no task: success metrics are null

    def __init__(self, action_dim: int = 6, duration_s: float = 60.0, episodes: int = 1) -> None:
        if not duration_s > 0:
            raise bad_value("env.duration_s", duration_s, "must be > 0")
        if episodes < 1:
            raise bad_value("env.episodes", episodes, "must be >= 1")
        self.action_dim = action_dim
        self.duration_s = float(duration_s)
        self.episodes = int(episodes)
        self._state: NDArray[np.float64] = np.zeros(action_dim)

    @classmethod
    def from_config(cls, cfg: dict[str, Any]) -> TimingEnv:
        return cls(int(cfg.get("action_dim", 6)), float(cfg["duration_s"]), int(cfg.get("episodes", 1)))

    def episode_plan(self) -> list[dict[str, Any]]:
        return [{"split": "timing"} for _ in range(self.episodes)]

    def reset(self, seed: int, options: dict[str, Any] | None = None) -> None:
        self._state = np.zeros(self.action_dim)

    def joint_state(self) -> NDArray[np.float64]:
        return self._state

    def snapshot(self) -> Any:
        return self._state

    def observation(self, snapshot: Any) -> Observation:
        return {"observation.state": np.asarray(snapshot, dtype=np.float32)}

    def apply(self, action: NDArray[np.float64] | None) -> None:
        if action is not None:
            self._state = action

    def apply_span(self, actions: NDArray[np.float64], holds_after: int) -> None:
        if len(actions):
            self._state = actions[-1]

    @property
    def done(self) -> bool:
        return False

    def outcome(self) -> EpisodeOutcome:
        return EpisodeOutcome(success=False, completion_time_s=None)

    def close(self) -> None:
        pass
