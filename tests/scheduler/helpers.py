"""Test doubles at the scheduler's boundary: a policy whose actions are their own timesteps and a
tick-by-tick variant of the timing env (the reference the span-advancing fast path must match)."""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from simbench.envs.timing import TimingEnv
from simbench.latency.base import LatencySource
from simbench.latency.distributions import ConstantLatency
from simbench.policies.request import PolicyRequest
from simbench.scheduler.episode import EpisodeResult, simulate_episode
from simbench.scheduler.link import tick_of
from simbench.scheduler.recorder import MERGE, EpisodeRecorder
from simbench.scheduler.settings import SchedulerSettings, Stage


class TimestepPolicy:
    """Action i of a chunk from an observation at timestep t is (t + i) in every joint.

    Any aggregate of two predictions of the same timestep returns that timestep, so the executed
    values *are* the executed timesteps: the invariants can be read off the env.
    """

    name = "timestep"

    def __init__(self, actions_per_chunk: int, action_dim: int = 2) -> None:
        self.actions_per_chunk = actions_per_chunk
        self.action_dim = action_dim

    def reset(self, seed: int) -> None:
        pass

    def predict_chunk(self, request: PolicyRequest) -> np.ndarray:
        t = request.timestep
        return np.repeat((t + np.arange(self.actions_per_chunk, dtype=np.float64))[:, None], self.action_dim, axis=1)


class RecordingEnv(TimingEnv):
    """Timing env that records every executed action; ``physical`` picks tick-by-tick stepping."""

    def __init__(self, action_dim: int, physical: bool) -> None:
        super().__init__(action_dim, 1.0)
        self.physical = physical
        self.executed: list[np.ndarray] = []
        self.holds = 0

    def apply(self, action: np.ndarray | None) -> None:
        super().apply(action)
        if action is None:
            self.holds += 1
        else:
            self.executed.append(np.array(action))

    def apply_span(self, actions: np.ndarray, holds_after: int) -> None:
        super().apply_span(actions, holds_after)
        self.executed.extend(np.array(a) for a in actions)
        self.holds += holds_after


class TickEnv(RecordingEnv):
    """Steps tick by tick and records what each tick applied, stalls (None) included."""

    def __init__(self, action_dim: int) -> None:
        super().__init__(action_dim, physical=True)
        self.applied: list[float | None] = []

    def apply(self, action: np.ndarray | None) -> None:
        super().apply(action)
        self.applied.append(None if action is None else float(action[0]))


def merges(rec: EpisodeRecorder) -> list[tuple[int, float, float, int]]:
    """(tick, queue before, queue after, inference) of every merge in the timeline."""
    t = rec.timeline
    return [
        (tick_of(t.end_s[i], rec.dt), t.value[i], t.value2[i], t.inference_id[i])
        for i in range(len(t.kind))
        if t.kind[i] == MERGE
    ]


def settings(
    mode: str = "async", fps: float = 60.0, H: int = 100, seconds: float = 60.0, **kw: Any
) -> SchedulerSettings:
    """conf/scheduler/<mode>.yaml's settings (their one home) with the test's sizes and ``kw`` on top."""
    stages = kw.pop("stages", (Stage("model", "cpu", 1.0),))
    return SchedulerSettings(**{
        **conf_scheduler(mode), "fps": fps, "actions_per_chunk": H, "action_dim": 2,
        "max_ticks": int(round(seconds * fps)), "n_action_steps": 100, "stages": stages, **kw,
    })


@functools.cache
def conf_scheduler(mode: str) -> dict[str, Any]:
    """``SchedulerSettings`` keywords from ``conf/scheduler/<mode>.yaml``, as a run builds them (read
    once per process; callers copy it)."""
    from simbench.config.build import scheduler_keys
    from simbench.config.options import load_option

    node = load_option("scheduler", mode)
    assert node is not None
    return scheduler_keys(node)


def simulate(
    s: SchedulerSettings, latency: LatencySource | float, physical: bool = False, seed: int = 0
) -> tuple[EpisodeResult, RecordingEnv]:
    env = RecordingEnv(s.action_dim, physical)
    source = ConstantLatency(latency) if isinstance(latency, (int, float)) else latency
    result = simulate_episode(s, env, TimestepPolicy(s.actions_per_chunk, s.action_dim), source, seed)
    return result, env
