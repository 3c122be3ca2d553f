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


def describe_latency_source(d: dict[str, Any]) -> str:
    """One line for a latency source's :meth:`describe` (the summary's ``latency from`` row)."""
    kind = d.get("kind", "?")
    scale = f", x{d['scale']:g}" if d.get("scale", 1.0) != 1.0 else ""
    if kind == "published":
        return f"published figure: {d.get('figure')} [{d.get('source')}], jitter {d.get('jitter')}{scale}"
    if kind == "predicted":
        return f"predicted (device model {d.get('device')}, {_graph_shas(d)}): {_seconds(d)} for {d.get('policy')}" + (
            f" = {d['anchor']}'s published {d['anchor_s']:g} s x {d['ratio']:.3f} (device-model ratio on the shipped graphs)"
            if d.get("anchor") else f", {d.get('threads')} threads") + f", jitter {d.get('jitter')}{scale}"
    if kind in ("no_network", "override"):
        return f"{kind.replace('_', ' ')}: {d.get('median_s')} s for {d.get('policy')} ({d.get('why')}){scale}"
    if kind == "host":
        return f"host measurement: {d.get('what', 'timed on this machine')}{scale}"
    if kind == "trace":
        return f"trace {d.get('path')} ({d.get('rows')} rows{_board_and_model(d)}){scale}"
    if kind == "board":
        board = d.get("board") or d.get("address")
        return f"live board {board}{_board_and_model(d)}{scale} (not reproducible bit for bit)"
    params = ", ".join(f"{k}={v}" for k, v in d.items() if k not in ("kind", "name", "scale"))
    return f"{kind}: {d.get('name', '')}({params}){scale}"


def _seconds(d: dict[str, Any]) -> str:
    value = float(d.get("median_s") or 0.0)
    return f"{value:.3g} s"


def _graph_shas(d: dict[str, Any]) -> str:
    """``graph sha256 0123abcd...`` (one per graph: SmolVLA's three)."""
    shas = [str(v)[:12] for v in (d.get("graphs") or {}).values()]
    return "graph sha256 " + (", ".join(shas) if shas else "?")


def _board_and_model(d: dict[str, Any]) -> str:
    """``, board B, model sha256 0123...`` for a source that knows the board and the model it timed."""
    board = f", board {d['board']}" if d.get("board") and d.get("kind") != "board" else ""
    sha = d.get("model_sha256")
    return board + (f", model sha256 {sha[:16]}..." if isinstance(sha, str) else "")


def summary_table(meta: dict[str, Any], m: dict[str, Any]) -> str:
    rows = [
        ("policy", meta.get("policy")),
        (
            "scheduler",
            f"{meta.get('scheduler')} (fps {meta.get('fps')}, threshold {meta.get('threshold')}, "
            f"{meta.get('aggregate')})",
        ),
        (
            "latency",
            f"{meta.get('latency')}: mean {_fmt(m['latency_mean_s'], ' s')}, p95 {_fmt(m['latency_p95_s'], ' s')}",
        ),
        ("latency from", describe_latency_source(m["latency_source"]) if m.get("latency_source") else "-"),
        ("episodes", f"{m['episodes']} ({_fmt(m['sim_time_s'], ' s')} simulated)"),
        (
            "success",
            f"{_fmt(m['success_rate'], pct=True)} (test {_fmt(m['success_test'], pct=True)}, val "
            f"{_fmt(m['success_val'], pct=True)})"
            + (f"; 95% interval {_fmt(m['success_interval95'][0], pct=True)}-{_fmt(m['success_interval95'][1], pct=True)}"
               if m.get("success_interval95") else "")
            + (f"; bag lifted in {_fmt(m['lifted_rate'], pct=True)}" if m.get("lifted_rate") is not None else ""),
        ),
        (
            "stall share",
            f"{_fmt(m['stall_fraction'], pct=True)} ({m['stall_events']} stalls, longest "
            f"{_fmt(m['longest_stall_s'], ' s')})",
        ),
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
        f"{_fmt(m['success_test'])} | {_fmt(m['success_val'])} | {_fmt(m['success_rate'])} | "
        f"{_fmt(m['stall_fraction'], pct=True)} | "
        f"{_fmt(m['completion_time_mean_s'])} | {_fmt(m['action_age_mean_s'])} |"
    )
    return "\n".join([head, "|---|---|---|---|---|---|---|---|---|", row])
