"""Jobs per second of a timing-only sweep on each launcher, from one run (ratios to joblib).

    python benchmarks/bench_launchers.py --jobs 1000
    python benchmarks/bench_launchers.py --jobs 200 --launchers joblib ray_batched   # a subset

Each launcher runs the same ``seed=range(0,N)`` sweep of ``+policy=act_int8 env=timing`` (no physics,
``env.duration_s`` simulated seconds per job) into a fresh directory, as a user would:
``python -m simbench run -m ...``; the wall time includes checking the command line and Hydra's
start-up. Hydra's own ``submitit_local`` starts one Python process per job, all at once (its local
executor has no parallelism limit), so it runs ``--per-process-jobs`` jobs, not N. Ray gets a head
with ``--workers`` CPUs started here (and stopped). Results: a markdown table on stdout and JSON
with ``--out``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from contextlib import nullcontext
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def launchers(jobs: int, workers: int, per_task: int) -> dict[str, list[str]]:
    return {
        "basic": [],  # Hydra's default: one job after another in the calling process
        "joblib": ["hydra/launcher=joblib", f"hydra.launcher.n_jobs={workers}"],
        "submitit_local": ["hydra/launcher=submitit_local"],
        "submitit_local_batched": ["hydra/launcher=submitit_local_batched", f"hydra.launcher.jobs_per_task={per_task}"],
        "ray": ["hydra/launcher=ray", "hydra.launcher.address=ADDRESS"],
        "ray_batched": [
            "hydra/launcher=ray",
            "hydra.launcher.address=ADDRESS",
            f"hydra.launcher.jobs_per_task={per_task}",
        ],
    }


def run_sweep(n: int, duration_s: float, launcher: list[str], sweep: Path) -> tuple[float, int]:
    cmd = [sys.executable, "-m", "simbench", "run", "-m", "+policy=act_int8", f"seed=range(0,{n})", "env=timing",
           f"env.duration_s={duration_s}", "plots=false", "progress=false", *launcher, f"hydra.sweep.dir={sweep}"]
    t0 = time.perf_counter()
    out = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    done = sum('"complete"' in p.read_text() for p in sweep.glob("*/status.json"))
    if done != n:
        print(f"  {done}/{n} complete; exit {out.returncode}; stderr tail:\n{out.stderr[-1500:]}", file=sys.stderr)
    return wall, done


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--jobs", type=int, default=1000)
    ap.add_argument("--duration-s", type=float, default=5.0, help="simulated seconds per job (env.duration_s)")
    ap.add_argument("--workers", type=int, default=2, help="parallel workers: joblib n_jobs, Ray head CPUs")
    ap.add_argument(
        "--per-process-jobs",
        type=int,
        default=20,
        help="jobs for Hydra's submitit_local (one process each, all at once)",
    )
    ap.add_argument("--launchers", nargs="*", default=None)
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument(
        "--keep",
        type=Path,
        default=None,
        help="write the sweeps under this directory and keep them (default: a temporary one)",
    )
    args = ap.parse_args()
    per_task = -(-args.jobs // args.workers)  # one task per worker
    table = launchers(args.jobs, args.workers, per_task)
    names = args.launchers or list(table)
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench_launchers_") as tmp:
        if args.keep:
            tmp = str(args.keep)
        for name in names:
            n = args.per_process_jobs if name == "submitit_local" else args.jobs
            launcher = table[name]
            head = nullcontext("")
            if name.startswith("ray"):
                from hydra_plugins.simbench_launchers.ray_head import ray_head

                head = ray_head(num_cpus=args.workers)
            with head as address:
                load = os.getloadavg()[0]
                wall, done = run_sweep(
                    n, args.duration_s, [a.replace("ADDRESS", address) for a in launcher], Path(tmp) / name
                )
                load = (load + os.getloadavg()[0]) / 2  # other users' work shows here too: a shared machine
            rows.append({"launcher": name, "args": " ".join(launcher), "jobs": n, "complete": done, "wall_s": wall,
                         "jobs_per_s": done / wall, "load_avg": load})
            print(f"{name}: {done}/{n} jobs in {wall:.1f} s = {done / wall:.2f} jobs/s", file=sys.stderr)
    ref = next((r["jobs_per_s"] for r in rows if r["launcher"] == "joblib"), None)
    print(f"\n{args.jobs}-job timing-only sweep (env.duration_s={args.duration_s:g}), {args.workers} workers; "
          f"`python benchmarks/bench_launchers.py --jobs {args.jobs}`\n")
    print(f"{os.cpu_count()} CPUs; load: the 1-minute load average at start and end of each sweep, averaged\n")
    print("| launcher | overrides | jobs | wall (s) | jobs/s | vs joblib | load |\n|---|---|---|---|---|---|---|")
    for r in rows:
        ratio = f"{r['jobs_per_s'] / ref:.2f}x" if ref else "-"
        print(
            f"| {r['launcher']} | `{r['args'] or '(default)'}` | {r['complete']}/{r['jobs']} | {r['wall_s']:.1f} | "
            f"{r['jobs_per_s']:.2f} | {ratio} | {r['load_avg']:.1f} |"
        )
    if args.out:
        args.out.write_text(
            json.dumps(
                {"jobs": args.jobs, "duration_s": args.duration_s, "workers": args.workers, "rows": rows}, indent=1
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
