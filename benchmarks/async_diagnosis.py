"""Tables and curves for the async diagnosis: success by time budget, from completion times.

    python benchmarks/async_diagnosis.py results/sweeps/async_diag --json results/reference/async_diagnosis.json \
        --plot docs/images/2026-12-06-async-budget.png

Reads every job of every sweep under the folder (each job's ``episodes.csv`` and ``metrics.json``),
pools the jobs that differ only in ``seed=`` and prints one row per configuration: success within
20, 60 and 120 s (an episode succeeds within budget B if it completed by B; the sweeps run with
``env.time_limit_s=120``, so one run gives every shorter budget), its 95% interval, the paired
difference against a reference configuration on the same starts (same seed, same episode), stall
share, mean action age, mean jump at merges and the median completion time.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import re
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

from simbench.stats import wilson

BUDGETS = (10.0, 20.0, 30.0, 45.0, 60.0, 90.0, 120.0)
SHOWN = (20.0, 60.0, 120.0)


def config_key(job_dir: Path) -> tuple[str, int]:
    """(configuration without the seed, seed) from a job folder named ``k=v,k=v,...-hash``."""
    name = re.sub(r"-[0-9a-f]{10}$", "", job_dir.name)
    parts = [p for p in name.split(",") if p]
    seed = 0
    rest = []
    for p in parts:
        if p.startswith("seed="):
            seed = int(p.split("=", 1)[1])
        elif not p.startswith("time_limit_s=") and not p.startswith("policy=act_int8"):
            rest.append(p)
    return ",".join(rest) or "default", seed


def load(root: Path) -> dict[str, dict[str, Any]]:
    """{sweep/config: {"episodes": {(seed, ep): row}, "metrics": [metrics per seed]}}."""
    out: dict[str, dict[str, Any]] = defaultdict(lambda: {"episodes": {}, "metrics": []})
    for status in sorted(root.glob("*/*/status.json")):
        job = status.parent
        if json.loads(status.read_text()).get("status") != "complete":
            continue
        cfg, seed = config_key(job)
        key = f"{job.parent.name}:{cfg}"
        with open(job / "episodes.csv") as f:
            for row in csv.DictReader(f):
                out[key]["episodes"][(seed, int(row["episode"]))] = row
        out[key]["metrics"].append(json.loads((job / "metrics.json").read_text()))
    return dict(out)


def success_within(row: dict[str, str], budget: float) -> bool:
    t = row["completion_time_s"]
    return row["success"] == "True" and t != "" and float(t) <= budget + 1e-9


def paired(a: dict, b: dict, budget: float) -> tuple[float, float, int]:
    """Mean difference a - b over shared starts within ``budget``, its 95% half-width, the pairs."""
    from simbench.training.evaluate import paired_difference

    keys = sorted(set(a) & set(b))
    if not keys:
        return (math.nan, math.nan, 0)
    d = paired_difference([{"success": success_within(b[k], budget)} for k in keys],
                          [{"success": success_within(a[k], budget)} for k in keys])
    return (d["diff"], 1.96 * d["stderr"], len(keys))


def mean_metric(metrics: list[dict], key: str) -> float:
    vals = [m[key] for m in metrics if isinstance(m.get(key), (int, float))]
    return sum(vals) / len(vals) if vals else math.nan


def rows(data: dict[str, dict[str, Any]], reference: str | None) -> list[dict[str, Any]]:
    ref = data.get(reference or "", {}).get("episodes", {})
    out = []
    for key, d in sorted(data.items()):
        eps = d["episodes"]
        n = len(eps)
        row: dict[str, Any] = {"config": key, "episodes": n, "seeds": len(d["metrics"])}
        for b in BUDGETS:
            k = sum(success_within(r, b) for r in eps.values())
            row[f"success_{int(b)}s"] = k / n if n else math.nan
        k20 = sum(success_within(r, 20.0) for r in eps.values())
        row["interval95_20s"] = wilson(k20, n, 1.96) if n else (math.nan, math.nan)
        if ref and key != reference:
            for b in SHOWN:
                m, h, n_pairs = paired(eps, ref, b)
                row[f"paired_{int(b)}s"] = (m, h, n_pairs)
        for metric in ("stall_fraction", "action_age_mean_s", "boundary_jump_mean", "latency_mean_s"):
            row[metric] = mean_metric(d["metrics"], metric)
        done = sorted(float(r["completion_time_s"]) for r in eps.values() if r["completion_time_s"])
        row["completion_median_s"] = done[len(done) // 2] if done else math.nan
        out.append(row)
    return out


def table(rs: list[dict[str, Any]]) -> str:
    head = ("| config | n | success 20 s | 60 s | 120 s | paired vs ref (20 s) | stall | age (s) | jump | "
            "completion median (s) |")
    lines = [head, "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rs:
        lo, hi = r["interval95_20s"]
        p = r.get("paired_20s")
        ps = f"{p[0]:+.2f} ± {p[1]:.2f}" if p else "ref"
        lines.append(
            f"| {r['config']} | {r['episodes']} | {r['success_20s']:.2f} [{lo:.2f}, {hi:.2f}] | {r['success_60s']:.2f} | "
            f"{r['success_120s']:.2f} | {ps} | {100 * r['stall_fraction']:.1f}% | {r['action_age_mean_s']:.2f} | "
            f"{r['boundary_jump_mean']:.2f} | {r['completion_median_s']:.1f} |")
    return "\n".join(lines)


def plot(rs: list[dict[str, Any]], path: Path, only: list[str] | None) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5))
    for r in rs:
        if only and not any(s in r["config"] for s in only):
            continue
        ax.plot(BUDGETS, [r[f"success_{int(b)}s"] for b in BUDGETS], marker="o", label=r["config"])
    ax.set_xlabel("time budget per episode (s)")
    ax.set_ylabel("success within budget")
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path, help="a folder of sweeps (each a hydra.sweep.dir)")
    parser.add_argument("--reference", default=None, help="the config key paired against (printed keys)")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--plot", type=Path, default=None)
    parser.add_argument("--plot-only", nargs="*", default=None, help="substrings of configs to plot")
    args = parser.parse_args(argv)
    if not args.root.is_dir():
        print(f"error: root={args.root} is not a folder", file=sys.stderr)
        return 2
    data = load(args.root)
    rs = rows(data, args.reference)
    print(table(rs))
    if args.json:
        from simbench.atomic_io import write_json
        from simbench.provenance import versions

        write_json(args.json, {"command": " ".join(["python", "benchmarks/async_diagnosis.py", *sys.argv[1:]]),
                               "versions": versions({}), "rows": rs})
    if args.plot:
        plot(rs, args.plot, args.plot_only)
    return 0


if __name__ == "__main__":
    sys.exit(main())
