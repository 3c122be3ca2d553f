"""``policy.runtime=scripted``: the scripted expert as a chunk policy the scheduler can time.

It reads the ``privileged.*`` entries of the observation the server took (true tea-bag and mug poses at that tick) and
plays the expert forward on its own kinematic model, returning the next ``actions_per_chunk`` joint targets. While
rolling a chunk out it predicts the world the simple way (a grasped bag moves with the pinch point, a released one lands
in the mug); the next observation corrects it. It remembers its plan at every tick of the last chunk and rewinds to the
observation's tick before planning again, so under latency it behaves like any chunking policy: chunks computed from
stale observations, executed open loop until the next arrives. Its success rate out of ``python -m simbench run
+policy=scripted env=teabag_mug`` is the ceiling learned policies are compared with.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from simbench.envs.base import CONTROL_HZ
from simbench.errors import ConfigError
from simbench.expert.expert import SceneState, ScriptedExpert
from simbench.policies.request import PolicyRequest


class ScriptedPolicy:
    def __init__(
        self, env: Any, actions_per_chunk: int = 100, action_dim: int = 6, control_hz: float = CONTROL_HZ
    ) -> None:
        inner = getattr(env, "env", env)
        if not hasattr(inner, "model"):
            raise ConfigError("policy runtime 'scripted' needs a MuJoCo env; use env=teabag_mug")
        self.name = "scripted"
        self.actions_per_chunk = int(actions_per_chunk)
        self.action_dim = int(action_dim)
        self.dt = 1.0 / control_hz
        self.expert = ScriptedExpert(inner.model)
        self._started = False
        self._seed = 0
        self._plans: dict[int, dict[str, object]] = {}

    @classmethod
    def from_config(cls, cfg: dict[str, Any], env: Any) -> ScriptedPolicy:
        hz = float(getattr(env, "control_hz", CONTROL_HZ))
        return cls(env, int(cfg.get("actions_per_chunk", 100)), int(cfg.get("action_dim", 6)), hz)

    def reset(self, seed: int) -> None:
        self._seed = int(seed)
        self._started = False
        self._plans = {}

    def predict_chunk(self, request: PolicyRequest) -> NDArray[np.float64]:
        observation = request.observation
        state = SceneState(
            qpos=np.asarray(observation["privileged.qpos"], dtype=float),
            pouch_pos=np.asarray(observation["privileged.pouch_pos"], dtype=float),
            pouch_yaw=float(observation["privileged.pouch_yaw"]),
            mug_pos=np.asarray(observation["privileged.mug_pos"], dtype=float),
            time_s=float(observation["privileged.time_s"]),
        )
        t0 = float(observation["privileged.time_s"])
        tick0 = int(round(t0 / self.dt))
        if not self._started:
            holding = bool(np.linalg.norm(state.pouch_pos - self.expert.ik.forward(state.qpos[:5])[0]) < 0.02)
            self.expert.reset(np.random.default_rng([self._seed, 7]), state, holding=holding)
            self._started = True
        elif tick0 in self._plans:
            self.expert.set_plan(self._plans[tick0])
        self._plans = {}
        chunk = np.empty((self.actions_per_chunk, self.action_dim))
        for i in range(self.actions_per_chunk):
            state.time_s = t0 + i * self.dt
            self._plans[tick0 + i] = self.expert.get_plan()
            chunk[i] = self.expert.act(state)
            # Predict the world for the rest of the chunk: the arm follows, a grasped bag follows
            # the pinch point, a released one ends up in the mug.
            state.qpos = chunk[i].copy()
            phase = self.expert.phase.value
            if phase in ("lift", "carry"):
                state.pouch_pos = self.expert.pinch() - np.array([0.0, 0.0, 0.009])
            elif phase in ("release", "retreat", "done"):
                state.pouch_pos = state.mug_pos + np.array([0.0, 0.0, 0.015])
        return chunk
