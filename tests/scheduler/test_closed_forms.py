"""Deterministic cases with closed forms (constant latency L = m ticks, chunk H, trigger G = floor(gH))."""

from __future__ import annotations

import math

import pytest

from tests.scheduler.helpers import settings, simulate


def startup_ticks(latency_s: float, fps: float) -> int:
    """Ticks before the first chunk: tick 0 stalls, the chunk is merged at the first tick >= L."""
    return max(1, math.ceil(latency_s * fps - 1e-9))


@pytest.mark.parametrize(
    ("fps", "H", "g", "latency_s"),
    [
        (60, 100, 0.2, 0.32),
        (60, 100, 0.2, 20 / 60),
        (30, 50, 0.5, 0.8),
        (50, 100, 0.1, 0.0),
        (60, 100, 0.5, 50 / 60),
        (60, 100, 0.2, 21 / 60),
    ],
)
def test_no_stall_when_threshold_covers_latency(fps: float, H: int, g: float, latency_s: float) -> None:
    """g * H / fps >= L (and g <= 0.5): after the first chunk the queue never runs dry (SmolVLA
    paper condition; with ticks, one tick of slack more: ceil(L fps) <= floor(g H) + 1)."""
    assert math.ceil(latency_s * fps - 1e-9) <= math.floor(g * H + 1e-9) + 1
    result, _ = simulate(settings("async", fps=fps, H=H, seconds=120, threshold=g), latency_s)
    rec = result.recorder
    assert rec.stall_ticks == rec.startup_stall_ticks == startup_ticks(latency_s, fps)
    assert rec.stall_events == 1


@pytest.mark.parametrize("g", [0.6, 0.8, 1.0])
def test_threshold_above_half_buys_no_slack(g: float) -> None:
    """With g > 0.5 the server runs back to back on fresh observations, and each chunk overlaps the
    one in flight: the no-stall bound is half a chunk (m <= H / 2), not g H."""
    for m, stalls in ((50, False), (51, True), (int(g * 100), True)):
        result, _ = simulate(settings("async", H=100, seconds=300, threshold=g), m / 60)
        rec = result.recorder
        assert (rec.stall_ticks > rec.startup_stall_ticks) is stalls, (g, m)


@pytest.mark.parametrize(("H", "g", "m"), [(100, 0.2, 22), (100, 0.2, 40), (50, 0.5, 27)])
def test_stalls_when_latency_exceeds_threshold_slack(H: int, g: float, m: int) -> None:
    """One tick more than the slack G + 1 and the arm stalls every cycle."""
    assert m > math.floor(g * H) + 1
    result, _ = simulate(settings("async", H=H, seconds=120, threshold=g), m / 60)
    rec = result.recorder
    assert rec.stall_ticks > rec.startup_stall_ticks
    assert rec.stall_events > 10


@pytest.mark.parametrize(("m", "n"), [(0, 100), (6, 100), (19, 100), (60, 100), (172, 100), (30, 25)])
def test_sync_idle_share(m: int, n: int) -> None:
    """Sync: idle share = L / (L + n / fps), exactly, over whole cycles of m + n ticks."""
    cycles = 7
    s = settings("sync", H=100, seconds=cycles * (m + n) / 60, n_action_steps=n)
    result, env = simulate(s, m / 60)
    rec = result.recorder
    assert rec.ticks == cycles * (m + n)
    assert rec.stall_ticks == cycles * m
    assert rec.stall_ticks / rec.ticks == pytest.approx((m / 60) / (m / 60 + n / 60), abs=1e-12)
    assert result.inference_count == cycles


@pytest.mark.parametrize(("m", "H", "g"), [(150, 100, 0.5), (200, 100, 0.2), (75, 50, 1.0), (300, 100, 0.2)])
def test_async_slow_inference_executes_half_a_chunk_per_inference(m: int, H: int, g: float) -> None:
    """L >= H / fps: the server runs back to back and every chunk overlaps the previous by half,
    so the steady-state stall share tends to 1 - H / (2 m) (worse than sync's m / (m + H))."""
    result, _ = simulate(settings("async", H=H, seconds=900, threshold=g), m / 60)
    rec = result.recorder
    steady = (rec.stall_ticks - rec.startup_stall_ticks) / (rec.ticks - rec.startup_stall_ticks)
    assert steady == pytest.approx(1 - H / (2 * m), abs=0.004)
    assert steady > m / (m + H)  # async loses to sync here: a finding, not a bug


@pytest.mark.parametrize(("m", "H"), [(120, 100), (30, 50)])
def test_async_threshold_zero_runs_on_must_go_only(m: int, H: int) -> None:
    """g = 0: one observation when the queue empties (must_go); cycle = (m - 1) stalls + (H - 1) actions."""
    cycles = 20
    result, _ = simulate(settings("async", H=H, seconds=cycles * (m + H) / 60 + 10, threshold=0.0), m / 60)
    rec = result.recorder
    steady = (rec.stall_ticks - rec.startup_stall_ticks) / (rec.ticks - rec.startup_stall_ticks)
    assert steady == pytest.approx((m - 1) / (m - 1 + H - 1), abs=0.01)


def test_temporal_ensemble_queries_every_tick() -> None:
    """ACT temporal ensembling: with zero latency every tick's observation is run (but the last
    one's, which the episode's end cuts off)."""
    s = settings("async", H=100, seconds=10, aggregate="temporal_ensemble")
    result, env = simulate(s, 0.0)
    assert result.inference_count == result.recorder.ticks - 1
    assert result.recorder.stall_ticks == 1


@pytest.mark.parametrize(("m", "H", "g"), [(30, 100, 0.2), (10, 50, 0.5)])
def test_similarity_filter_can_starve_the_server_to_must_go_only(m: int, H: int, g: float) -> None:
    """A filter eps larger than any joint move rejects every non-must-go observation, so the threshold
    has no effect and the cycle is that of g = 0 (the LeRobot pitfall the reference describes)."""
    filtered, _ = simulate(settings("async", H=H, seconds=120, threshold=g, similarity_eps=1e9), m / 60)
    must_go_only, _ = simulate(settings("async", H=H, seconds=120, threshold=0.0), m / 60)
    assert filtered.recorder.stall_ticks == must_go_only.recorder.stall_ticks
    assert filtered.inference_count == must_go_only.inference_count
    unfiltered, _ = simulate(settings("async", H=H, seconds=120, threshold=g), m / 60)
    assert unfiltered.recorder.stall_ticks < filtered.recorder.stall_ticks
