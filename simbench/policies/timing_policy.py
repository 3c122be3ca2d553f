"""``runtime: timing``: chunks of the right shape without a network, for timing-only studies.

The "plan" is a smooth reference trajectory (a sum of slow sinusoids per joint); a chunk predicted from the observation
at timestep t is that trajectory from t on, plus a prediction error that grows along the chunk (a random offset ramped
in over the chunk). So chunk boundaries show real discontinuities that the aggregate functions smooth, and the jump
metrics mean something, while the cost per call stays microseconds.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from simbench.envs.base import CONTROL_HZ
from simbench.policies.request import PolicyRequest


class TimingPolicy:
    def __init__(
        self, name: str, actions_per_chunk: int, action_dim: int, control_hz: float = CONTROL_HZ, drift: float = 0.002
    ) -> None:
        self.name = name
        self.actions_per_chunk = actions_per_chunk
        self.action_dim = action_dim
        self.control_hz = control_hz
        self.drift = drift
        self._rng = np.random.default_rng(0)
        self._freq = np.linspace(0.05, 0.2, action_dim)  # Hz: slow, arm-like motions
        self._phase = np.zeros(action_dim)
        # sin(w (t0 + s) + phi) = sin(w t0 + phi) cos(w s) + cos(w t0 + phi) sin(w s): the (H, D) tables
        # are fixed, so a chunk costs two multiplies instead of H x D sines.
        omega_s = 2 * np.pi * self._freq * np.arange(actions_per_chunk)[:, None] / control_hz
        self._cos_table, self._sin_table = np.cos(omega_s), np.sin(omega_s)
        self._ramp = np.linspace(0.0, 1.0, actions_per_chunk)[:, None] * np.sqrt(actions_per_chunk)

    @classmethod
    def from_config(cls, cfg: dict[str, Any], env: Any) -> TimingPolicy:
        return cls(
            str(cfg["name"]), int(cfg["actions_per_chunk"]), int(cfg["action_dim"]), float(cfg.get("fps", CONTROL_HZ))
        )

    def reset(self, seed: int) -> None:
        self._rng = np.random.default_rng(seed)
        self._phase = self._rng.uniform(0, 2 * np.pi, self.action_dim)

    def predict_chunk(self, request: PolicyRequest) -> NDArray[np.float64]:
        t0 = request.timestep
        angle = 2 * np.pi * self._freq * t0 / self.control_hz + self._phase
        plan = np.sin(angle) * self._cos_table + np.cos(angle) * self._sin_table
        error = self._ramp * self._rng.normal(0.0, self.drift, self.action_dim)
        return 0.5 * plan + error
