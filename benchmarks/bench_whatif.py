"""What-if grid speed: N timing-only points on the DES in-process, against the ordinary sweep.

    python benchmarks/bench_whatif.py --points 1000 --duration-s 60 --json results/reference/bench_whatif.json

The what-if grid (:mod:`simbench.whatif`: resolution x chunk x steps x precision x threshold x
actions per chunk, latencies from the device model) runs on one process per worker with one compact
row per point; the same kind of point through ``python -m simbench run -m`` (``latency=predicted``,
one run directory each, Hydra's basic launcher in one process) runs ``--sweep-points`` of them for
comparison. Prints both and writes ``{"whatif": {...}, "sweep": {...}}`` with points, wall_s and
points_per_s; ``--plot`` draws stall share against predicted latency with the Pareto front and
``--rows`` writes every point's metrics (Parquet).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from simbench.whatif import NO_STEPS_AXES, grid, has_steps, plot, price, run_grid

REPO = Path(__file__).resolve().parents[1]


def sweep(points: int, duration_s: float, policy: str, out: Path) -> tuple[float, int]:
    """``points`` runs of the ordinary sweep over threshold x actions_per_chunk x precision."""
    thresholds = ",".join(str(t) for t in (0.0, 0.2, 0.5, 0.8))
    per_chunk = ",".join(str(a) for a in (25, 50, 100))
    precisions = "fp32,int8,int4"
    seeds = max(1, -(-points // 36))
    cmd = [sys.executable, "-m", "simbench", "run", "-m", f"+policy={policy}", "env=timing", "latency=predicted",
           f"env.duration_s={duration_s}", f"scheduler.threshold={thresholds}", f"policy.actions_per_chunk={per_chunk}",
           f"latency.precision={precisions}", f"seed=range(0,{seeds})", "plots=false", "progress=false",
           f"hydra.sweep.dir={out}"]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=REPO, check=False, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    wall = time.perf_counter() - t0
    done = sum('"complete"' in p.read_text() for p in out.glob("*/status.json"))
    if proc.returncode != 0:
        print(f"sweep exit {proc.returncode}: {proc.stderr[-800:]}", file=sys.stderr)
    return wall, done


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--points", type=int, default=1000)
    ap.add_argument("--duration-s", type=float, default=60.0)
    ap.add_argument("--policy", default="act_fp32", help="a variant with a published figure (act_fp32, smolvla_fp32)")
    ap.add_argument("--device", default="imx95")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--sweep-points", type=int, default=36, help="ordinary-sweep runs for the comparison (0: skip)")
    ap.add_argument("--json", default=None)
    ap.add_argument("--plot", default=None, help="PNG: stall share vs predicted latency, Pareto front")
    ap.add_argument("--rows", default=None, help="Parquet of every point's metrics")
    args = ap.parse_args()

    t0 = time.perf_counter()
    pricing = price(args.policy, args.device)
    points = grid(args.points, None if has_steps(args.policy) else NO_STEPS_AXES)
    rows = run_grid(points, pricing, args.policy, args.duration_s, args.workers)
    wall = time.perf_counter() - t0
    result = {"whatif": {"points": len(rows), "wall_s": round(wall, 2), "points_per_s": round(len(rows) / wall, 1)}}
    print(f"what-if grid: {len(rows)} points x {args.duration_s:g} s simulated on {args.workers} workers in "
          f"{wall:.1f} s ({len(rows) / wall:.1f} points/s; pricing and worker start-up included)")
    if args.sweep_points:
        with tempfile.TemporaryDirectory(prefix="simbench-whatif-sweep-") as tmp:
            s_wall, done = sweep(args.sweep_points, args.duration_s, args.policy, Path(tmp) / "sweep")
        result["sweep"] = {"points": done, "wall_s": round(s_wall, 2), "points_per_s": round(done / s_wall, 2)}
        print(f"ordinary sweep: {done} points in {s_wall:.1f} s ({done / s_wall:.2f} points/s)")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps({**result, "command": " ".join(sys.argv)}, indent=1) + "\n")
    if args.plot:
        plot(rows, args.plot, f"{args.policy} on {args.device}: {len(rows)} what-if points, "
                              f"{args.duration_s:g} s each (python benchmarks/bench_whatif.py)")
    if args.rows:
        import pandas as pd

        pd.DataFrame(rows).to_parquet(args.rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
