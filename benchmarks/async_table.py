"""The async table: every schedule against sync at the same latency, on the same starts
(docs/2026-12-06-async-that-works.md, section 6).

    python benchmarks/async_table.py results/sweeps/async_table --json results/reference/async_table.json

Reads the sweeps under the folder (``vla_async``, ``vla_sync``, ``vla_rtc_fd``, ``act_async``,
``act_sync``: their commands are in docs/2026-12-06-async-that-works.md), pools the seeds of each
(policy, latency, schedule) and prints success with its 95% interval, the paired difference against
sync at that latency (same seed and episode; mean and 95% half-width), stall share, mean jump at
merges and the median completion time of the successes.
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
from simbench.training.evaluate import paired_difference

ORDER = ("sync", "async weighted_average", "async latest_only", "async rtc", "async rtc (fd)",
         "async temporal_ensemble", "async shift", "async weighted_average, threshold 0.8", "async latest_only, threshold 0.8",
         "async rtc (horizon 13)")


def label(name: str, sweep: str) -> str:
    if "sync" in sweep and "async" not in sweep:
        return "sync"
    agg = re.search(r"aggregate=([a-z_]+)", name)
    base = f"async {agg.group(1) if agg else 'weighted_average'}"
    if "threshold=0.8" in name:
        base += ", threshold 0.8"
    horizon = re.search(r"execution_horizon=(\d+)", name)
    if horizon:
        base += f" (horizon {horizon.group(1)})"
    return base + " (fd)" if "vjp=fd" in name or "rtc_fd" in sweep else base


def load(root: Path) -> dict[tuple[str, float, str], dict[str, Any]]:
    rows: dict[tuple[str, float, str], dict[str, Any]] = defaultdict(lambda: {"episodes": {}, "metrics": []})
    for status in sorted(root.glob("*/*/status.json")):
        job = status.parent
        if json.loads(status.read_text()).get("status") != "complete":
            continue
        name = job.name
        policy = re.search(r"policy=([a-z0-9_]+)", name).group(1)  # type: ignore[union-attr]
        value = float(re.search(r"value=([0-9.]+)", name).group(1))  # type: ignore[union-attr]
        seed = int(re.search(r"seed=(\d+)", name).group(1))  # type: ignore[union-attr]
        key = (policy, value, label(name, job.parent.name))
        with open(job / "episodes.csv") as f:
            for r in csv.DictReader(f):
                rows[key]["episodes"][(seed, int(r["episode"]))] = r
        rows[key]["metrics"].append(json.loads((job / "metrics.json").read_text()))
    return dict(rows)


def table(data: dict[tuple[str, float, str], dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for (policy, value, name), d in sorted(data.items(), key=lambda kv: (kv[0][0], kv[0][1], ORDER.index(kv[0][2])
                                                                            if kv[0][2] in ORDER else 99)):
        eps = d["episodes"]
        ok = [r["success"] == "True" for r in eps.values()]
        n, k = len(ok), sum(ok)
        row: dict[str, Any] = {"policy": policy, "latency_s": value, "schedule": name, "episodes": n,
                               "seeds": len(d["metrics"]), "success": k / n, "interval95": wilson(k, n, 1.96)}
        ref = data.get((policy, value, "sync"), {}).get("episodes", {})
        keys = sorted(set(eps) & set(ref))
        if name != "sync" and keys:
            diff = paired_difference([{"success": ref[x]["success"] == "True"} for x in keys],
                                     [{"success": eps[x]["success"] == "True"} for x in keys])
            row["vs_sync"] = (diff["diff"], 1.96 * diff["stderr"], len(keys))
        ms = d["metrics"]
        row["stall_fraction"] = sum(m["stall_fraction"] for m in ms) / len(ms)
        jumps = [m["boundary_jump_mean"] for m in ms if m.get("boundary_jump_mean") is not None]
        row["jump_mean"] = sum(jumps) / len(jumps) if jumps else math.nan
        done = sorted(float(r["completion_time_s"]) for r in eps.values() if r["completion_time_s"])
        row["completion_median_s"] = done[len(done) // 2] if done else math.nan
        out.append(row)
    return out


def markdown(rows: list[dict[str, Any]]) -> str:
    head = "| policy | latency | schedule | success [95% CI] | vs sync (paired) | stall | jump at merges | completion (s) |"
    lines = [head, "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lo, hi = r["interval95"]
        vs = r.get("vs_sync")
        vs_s = f"{100 * vs[0]:+.0f} ± {100 * vs[1]:.0f}" if vs else "-"
        lines.append(f"| {r['policy']} | {r['latency_s']:g} s | {r['schedule']} | {r['success']:.2f} [{lo:.2f}, {hi:.2f}] "
                     f"| {vs_s} | {100 * r['stall_fraction']:.1f}% | {r['jump_mean']:.2f} | {r['completion_median_s']:.1f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    if not args.root.is_dir():
        print(f"error: root={args.root} is not a folder", file=sys.stderr)
        return 2
    rows = table(load(args.root))
    print(markdown(rows))
    if args.json:
        from simbench.atomic_io import write_json
        from simbench.provenance import versions

        write_json(args.json, {"command": "python benchmarks/async_table.py " + " ".join(sys.argv[1:]),
                               "versions": versions({}), "rows": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())
