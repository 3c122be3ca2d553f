"""latency=host times the policy as the board agent does: its ONNX Runtime calls, nothing else.

Mechanism, not a stopwatch: a fake clock advances only when the session runs (10 ms a call) and
when the observation is preprocessed (1 s), so the scheduler must see exactly the session's time."""

from __future__ import annotations

import types
from typing import Any

import pytest

from simbench.config.build import build_run_spec
from simbench.config.compose import compose_run
from simbench.policies.act import onnx_runtime as act_onnx
from simbench.registry import ENVS, POLICY_RUNTIMES, resolve
from simbench.scheduler.episode import simulate_episode


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def perf_counter(self) -> float:
        return self.now


class TimedSession:
    """The real session; each call costs ``cost`` on the fake clock."""

    def __init__(self, session: Any, clock: Clock, cost: float) -> None:
        self.session, self.clock, self.cost, self.calls = session, clock, cost, 0

    def run(self, *args: Any, **kw: Any) -> Any:
        self.calls += 1
        self.clock.now += self.cost
        return self.session.run(*args, **kw)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.session, name)


def test_host_latency_is_the_session_run_time_without_preprocessing(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = Clock()
    monkeypatch.setattr(act_onnx, "time", types.SimpleNamespace(perf_counter=clock.perf_counter))
    real_inputs = act_onnx.observation_inputs

    def slow_inputs(*args: Any, **kw: Any) -> Any:  # camera preprocessing: 1 s on the fake clock
        clock.now += 1.0
        return real_inputs(*args, **kw)

    monkeypatch.setattr(act_onnx, "observation_inputs", slow_inputs)
    spec = build_run_spec(compose_run("config", ["+policy=act_int8", "latency=host", "episodes=1"]))  # the scene
    env = resolve(ENVS, "env", spec.env.name).from_config(spec.env.config())
    policy = resolve(POLICY_RUNTIMES, "policy.runtime", spec.policy.runtime).from_config(
        spec.policy.runtime_config(), env
    )
    policy.session = TimedSession(policy.session, clock, 0.010)
    result = simulate_episode(spec.settings, env, policy, spec.latency, spec.seed, 0, env.episode_plan()[0])
    env.close()
    assert policy.session.calls == result.recorder.latencies.__len__() > 0
    assert result.recorder.latencies == pytest.approx([0.010] * policy.session.calls)


def test_host_latency_feeds_measured_components_to_the_stages() -> None:
    """A multi-graph policy's own per-graph times become its pipeline stages' durations (scaled)."""
    from simbench.latency.factory import make_latency

    host = make_latency({"name": "host", "scale": 2.0}, "x")
    times = host.draw_measured(0.6, {"vision": 0.1, "prefill": 0.2, "expert": 0.3})
    assert times.total == pytest.approx(1.2)
    assert times.components == pytest.approx({"vision": 0.2, "prefill": 0.4, "expert": 0.6})
