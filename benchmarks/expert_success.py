"""Scripted-expert success per cluster and start kind (issue target: >= 95% in every cluster).

    python benchmarks/expert_success.py                  # 20 table starts per cluster + 2 of each recovery start
    python benchmarks/expert_success.py --table 10 --recovery 2
    python benchmarks/expert_success.py --table 3 --recovery 0 --noise-std 0.015   # DART-perturbed execution
    python benchmarks/expert_success.py --table 5 --recovery 1 --scene /tmp/v/teabag_mug.xml   # an edited copy
                                         # of scenes/ (both XML files copied: the scene includes so101_arm.xml)

Seeds are 100 * cluster + start_index (the slow tests' seeds for the first 10). Prints a table and
writes nothing; every figure comes from this run.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("MUJOCO_GL", "egl")

from simbench.envs.teabag_mug import TeaBagMugEnv
from simbench.envs.workspace import CLUSTER_CENTERS
from simbench.expert.rollout import run_expert_episode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--table", type=int, default=20, help="table starts per cluster")
    parser.add_argument("--recovery", type=int, default=2, help="holding and beside starts per cluster, each")
    parser.add_argument("--noise-std", type=float, default=0.0,
                        help="action noise on the executed arm targets, rad (record's action_noise.std_rad)")
    parser.add_argument("--noise-tau", type=float, default=0.3, help="its correlation time, s")
    parser.add_argument("--scene", default=None, help="another scene XML (default: scenes/teabag_mug.xml)")
    args = parser.parse_args()
    env = TeaBagMugEnv(cameras=(), scene_path=args.scene)
    t0 = time.time()
    print("| cluster | table | holding | beside | all |\n|---|---|---|---|---|")
    totals = {"table": [0, 0], "holding": [0, 0], "beside": [0, 0]}
    worst = 1.0
    for k in sorted(CLUSTER_CENTERS):
        row = {}
        for start, n in (("table", args.table), ("holding", args.recovery), ("beside", args.recovery)):
            wins = sum(
                run_expert_episode(
                    env,
                    100 * k + s,
                    {"cluster": k, "start": start, "start_index": s},
                    cameras=(),
                    noise_std_rad=args.noise_std,
                    noise_tau_s=args.noise_tau,
                ).success
                for s in range(n)
            )
            row[start] = (wins, n)
            totals[start][0] += wins
            totals[start][1] += n
        won = sum(w for w, _ in row.values())
        tried = sum(n for _, n in row.values())
        worst = min(worst, won / tried)
        print(f"| {k} | " + " | ".join(f"{w}/{n}" for w, n in row.values()) + f" | {won / tried:.0%} |", flush=True)
    all_w = sum(w for w, _ in totals.values())
    all_n = sum(n for _, n in totals.values())
    print("| all | " + " | ".join(f"{w}/{n}" for w, n in totals.values()) + f" | {all_w / all_n:.1%} |")
    print(f"worst cluster {worst:.0%}; {all_n} episodes in {time.time() - t0:.0f} s")


if __name__ == "__main__":
    main()
