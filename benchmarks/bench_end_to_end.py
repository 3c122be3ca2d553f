"""End-to-end speed (issue targets on a 2-core machine):

1. the default protocol run (``python -m simbench run +policy=act_int8``) in at most 5 minutes;
2. a closed-loop episode at least 20x faster than real time on one core (act_int8, imx95);
3. 2 sweep jobs on 2 cores (Hydra joblib launcher) at least 1.7x the throughput of 1.

    python benchmarks/bench_end_to_end.py                 # all three
    python benchmarks/bench_end_to_end.py --episodes 4    # quicker look

Every figure is measured in this one run, from the CLI a user would call.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def simbench(*args: str) -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "simbench", *args], check=True, capture_output=True, text=True)
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--policy", default="act_int8")
    parser.add_argument("--episodes", type=int, default=None, help="first N episodes of the protocol (default: all)")
    parser.add_argument(
        "--sweep-episodes",
        type=int,
        default=30,
        help="episodes per sweep job (30: the whole protocol, a realistic job)",
    )
    parser.add_argument("overrides", nargs="*", default=[])
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="simbench-bench-"))
    common = [f"+policy={args.policy}", "progress=false", *args.overrides]
    if args.episodes:
        common.append(f"episodes={args.episodes}")

    wall = simbench("run", *common, f"results_dir={tmp / 'default'}")
    (run_dir,) = (tmp / "default" / "runs").iterdir()
    m = json.loads((run_dir / "metrics.json").read_text())
    print(
        f"default run: {m['episodes']} episodes, {m['sim_time_s']:.0f} s simulated, wall {wall:.1f} s (target <= 300 "
        "s); "
        f"success {m.get('success_rate')}, stall share {m['stall_fraction']:.1%}"
    )
    print(f"closed loop: {m['realtime_factor']:.1f}x real time on one core, simulation loop only (target >= 20x); "
          f"{m['sim_time_s'] / wall:.1f}x including start-up and writing")

    sweep = [
        "run",
        "-m",
        f"+policy={args.policy}",
        "seed=0,1,2,3",
        f"episodes={args.sweep_episodes}",
        "progress=false",
        "plots=false",
        *args.overrides,
    ]
    walls = {}
    for jobs in (1, 2):
        walls[jobs] = simbench(
            *sweep, "hydra/launcher=joblib", f"hydra.launcher.n_jobs={jobs}", f"hydra.sweep.dir={tmp / f'sweep{jobs}'}"
        )
    print(
        f"sweep of 4 jobs: 1 worker {walls[1]:.1f} s, 2 workers {walls[2]:.1f} s -> throughput "
        f"x{walls[1] / walls[2]:.2f} (target >= 1.7)"
    )


if __name__ == "__main__":
    main()
