"""Summarise a sweep directory: one table (markdown + CSV), plots, and one page linking them.

A sweep directory holds one sub-directory per job (Hydra multirun), each with ``status.json``,
``metrics.json`` and ``.hydra/config.yaml``. Failed jobs appear in the table with their error; a job
whose files cannot be read (a truncated ``metrics.json``, a corrupt config, ``complete`` without
metrics) is flagged as ``unreadable`` with the reason, and the other jobs are reported as usual.
Jobs that differ only in ``seed=`` are also pooled into one row each (``summary_by_seed.csv``).

A large sweep stays readable: ``summary.csv`` holds every job, while ``summary.md`` and
``index.html`` open with the job counts, list failures once per distinct error, and show the
``TOP_N`` best jobs (by success, then least stall) and best pooled configurations, not all of them.
"""

from __future__ import annotations

import csv
import html
import io
import json
import math
from pathlib import Path
from typing import Any

import yaml
from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

from simbench.atomic_io import write_text, write_with
from simbench.errors import bad_value
from simbench.safe_text import printable
from simbench.provenance import mixed_versions

COLUMNS = [
    "job", "status", "policy", "scheduler", "latency", "latency_source", "actions_per_chunk", "threshold", "aggregate",
    "latency_p50_s", "success_rate", "success_test", "success_val", "lifted_rate", "stall_fraction",
    "completion_time_mean_s", "action_age_mean_s", "boundary_jump_mean", "inference_count", "episodes", "error",
]


def _resolved(path: Path) -> dict[str, Any]:
    """The job's config with interpolations (``${.chunk_size}``, ``${min:...}``) resolved."""
    from simbench.config.resolvers import register_resolvers

    register_resolvers()
    raw = OmegaConf.load(path)
    try:
        return OmegaConf.to_container(raw, resolve=True)  # type: ignore[return-value]
    except OmegaConfBaseException:
        return yaml.safe_load(path.read_text()) or {}


def _read_mapping(path: Path, load: Any) -> tuple[dict[str, Any], str]:
    """(the file as a dict, "") or ({}, why it could not be read)."""
    try:
        data = load(path)
    except FileNotFoundError:
        return {}, f"{path.name} missing"
    except Exception as err:  # noqa: BLE001 - any unreadable file is flagged, the report goes on
        return {}, f"{path.name} unreadable ({type(err).__name__})"
    if not isinstance(data, dict):
        return {}, f"{path.name} unreadable (not a mapping)"
    return data, ""


def collect(sweep_dir: Path) -> list[dict[str, Any]]:
    rows = []
    # Jobs are found at any depth (sweeps made before job folders were flat nest a "/" in a value).
    for job in sorted(p.parent.parent for p in sweep_dir.glob("**/.hydra/config.yaml")):
        name = job.relative_to(sweep_dir).as_posix()
        problems = []
        cfg, why = _read_mapping(job / ".hydra" / "config.yaml", _resolved)
        problems += [why] if why else []
        hydra_cfg, _ = _read_mapping(job / ".hydra" / "hydra.yaml", lambda p: yaml.safe_load(p.read_text()))
        choices = ((hydra_cfg or {}).get("hydra", {}).get("runtime", {}) or {}).get("choices", {}) or {}
        status, why = _read_mapping(job / "status.json", lambda p: json.loads(p.read_text()))
        if not status:
            status = {"status": "incomplete"} if why.endswith("missing") else {"status": "unreadable", "error": why}
        metrics: dict[str, Any] = {}
        if status.get("status") == "complete":
            metrics, why = _read_mapping(job / "metrics.json", lambda p: json.loads(p.read_text()))
            problems += [why] if why else []
        if problems:
            status = {"status": "unreadable", "error": "; ".join(problems)}
        policy = cfg.get("policy") or {}
        sched = cfg.get("scheduler") or {}
        if not isinstance(policy, dict) or not isinstance(sched, dict):
            policy, sched = {}, {}
            status = {"status": "unreadable", "error": "config.yaml has no policy/scheduler mappings"}
        row = {
            "job": name,
            "status": None if status.get("status") is None else printable(status.get("status")),
            "policy": policy.get("name"),
            "scheduler": sched.get("name"),
            "latency": choices.get("latency", (cfg.get("latency") or {}).get("name")),
            "actions_per_chunk": policy.get("actions_per_chunk"),
            "threshold": sched.get("threshold"),
            "aggregate": sched.get("aggregate"),
            # a job's files are outside text (a board's error text lands there): visible, bounded
            "error": printable(status.get("error", "")),
        }
        row.update({k: metrics.get(k) for k in COLUMNS if k in metrics})
        # the kind only (published, assumed, host, trace...): the details are in the job's metrics.json
        row["latency_source"] = (metrics.get("latency_source") or {}).get("kind")
        row["versions"] = metrics.get("versions")
        row["timeline"] = f"{name}/timeline.png" if (job / "timeline.png").exists() else None
        row["overrides"] = [
            str(o) for o in (((hydra_cfg or {}).get("hydra", {}).get("overrides", {}) or {}).get("task") or [])
        ]
        rows.append(row)
    return rows


SEED_COLUMNS = ["jobs", "seeds", "episodes", "success_rate", "success_per_seed", "lifted_rate", "stall_fraction"]


def _seed(row: dict[str, Any]) -> tuple[int, str]:
    value = next(o for o in row["overrides"] if o.startswith("seed="))[len("seed="):]
    return (int(value), value) if value.lstrip("-").isdigit() else (0, value)


def pool_seeds(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per configuration run with several ``seed=`` overrides (complete jobs only): rates
    weighted by episodes, stall share averaged. 30 episodes cannot rank two configurations a few
    points apart (a standard error of ~9 points); seeds pooled can, and this is where they are."""
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for r in rows:
        if r["status"] == "complete" and any(o.startswith("seed=") for o in r["overrides"]):
            groups.setdefault(tuple(o for o in r["overrides"] if not o.startswith("seed=")), []).append(r)
    pooled = []
    for key, rs in sorted(groups.items()):
        if len(rs) < 2:
            continue
        rs = sorted(rs, key=_seed)
        eps = [r.get("episodes") or 0 for r in rs]
        row: dict[str, Any] = {"jobs": ",".join(key), "seeds": len(rs), "episodes": sum(eps)}
        for k in ("success_rate", "lifted_rate"):
            if sum(eps) and all(r.get(k) is not None for r in rs):
                row[k] = sum(r[k] * e for r, e in zip(rs, eps)) / sum(eps)
        if all(r.get("success_rate") is not None for r in rs):
            row["success_per_seed"] = " ".join(f"{r['success_rate']:.3f}" for r in rs)
        if all(r.get("stall_fraction") is not None for r in rs):
            row["stall_fraction"] = sum(r["stall_fraction"] for r in rs) / len(rs)
        pooled.append(row)
    return pooled


TOP_N = 25  # job / pooled rows shown in summary.md and index.html beyond which a sweep is summarised


def rank(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Best first: complete before failed, higher success, then lower stall share (then job order)."""
    def key(r: dict[str, Any]) -> tuple:
        success, stall = r.get("success_rate"), r.get("stall_fraction")
        return (
            r.get("status") != "complete",
            -(success if success is not None else -1.0),
            stall if stall is not None else float("inf"),
        )
    return sorted(rows, key=key)


def failure_groups(rows: list[dict[str, Any]]) -> list[tuple[str, list[str]]]:
    """Jobs that did not complete, grouped by status and error line, largest group first."""
    groups: dict[str, list[str]] = {}
    for r in rows:
        if r["status"] != "complete":
            groups.setdefault(f"{r['status']}: {r['error']}" if r.get("error") else str(r["status"]), []).append(
                r["job"]
            )
    return sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0]))


def _counts(rows: list[dict[str, Any]]) -> str:
    by: dict[str, int] = {}
    for r in rows:
        by[str(r["status"])] = by.get(str(r["status"]), 0) + 1
    return f"{len(rows)} jobs: " + ", ".join(
        f"{n} {status}" for status, n in sorted(by.items(), key=lambda kv: (kv[0] != "complete", kv[0]))
    )


def _failure_lines(rows: list[dict[str, Any]]) -> list[str]:
    lines = []
    for reason, jobs in failure_groups(rows):
        shown = ", ".join(f"`{j}`" for j in jobs[:3]) + (
            f" and {len(jobs) - 3} more (summary.csv)" if len(jobs) > 3 else ""
        )
        lines.append(f"- {len(jobs)} × {reason}: {shown}")
    return lines


def _fmt(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.3f}"
    return str(v)


def pareto_front(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Points not beaten by any other (lower latency and higher success); sorted by latency."""
    front: list[tuple[float, float]] = []
    for x, y in sorted(points, key=lambda p: (p[0], -p[1])):
        if not front or y > front[-1][1]:
            front.append((x, y))
    return front


def binomial_interval(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval for a success rate (95% at z = 1.96). 30 episodes at 0.9 give
    0.74-0.97: about +-9 points, which is why one 30-episode run cannot rank close configurations."""
    if n <= 0:
        return (0.0, 1.0)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def stall_panels(rows: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """The (line-grouping key, x key) panels worth drawing: one per parameter that took more than
    one value among chunk size and threshold. A parameter that did not vary gets no panel."""
    varied = [k for k in ("actions_per_chunk", "threshold") if len({r.get(k) for r in rows}) > 1]
    other = {"actions_per_chunk": "threshold", "threshold": "actions_per_chunk"}
    return [(other[x], x) for x in varied]


def _distinct_ticks(values: list[float], min_ratio: float = 1.15) -> list[float]:
    """Sorted values, dropping any within ``min_ratio`` of the previous kept one (labels that would overlap)."""
    ticks: list[float] = []
    for v in sorted(set(values)):
        if not ticks or v >= ticks[-1] * min_ratio:
            ticks.append(v)
    return ticks


def _lines(ax: Any, rows: list[dict[str, Any]], fixed: str, x_key: str) -> None:
    """Stall share against ``x_key``, one line per (policy, scheduler, ``fixed`` value)."""
    groups: dict[tuple, list] = {}
    for r in rows:
        groups.setdefault((r["policy"], r["scheduler"], r[fixed]), []).append(r)
    label = "g" if fixed == "threshold" else "H"
    for (pol, sch, value), rs in sorted(groups.items(), key=lambda kv: str(kv[0])):
        by_x: dict[Any, list[float]] = {}
        for r in rs:  # jobs at the same x (seeds, other overrides) are averaged into one point
            by_x.setdefault(r[x_key], []).append(r["stall_fraction"])
        xs = sorted(by_x)
        ax.plot(xs, [sum(by_x[x]) / len(by_x[x]) for x in xs], marker="o", label=f"{pol} {sch} {label}={value}")
    xs = sorted({r[x_key] for r in rows})
    ax.set_xticks(xs, [f"{x:g}" for x in xs])  # the swept values themselves, not a dense float scale


def _plots(rows: list[dict[str, Any]], out: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter

    made = []
    ok = [r for r in rows if r["status"] == "complete"]
    pts = [
        (r["latency_p50_s"], r["success_rate"], r)
        for r in ok
        if r.get("latency_p50_s") is not None and r.get("success_rate") is not None
    ]
    if pts:
        fig, ax = plt.subplots(figsize=(7.5, 5))
        # points that (nearly) coincide share one label
        labels: dict[tuple[str, float], tuple[float, float, list[str]]] = {}
        for x, y, r in pts:
            n = int(r.get("episodes") or 0)
            lo, hi = binomial_interval(round(y * n), n)
            small = len(pts) <= TOP_N
            ax.errorbar(
                [x],
                [y],
                yerr=[[y - lo], [hi - y]],
                fmt="o",
                markersize=5 if small else 2,
                capsize=3 if small else 0,
                elinewidth=1 if small else 0.5,
            )
            if small:  # labels on hundreds of points are unreadable; summary.csv names them
                labels.setdefault((f"{x:.2g}", round(y, 2)), (x, y, []))[2].append(
                    f"{r['policy']} {r['scheduler']} H={r['actions_per_chunk']}"
                )
        for x, y, names in labels.values():
            ax.annotate("\n".join(names), (x, y), fontsize=8, xytext=(5, 4), textcoords="offset points")
        front = pareto_front([(x, y) for x, y, _ in pts])
        ax.step(
            [p[0] for p in front], [p[1] for p in front], where="post", color="black", linewidth=1, label="Pareto front"
        )
        ax.set_xlabel("median inference latency (s)", fontsize=10)
        ax.set_ylabel("success rate", fontsize=10)
        ax.set_xscale("log")
        # Label the latencies that occur (a log axis's own minor labels collide: "3x10^-1 4x10^-1").
        ax.xaxis.set_major_locator(FixedLocator(_distinct_ticks([x for x, _, _ in pts])))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.2g} s"))
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_ylim(-0.02, 1.02)
        episodes = sorted({int(r.get("episodes") or 0) for _, _, r in pts})
        ax.set_title(
            f"bars: 95% binomial (Wilson) intervals, {'/'.join(map(str, episodes))} episodes per point", fontsize=9
        )
        ax.legend(fontsize=8)
        fig.tight_layout()
        write_with(out / "success_vs_latency.png", lambda p: fig.savefig(p, dpi=110, format="png"))
        plt.close(fig)
        made.append("success_vs_latency.png")
    stall = [r for r in ok if r.get("stall_fraction") is not None and r.get("actions_per_chunk") is not None]
    panels = stall_panels(stall)
    if panels:
        fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 3.8), squeeze=False)
        for ax, (fixed, x_key) in zip(axes[0], panels):
            _lines(ax, stall, fixed, x_key)
            ax.set_xlabel("actions per chunk" if x_key == "actions_per_chunk" else "threshold g")
            ax.set_ylabel("stall share")
            if len(ax.get_lines()) <= 16:
                ax.legend(fontsize=7)
        fig.tight_layout()
        write_with(out / "stall_vs_chunk_threshold.png", lambda p: fig.savefig(p, dpi=110, format="png"))
        plt.close(fig)
        made.append("stall_vs_chunk_threshold.png")
    return made


def version_warning(rows: list[dict[str, Any]]) -> str:
    """A warning line when the complete jobs were run on different versions or CPUs, else ""."""
    mixed = mixed_versions(r.get("versions") for r in rows if r["status"] == "complete")
    if not mixed:
        return ""
    parts = "; ".join(f"{k}: {', '.join(v)}" for k, v in mixed.items())
    return f"warning: this sweep mixes versions ({parts}); its jobs are not comparable bit for bit"


def write_report(sweep_dir: Path) -> dict[str, Path]:
    if not sweep_dir.is_dir():
        raise bad_value("report sweep dir", str(sweep_dir), "must be an existing sweep directory (hydra.sweep.dir)")
    rows = collect(sweep_dir)
    if not rows:
        raise bad_value("report sweep dir", str(sweep_dir), "holds no jobs (no */.hydra/config.yaml)")
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=COLUMNS, extrasaction="ignore")
    w.writeheader()
    w.writerows(rows)
    write_text(sweep_dir / "summary.csv", buf.getvalue())
    ranked = rank(rows)
    shown = ranked if len(rows) <= TOP_N else ranked[:TOP_N]
    md = [_counts(rows) + ". Every job: summary.csv.", ""]
    mixed = version_warning(rows)
    if mixed:
        md += [mixed, ""]
    failed = [r for r in rows if r["status"] != "complete"]
    if failed:
        md += ["Failed or incomplete jobs:", *_failure_lines(rows), ""]
    if len(shown) < len(rows):
        md += [f"Best {len(shown)} of {len(rows)} jobs (success, then least stall):", ""]
    md += ["| " + " | ".join(COLUMNS[:-1]) + " |", "|" + "---|" * (len(COLUMNS) - 1)]
    md += ["| " + " | ".join(_fmt(r.get(c)) for c in COLUMNS[:-1]) + " |" for r in shown]
    pooled = pool_seeds(rows)
    if pooled:
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=SEED_COLUMNS)
        w.writeheader()
        w.writerows(pooled)
        write_text(sweep_dir / "summary_by_seed.csv", buf.getvalue())
        best = rank([{**p, "status": "complete"} for p in pooled])[:TOP_N]
        title = (
            "Pooled over seeds:"
            if len(best) == len(pooled)
            else f"Pooled over seeds, best {len(best)} of {len(pooled)} (all: summary_by_seed.csv):"
        )
        md += ["", title, "", "| " + " | ".join(SEED_COLUMNS) + " |", "|" + "---|" * len(SEED_COLUMNS)]
        md += ["| " + " | ".join(_fmt(r.get(c)) for c in SEED_COLUMNS) + " |" for r in best]
    write_text(sweep_dir / "summary.md", "\n".join(md) + "\n")
    plots = _plots(rows, sweep_dir)
    body = [f"<h1>simbench sweep: {html.escape(sweep_dir.name)}</h1>", (f"<p>{html.escape(_counts(rows))}. "
            '<a href="summary.csv">summary.csv</a> (every job) · <a href="summary.md">summary.md</a></p>')]
    if mixed:
        body.append(f"<p><b>{html.escape(mixed)}</b></p>")
    if failed:
        body.append(
            "<p>Failed or incomplete jobs:</p><ul>"
            + "".join(
                f"<li>{len(jobs)} × {html.escape(reason)}: "
                f"{html.escape(', '.join(jobs[:3]))}{' …' if len(jobs) > 3 else ''}</li>"
                for reason, jobs in failure_groups(rows)
            )
            + "</ul>"
        )
    body += [f'<img src="{p}" style="max-width:100%">' for p in plots]
    if len(shown) < len(rows):
        body.append(f"<p>Best {len(shown)} of {len(rows)} jobs (success, then least stall):</p>")
    body.append(
        "<table border=1 cellpadding=3 style='border-collapse:collapse;font-size:12px'><tr>"
        + "".join(f"<th>{c}</th>" for c in COLUMNS[:-1])
        + "<th>timeline</th></tr>"
    )
    for r in shown:
        link = f'<a href="{html.escape(r["timeline"])}">png</a>' if r.get("timeline") else ""
        body.append(
            "<tr>" + "".join(f"<td>{html.escape(_fmt(r.get(c)))}</td>" for c in COLUMNS[:-1]) + f"<td>{link}</td></tr>"
        )
    body.append("</table>")
    write_text(
        sweep_dir / "index.html",
        "<!doctype html><meta charset=utf-8><title>simbench report</title>\n" + "\n".join(body) + "\n",
    )
    return {"csv": sweep_dir / "summary.csv", "md": sweep_dir / "summary.md", "html": sweep_dir / "index.html"}
