"""Real-Time Chunking: the guidance's closed forms, the request the scheduler builds, the scene runs
and the config errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from simbench.latency.distributions import ConstantLatency
from simbench.policies.request import DelayEstimate, PolicyRequest
from simbench.policies.smolvla.rtc import Guide, RTCConfig, guidance_weight, prefix_weights
from simbench.scheduler.episode import simulate_episode
from tests.run_cli import simbench
from tests.scheduler.helpers import RecordingEnv, TimestepPolicy, settings


def euler(expert, guide: Guide | None, x0: np.ndarray, n: int) -> np.ndarray:
    """The runtime's loop: t = 1 - k / n, x <- x - v / n."""
    x = x0.astype(np.float32)
    for k in range(n):
        t = 1.0 - k / n
        v = expert(x, t)
        if guide is not None:
            v = guide.velocity(x, t, v, lambda x_, t=t: expert(x_, t))
        x = (x - v / n).astype(np.float32)
    return x


def test_prefix_weights_match_lerobot_schedules() -> None:
    assert prefix_weights(3, 8, 10, "zeros").tolist() == [1, 1, 1, 0, 0, 0, 0, 0, 0, 0]
    assert prefix_weights(3, 8, 10, "ones").tolist() == [1, 1, 1, 1, 1, 1, 1, 1, 0, 0]
    lin = prefix_weights(3, 8, 10, "linear")
    np.testing.assert_allclose(lin, [1, 1, 1, 5 / 6, 4 / 6, 3 / 6, 2 / 6, 1 / 6, 0, 0], atol=1e-6)
    exp = prefix_weights(3, 8, 10, "exp")
    np.testing.assert_allclose(exp[3:8], lin[3:8] * np.expm1(lin[3:8]) / (np.e - 1), atol=1e-6)
    assert prefix_weights(12, 8, 10, "linear").tolist() == [1] * 8 + [0, 0]  # start is capped at end


def test_guidance_weight_is_clamped_at_both_ends() -> None:
    assert guidance_weight(1.0, 10.0) == 10.0 and guidance_weight(0.0, 10.0) == 10.0
    assert guidance_weight(0.5, 10.0) == pytest.approx(2.0)  # c = 1, 1/r^2 = 2
    assert guidance_weight(0.9, 10.0) == pytest.approx(min(10.0, 9.0 * (0.81 + 0.01) / 0.81))


def test_constant_velocity_flow_follows_the_closed_form() -> None:
    """v = c: the clean estimate x - t c moves by g_k w / n of its error each step, so the final chunk's
    error to the target is prod_k (1 - g_k w / n) times the first estimate's."""
    n, chunk = 10, 12
    rng = np.random.default_rng(0)
    c = rng.normal(size=(1, chunk, 3)).astype(np.float32)
    target = rng.normal(size=(chunk, 3))
    cfg = RTCConfig(True, execution_horizon=8, max_guidance_weight=3.0)
    guide = Guide.for_chunk(cfg, target, start=0, frozen_until=3, ratio=1.0, chunk=chunk)
    x0 = np.zeros((1, chunk, 3), np.float32)
    final = euler(lambda x, t: c, guide, x0, n)
    w = guide.weights[0, :, 0].astype(np.float64)
    factor = np.ones(chunk)
    for k in range(n):
        factor *= 1.0 - guidance_weight(1.0 - k / n, 3.0) * w / n
    e0 = target - (x0[0] - c[0])
    np.testing.assert_allclose(final[0], target - factor[:, None] * e0, atol=2e-5)
    unguided = euler(lambda x, t: c, None, x0, n)
    np.testing.assert_allclose(final[0, 8:], unguided[0, 8:], atol=1e-6)  # weight 0 past the horizon


def test_finite_difference_vjp_is_exact_for_a_symmetric_linear_expert() -> None:
    """v = A x + b with A symmetric: J^T e = J e = e - t A e, which one forward difference gives exactly."""
    chunk, dim = 6, 2
    rng = np.random.default_rng(1)
    m = rng.normal(size=(chunk * dim, chunk * dim)) * 0.1
    a = (m + m.T) / 2
    b = rng.normal(size=chunk * dim)

    def expert(x: np.ndarray, t: float) -> np.ndarray:
        return (a @ x.reshape(-1).astype(np.float64) + b).reshape(1, chunk, dim).astype(np.float32)

    target = rng.normal(size=(chunk, dim))
    guide = Guide.for_chunk(RTCConfig(True, 6, 5.0, "ones", "fd"), target, 0, 2, 1.0, chunk)
    x = rng.normal(size=(1, chunk, dim)).astype(np.float32)
    t = 0.7
    v = expert(x, t)
    got = guide.velocity(x, t, v, lambda x_: expert(x_, t))
    e = (guide.weights * (guide.target - (x - t * v)))[0].reshape(-1).astype(np.float64)
    vjp = e - t * (a.T @ e)
    want = v[0].reshape(-1) - guidance_weight(t, 5.0) * vjp
    np.testing.assert_allclose(got[0].reshape(-1), want, atol=2e-3)
    assert guide.expert_calls == 1


def test_model_rate_target_interpolates_the_control_rate_prefix() -> None:
    """Model step j is control tick 2 j: the target there is the prefix at that tick, offset by start."""
    prefix = np.arange(9, dtype=np.float64)[:, None] * np.ones((1, 2))  # ticks start .. start + 8
    guide = Guide.for_chunk(RTCConfig(True, 10, 10.0), prefix, start=3, frozen_until=6, ratio=2.0, chunk=8)
    w = guide.weights[0, :, 0]
    assert w[:2].tolist() == [0.0, 0.0]  # ticks 0 and 2 lie before the prefix
    np.testing.assert_allclose(guide.target[0, 2:6, 0], [1.0, 3.0, 5.0, 7.0])  # ticks 4, 6, 8, 10
    assert w[2] == 1.0 and w[3] == 1.0 and 0.0 < w[4] < 1.0  # frozen through tick 6
    assert w[6:].tolist() == [0.0, 0.0]  # past the prefix's end (tick 11)


def test_delay_estimate_is_the_window_max_in_ticks() -> None:
    d = DelayEstimate(dt=1 / 60, window=3)
    assert d.ticks() == 0
    for s in (0.31, 0.10, 0.05, 0.02):
        d.add(s)
    assert d.ticks() == 6  # the window holds 0.10, 0.05, 0.02 (the 0.31 s left it): ceil(0.10 * 60)
    d.add(0.3)
    assert d.ticks() == 18


def test_request_carries_the_queue_when_the_server_takes_the_observation() -> None:
    """With actions equal to their timesteps, the left-over of every request is exactly the queued
    timesteps after its executed one, and the delay is the last latencies' max in ticks."""
    seen: list[PolicyRequest] = []

    class Spy(TimestepPolicy):
        def predict_chunk(self, request: PolicyRequest) -> np.ndarray:
            seen.append(request)
            return super().predict_chunk(request)

    s = settings(H=50, seconds=10.0, threshold=0.5, delay_window=4)
    env = RecordingEnv(2, physical=True)
    simulate_episode(s, env, Spy(50, 2), ConstantLatency(0.3), seed=0)
    assert len(seen) > 5
    assert seen[0].delay_ticks == 0 and all(r.delay_ticks == 18 for r in seen[1:])
    for r in seen[1:]:
        assert r.executed is not None and r.executed[0] == pytest.approx(r.executed_timestep, abs=1e-9)
        assert r.executed_timestep >= r.timestep
        np.testing.assert_allclose(r.leftover[:, 0], r.executed_timestep + 1 + np.arange(len(r.leftover)), atol=1e-9)
        assert r.prefix_start == r.executed_timestep - r.timestep


# --- the scene and the CLI -------------------------------------------------------------------------------

def _metrics(run_root: Path) -> dict:
    (run,) = [p.parent for p in run_root.rglob("metrics.json")]
    m = json.loads((run / "metrics.json").read_text())
    for key in ("wall_time_s", "realtime_factor", "versions", "scheduler"):
        m.pop(key, None)
    return m


def test_zero_guidance_is_latest_only_bit_for_bit(tmp_path: Path) -> None:
    common = ["+policy=smolvla_mixed", "episodes=2", "env.time_limit_s=6", "latency=constant", "latency.value=0.3",
              "scheduler.threshold=0.5", "progress=false", "plots=false"]
    a = simbench("run", *common, "scheduler.aggregate=rtc", "policy.rtc.max_guidance_weight=0",
                 f"results_dir={tmp_path / 'a'}")
    b = simbench("run", *common, "scheduler.aggregate=latest_only", f"results_dir={tmp_path / 'b'}")
    c = simbench("run", *common, "scheduler.aggregate=rtc", f"results_dir={tmp_path / 'c'}")
    assert a.returncode == b.returncode == c.returncode == 0, a.stderr + b.stderr + c.stderr
    ma, mb, mc = _metrics(tmp_path / "a"), _metrics(tmp_path / "b"), _metrics(tmp_path / "c")
    assert ma == mb
    # Guided: the chunk boundaries are what RTC exists for.
    assert mc["boundary_jump_mean"] < 0.5 * mb["boundary_jump_mean"]


def test_sync_ignores_rtc_like_every_aggregate(tmp_path: Path) -> None:
    """The summary table's sync row (docs/2026-12-06-async-that-works.md, section 6) is the RTC command plus
    scheduler=sync: sync uses no aggregate, so it runs as plain sync, metric for metric."""
    common = ["+policy=smolvla_mixed", "scheduler.threshold=0.5", "latency=constant", "latency.value=0.3", "episodes=1",
              "env.time_limit_s=4", "progress=false", "plots=false"]
    a = simbench("run", *common, "scheduler.aggregate=rtc", "scheduler=sync", f"results_dir={tmp_path / 'a'}")
    b = simbench("run", *common, "scheduler=sync", f"results_dir={tmp_path / 'b'}")
    assert a.returncode == b.returncode == 0, a.stderr + b.stderr
    assert _metrics(tmp_path / "a") == _metrics(tmp_path / "b")


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["+policy=smolvla_mixed", "scheduler.aggregate=rtc", "policy.rtc.vjp=autograd"], "policy.rtc.vjp"),
        (["+policy=smolvla_mixed", "scheduler.aggregate=rtc", "policy.rtc.execution_horizon=0"],
         "policy.rtc.execution_horizon"),
        (["+policy=smolvla_mixed", "scheduler.aggregate=rtc", "policy.rtc.max_guidance_weight=-1"],
         "policy.rtc.max_guidance_weight"),
        (["+policy=smolvla_mixed", "scheduler.aggregate=rtc", "policy.rtc.prefix_attention_schedule=cosine"],
         "policy.rtc.prefix_attention_schedule"),
        (["+policy=smolvla_mixed", "scheduler.aggregate=rtc", "scheduler.delay_window=0"], "scheduler.delay_window"),
        (["+policy=act_int8", "scheduler.aggregate=rtc"], "scheduler.aggregate"),
    ],
)
def test_bad_rtc_input_is_one_line_and_exit_2(tmp_path: Path, args: list[str], needle: str) -> None:
    r = simbench("run", *args, "episodes=1", f"results_dir={tmp_path}")
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and needle in lines[0], r.stderr
    assert not any(tmp_path.iterdir())


def test_rtc_runs_in_the_wall_clock_runtime_on_the_board(tmp_path: Path) -> None:
    """scheduler.clock=wall with latency=board: the runtime builds the same request and the board's
    vla op runs the guided steps (a short real-time episode on the loopback agent)."""
    r = simbench("run", "+policy=smolvla_mixed", "scheduler.aggregate=rtc", "scheduler.threshold=0.5",
                 "scheduler.clock=wall", "board=loopback", "latency=board", "env.time_limit_s=3", "episodes=1",
                 "progress=false", "plots=false", f"results_dir={tmp_path}")
    assert r.returncode == 0, r.stderr[-2000:]
    m = _metrics(tmp_path)
    assert m["inference_count"] >= 3 and m["boundary_jump_mean"] is not None
