"""The short table printed at the end of a run."""

from __future__ import annotations

from typing import Any


def _fmt(value: Any, unit: str = "", pct: bool = False) -> str:
    if value is None:
        return "-"
    if pct:
        return f"{100 * value:.1f}%"
    if isinstance(value, float):
        return f"{value:.3f}{unit}"
    return f"{value}{unit}"


def summary_table(meta: dict[str, Any], m: dict[str, Any]) -> str:
    rows = [
        ("policy", meta.get("policy")),
        ("scheduler", f"{meta.get('scheduler')} (fps {meta.get('fps')}, threshold {meta.get('threshold')}, {meta.get('aggregate')})"),
        ("latency", f"{meta.get('latency')}: mean {_fmt(m['latency_mean_s'], ' s')}, p95 {_fmt(m['latency_p95_s'], ' s')}"),
        ("episodes", f"{m['episodes']} ({_fmt(m['sim_time_s'], ' s')} simulated)"),
        ("success", f"{_fmt(m['success_rate'], pct=True)} (test {_fmt(m['success_test'], pct=True)}, val {_fmt(m['success_val'], pct=True)})"
                    + (f"; bag lifted in {_fmt(m['lifted_rate'], pct=True)}" if m.get("lifted_rate") is not None else "")),
        ("stall share", f"{_fmt(m['stall_fraction'], pct=True)} ({m['stall_events']} stalls, longest {_fmt(m['longest_stall_s'], ' s')})"),
        ("action age", _fmt(m["action_age_mean_s"], " s")),
        ("jumps", f"boundary {_fmt(m['boundary_jump_mean'])}, within chunk {_fmt(m['within_chunk_jump_mean'])}"),
        ("inferences", f"{m['inference_count']} ({m['observations_skipped']} observations skipped)"),
        ("speed", f"{_fmt(m['realtime_factor'])}x real time"),
    ]
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"  {k:<{width}}  {v}" for k, v in rows)


def published_table(meta: dict[str, Any], m: dict[str, Any]) -> str:
    """The shape of the published i.MX95 results table, with timing beside it."""
    head = "| policy | format | latency | test | val | global | stall share | completion (s) | action age (s) |"
    row = (
        f"| {meta.get('arch', meta.get('policy'))} | {meta.get('precision', '-')} | {_fmt(m['latency_p50_s'], ' s')} | "
        f"{_fmt(m['success_test'])} | {_fmt(m['success_val'])} | {_fmt(m['success_rate'])} | {_fmt(m['stall_fraction'], pct=True)} | "
        f"{_fmt(m['completion_time_mean_s'])} | {_fmt(m['action_age_mean_s'])} |"
    )
    return "\n".join([head, "|---|---|---|---|---|---|---|---|---|", row])
