"""Run metrics: flat keys in ``metrics.json`` (plus ``latency_source`` and ``versions``, objects) and one row per episode.

Definitions (all from the simulated timeline):
- ``stall_fraction``: ticks with no action to execute / all ticks (startup included);
  ``stall_fraction_steady`` leaves out the ticks before the first action ever executed.
- ``action_age_mean_s``: from the capture of the newest observation an executed action depends on
  to the tick that executes it (plus actuation delay).
- ``boundary_jump_mean``: L2 change between consecutive executed actions across a chunk merge;
  ``within_chunk_jump_mean``: the same inside a chunk.
- ``observations_skipped``: observations the client sent that the server never ran (replaced in its
  one-slot queue or filtered).
- ``realtime_factor`` and ``wall_time_s`` are the only wall-clock keys (see :data:`WALL_CLOCK_KEYS`);
  every other key is a pure function of config and seed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from simbench.scheduler.episode import EpisodeResult
from simbench.scheduler.settings import SchedulerSettings
from simbench.stats import wilson

WILSON_Z95 = 1.959964

WALL_CLOCK_KEYS = frozenset({"realtime_factor", "wall_time_s", "loop_fps", "tick_jitter_p50_ms", "tick_jitter_p99_ms",
                             "transport_p50_ms", "transport_p99_ms", "serialize_p50_ms", "serialize_p99_ms"})


def _ratio(a: float, b: float) -> float | None:
    return a / b if b else None


def episode_row(index: int, r: EpisodeResult, s: SchedulerSettings, has_success: bool) -> dict[str, Any]:
    rec = r.recorder
    return {
        "episode": index,
        "split": r.options.get("split", ""),
        "cluster": r.options.get("cluster"),
        "success": bool(r.outcome.success) if has_success else None,
        "completion_time_s": r.outcome.completion_time_s,
        "sim_time_s": r.sim_time_s,
        "ticks": rec.ticks,
        "stall_ticks": rec.stall_ticks,
        "stall_fraction": _ratio(rec.stall_ticks, rec.ticks),
        "stall_events": rec.stall_events,
        "longest_stall_s": rec.longest_stall_ticks * s.dt,
        "inference_count": r.inference_count,
        "latency_mean_s": float(np.mean(rec.latencies)) if rec.latencies else None,
        "action_age_mean_s": _ratio(rec.action_age_sum, rec.actions_executed),
        "boundary_jump_mean": _ratio(rec.boundary_jump_sum, rec.boundary_jumps),
        "within_chunk_jump_mean": _ratio(rec.within_jump_sum, rec.within_jumps),
        **r.outcome.extra,  # the env's own per-episode diagnostics (the scene: pouch lift, distance to mug)
    }


def summarize(results: Sequence[EpisodeResult], s: SchedulerSettings, has_success: bool) -> dict[str, Any]:
    """Pool every episode into the flat ``metrics.json`` keys."""
    recs = [r.recorder for r in results]
    ticks = sum(r.ticks for r in recs)
    stall = sum(r.stall_ticks for r in recs)
    startup = sum(r.startup_stall_ticks for r in recs)
    executed = sum(r.actions_executed for r in recs)
    inferences = sum(r.inference_count for r in results)
    sent = sum(r.obs_sent for r in recs)
    lat = np.concatenate([np.asarray(r.latencies, dtype=np.float64) for r in recs]) if recs else np.empty(0)
    sim_time = sum(r.sim_time_s for r in results)
    wall = sum(r.wall_time_s for r in results)
    m: dict[str, Any] = {
        "episodes": len(results),
        "sim_time_s": sim_time,
        "ticks": ticks,
        "actions_executed": executed,
        "stall_ticks": stall,
        "stall_fraction": _ratio(stall, ticks),
        "stall_fraction_steady": _ratio(stall - startup, ticks - startup),
        "startup_stall_s": startup * s.dt / max(len(results), 1),
        "stall_events": sum(r.stall_events for r in recs),
        "longest_stall_s": max((r.longest_stall_ticks for r in recs), default=0) * s.dt,
        "inference_count": inferences,
        "observations_sent": sent,
        "observations_skipped": sent - inferences,
        "latency_mean_s": float(lat.mean()) if lat.size else None,
        "latency_p50_s": float(np.percentile(lat, 50)) if lat.size else None,
        "latency_p95_s": float(np.percentile(lat, 95)) if lat.size else None,
        "latency_max_s": float(lat.max()) if lat.size else None,
        "action_age_mean_s": _ratio(sum(r.action_age_sum for r in recs), executed),
        "boundary_jump_mean": _ratio(sum(r.boundary_jump_sum for r in recs), sum(r.boundary_jumps for r in recs)),
        "within_chunk_jump_mean": _ratio(sum(r.within_jump_sum for r in recs), sum(r.within_jumps for r in recs)),
        "actions_per_s": _ratio(executed, sim_time),
        "queue_mean": _ratio(sum(r.queue_sum for r in recs), ticks),
        "wall_time_s": wall,
        "realtime_factor": _ratio(sim_time, wall),
    }
    m.update(success_metrics(results, has_success))
    if any(r.wall for r in recs):
        m.update(wall_metrics(recs))
    return m


def wall_metrics(recs: Sequence[Any]) -> dict[str, Any]:
    """``scheduler.clock=wall``: achieved loop rate, tick jitter, per-message transport and serialization."""
    def pct(key: str, q: float) -> float | None:
        v = np.concatenate([np.asarray(r.wall.get(key, []), dtype=np.float64) for r in recs])
        return float(1e3 * np.percentile(v, q)) if v.size else None

    ticks = [r.wall["tick_s"] for r in recs if len(r.wall.get("tick_s", [])) > 1]
    rates = [(len(t) - 1) / (t[-1] - t[0]) for t in ticks]
    return {"clock": "wall", "loop_fps": float(np.mean(rates)) if rates else None,
            "tick_jitter_p50_ms": pct("jitter_s", 50), "tick_jitter_p99_ms": pct("jitter_s", 99),
            "transport_p50_ms": pct("transport_s", 50), "transport_p99_ms": pct("transport_s", 99),
            "serialize_p50_ms": pct("serialize_s", 50), "serialize_p99_ms": pct("serialize_s", 99)}


def success_metrics(results: Sequence[EpisodeResult], has_success: bool) -> dict[str, Any]:
    """Task success overall and per split (``test``/``val`` in the published protocol)."""
    if not has_success:
        return {"success_rate": None, "success_interval95": None, "success_test": None, "success_val": None, "completion_time_mean_s": None,
                "lifted_rate": None}

    def rate(split: str | None) -> float | None:
        sel = [r.outcome.success for r in results if split is None or r.options.get("split") == split]
        return float(np.mean(sel)) if sel else None

    done = [
        r.outcome.completion_time_s for r in results if r.outcome.success and r.outcome.completion_time_s is not None
    ]
    lifted = [r.outcome.extra["lifted"] for r in results if "lifted" in r.outcome.extra]
    wins = sum(bool(r.outcome.success) for r in results)
    return {
        "success_rate": rate(None),
        # its 95% Wilson score interval: what the episodes can tell apart
        "success_interval95": list(wilson(wins, len(results), WILSON_Z95)) if results else None,
        "success_test": rate("test"),
        "success_val": rate("val"),
        "completion_time_mean_s": float(np.mean(done)) if done else None,
        # grasped at all: separates missed grasps from misplaced bags
        "lifted_rate": float(np.mean(lifted)) if lifted else None,
    }


def constrained_objective(metrics: dict[str, Any], metric: str, max_stall_fraction: float | None) -> float | None:
    """What a search sweeper maximizes: ``metrics[metric]`` for a run whose stall share is below
    ``max_stall_fraction``, else minus its stall share, which ranks every run over the budget below
    every run within it (and the less-stalling first). None when the run has no such metric (a
    timing-only env has no ``success_rate``)."""
    value = metrics.get(metric)
    stall = metrics.get("stall_fraction")
    if value is None or stall is None:
        return None
    if max_stall_fraction is not None and stall >= max_stall_fraction:
        return -float(stall)
    return float(value)
