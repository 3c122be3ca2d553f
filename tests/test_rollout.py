"""The ideal-timing rollout (simbench.rollout) is the scheduler's sync mode at zero latency.

Evaluation, takeover and recording run episodes through :func:`simbench.rollout.run_episode`
instead of SimPy; this checks that the two execute the same actions and end the same way, so
"ideal-timing success" means the scheduler's success with the latency taken out.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from simbench.config.options import load_option
from simbench.latency.distributions import ConstantLatency
from simbench.registry import ENVS, POLICY_RUNTIMES, resolve
from simbench.rollout import run_episode
from simbench.scheduler.episode import episode_seeds, simulate_episode
from simbench.scheduler.settings import SchedulerSettings
from tests.scheduler.helpers import conf_scheduler


class Tape:
    """Wraps an env and keeps every action it is given."""

    def __init__(self, env: Any) -> None:
        self.env = env
        self.actions: list[np.ndarray] = []

    def apply(self, action: Any) -> None:
        if action is not None:  # a held tick (a stall) executes nothing
            self.actions.append(np.array(action, dtype=np.float64, copy=True))
        self.env.apply(action)

    def apply_span(self, actions: Any, holds_after: int) -> None:
        for a in actions:
            self.apply(a)
        for _ in range(holds_after):
            self.apply(None)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.env, name)


def _both(env_name: str, env_over: dict[str, Any], policy_name: str, n_action_steps: int, seed: int = 3) -> None:
    env_cfg = {**(load_option("env", env_name) or {}), **env_over}
    env = Tape(resolve(ENVS, "env", env_name).from_config(env_cfg))
    pcfg = {**(load_option("policy", policy_name) or {}), "fps": 60.0}
    if not env_cfg.get("cameras"):
        pcfg["runtime"] = "timing"
    policy = resolve(POLICY_RUNTIMES, "policy.runtime", pcfg["runtime"]).from_config(pcfg, env)
    duration = float(env_cfg.get("duration_s", env_cfg.get("time_limit_s")))
    settings = SchedulerSettings(**{**conf_scheduler("sync"), "fps": 60.0, "actions_per_chunk": int(pcfg["actions_per_chunk"]),
                                    "action_dim": 6, "max_ticks": int(duration * 60), "n_action_steps": n_action_steps})
    env_seed, _ = episode_seeds(seed, 0)
    try:
        scheduled = simulate_episode(settings, env, policy, ConstantLatency(0.0), seed, 0, {})
        by_scheduler = list(env.actions)
        env.actions.clear()
        row = run_episode(env, policy, env_seed, {}, n_action_steps, max_ticks=settings.max_ticks)
        by_rollout = env.actions
    finally:
        env.close()
    assert scheduled.recorder.stall_events == 0
    assert len(by_rollout) == len(by_scheduler) == row["ticks"]
    np.testing.assert_array_equal(np.stack(by_rollout), np.stack(by_scheduler))
    assert row["success"] == scheduled.outcome.success


def test_rollout_equals_sync_scheduler_at_zero_latency_timing_env() -> None:
    _both("timing", {"duration_s": 5.0}, "act_int8", n_action_steps=25)


@pytest.mark.parametrize("n_action_steps", [50])
def test_rollout_equals_sync_scheduler_at_zero_latency_in_the_scene(n_action_steps: int) -> None:
    _both("teabag_mug", {"time_limit_s": 2.0}, "act_int8", n_action_steps=n_action_steps)
