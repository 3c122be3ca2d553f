"""Episodes that pass under one schedule and fail under another, re-run with a trace and classified.

    python benchmarks/async_failures.py results/sweeps/async_diag/sync_imx95 "n_action_steps=50," \
        results/sweeps/async_diag/async_imx95 "actions_per_chunk=100,scheduler.threshold=0.2" \
        --overrides +policy=act_int8 env.time_limit_s=120 --json results/reference/async_failures.json

The two sweep folders and substrings pick the jobs (one per seed) of the passing and the failing
configuration; ``--overrides`` recompose the failing one (it must be the config those jobs ran).
Every episode that passed under the first and failed under the second is re-run (same seed, same
start: the run is deterministic, checked against the sweep's outcome) with a per-tick trace of the
bag, the jaws' command and the queue, and put in one class:

- ``missed grasp``: the bag never rose 3 cm;
- ``dropped in transport``: the bag left the jaws (> 4 cm from the jaw tip) while they were commanded
  closed, away from the mug;
- ``released off the mug``: the jaws opened with the bag in them more than 4 cm (horizontally) from
  the mug's centre;
- ``released over the mug, ended outside``: opened over the mug, and the bag did not stay;
- ``still holding``: in the jaws at the time limit.

For each event it also says how long before it the last chunk merged and whether the arm was stalled.
"""

from __future__ import annotations

import argparse
import collections
import csv
import os
import re
import sys
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("MUJOCO_GL", "egl")

GRIPPER_OPEN_ABOVE = 0.3
"""Jaw command (rad) above which the jaws count as commanded open (closed -0.1, open 0.7)."""
HELD_M = 0.04
OVER_MUG_M = 0.04


def jobs(folder: Path, needle: str) -> dict[int, Path]:
    out = {}
    for job in sorted(folder.iterdir()):
        if needle in job.name and (job / "episodes.csv").is_file():
            out[int(re.search(r"seed=(\d+)", job.name).group(1))] = job  # type: ignore[union-attr]
    return out


def outcomes(job: Path) -> dict[int, dict[str, str]]:
    with open(job / "episodes.csv") as f:
        return {int(r["episode"]): r for r in csv.DictReader(f)}


class Trace:
    """Per tick: time, bag position, jaw tip position, jaw command, queue length, stalled."""

    def __init__(self, env: Any) -> None:
        self.env = env
        self.rows: list[tuple[float, ...]] = []

    def __call__(self, tick: int, queue: int, stalled: bool) -> None:
        e = self.env.env
        priv = e.privileged()
        tip = e.data.site_xpos[e.model.site("pinch").id]
        self.rows.append((tick, *priv["pouch_pos"], *tip, *priv["mug_pos"][:2], float(e.data.ctrl[5]), queue,
                          float(stalled)))


def classify(rows: np.ndarray, merges: list[float], dt: float, lifted: bool) -> dict[str, Any]:
    if not lifted:
        return {"class": "missed grasp"}
    tick, pouch, tip, mug, jaw, stalled = rows[:, 0], rows[:, 1:4], rows[:, 4:7], rows[:, 7:9], rows[:, 9], rows[:, 11]
    held = np.linalg.norm(pouch - tip, axis=1) < HELD_M
    lift0 = pouch[0, 2]
    carried = held & (pouch[:, 2] > lift0 + 0.03)
    if not carried.any():
        return {"class": "missed grasp"}
    first = int(np.argmax(carried))
    after = np.arange(len(rows)) > first
    gone = np.flatnonzero(after & ~held)
    if len(gone) == 0:
        return {"class": "still holding"}
    k = int(gone[0])
    t = tick[k] * dt
    over = float(np.linalg.norm(pouch[k, :2] - mug[k])) < OVER_MUG_M
    opened = jaw[max(0, k - 3) : k + 1].max() > GRIPPER_OPEN_ABOVE
    if opened:
        label = "released over the mug, ended outside" if over else "released off the mug"
    else:
        label = "dropped in transport"
    since = [t - m for m in merges if m <= t + 1e-9]
    return {"class": label, "time_s": round(float(t), 3),
            "bag_to_mug_m": round(float(np.linalg.norm(pouch[k, :2] - mug[k])), 3),
            "since_merge_s": round(float(min(since)), 3) if since else None, "stalled": bool(stalled[k])}


def main(argv: list[str] | None = None) -> int:
    from simbench.atomic_io import write_json
    from simbench.config.build import build_run_spec
    from simbench.config.compose import compose_run
    from simbench.errors import ConfigError
    from simbench.provenance import versions
    from simbench.registry import ENVS, POLICY_RUNTIMES, resolve
    from simbench.scheduler.episode import simulate_episode

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pass_sweep", type=Path)
    parser.add_argument("pass_needle")
    parser.add_argument("fail_sweep", type=Path)
    parser.add_argument("fail_needle")
    parser.add_argument("--overrides", nargs="+", required=True, help="the failing configuration, as run")
    parser.add_argument("--limit", type=int, default=40, help="at most this many episodes re-run")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    good, bad = jobs(args.pass_sweep, args.pass_needle), jobs(args.fail_sweep, args.fail_needle)
    if not good or not bad:
        print("error: no jobs matched one of the needles", file=sys.stderr)
        return 2
    todo = []
    for seed in sorted(set(good) & set(bad)):
        a, b = outcomes(good[seed]), outcomes(bad[seed])
        todo += [(seed, ep, b[ep]) for ep in sorted(set(a) & set(b))
                 if a[ep]["success"] == "True" and b[ep]["success"] != "True"]
    todo = todo[: args.limit]
    results = []
    try:
        for seed, ep, row in todo:
            spec = build_run_spec(compose_run("config", [*args.overrides, f"seed={seed}"]))
            env = resolve(ENVS, "env", spec.env.name).from_config(spec.env.config())
            policy = resolve(POLICY_RUNTIMES, "policy.runtime", spec.policy.runtime).from_config(
                spec.policy.runtime_config(), env)
            options = env.episode_plan()[ep]
            trace = Trace(env)
            result = simulate_episode(spec.settings, env, policy, spec.latency, spec.seed, ep, options,
                                      tick_observer=trace)
            assert not result.outcome.success, f"seed {seed} episode {ep} passed on re-run: not the sweep's run"
            merges = [float(s) for k, s in zip(result.recorder.timeline.kind, result.recorder.timeline.start_s)
                      if k == "merge"]
            verdict = classify(np.array(trace.rows), merges, spec.settings.dt, bool(result.outcome.extra["lifted"]))
            results.append({"seed": seed, "episode": ep, "cluster": row["cluster"], **verdict})
            print(f"seed {seed} episode {ep:2d}: {verdict}", flush=True)
            env.close()
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    counts = collections.Counter(r["class"] for r in results)
    print("\n| class | episodes |\n|---|---|")
    for label, n in counts.most_common():
        print(f"| {label} | {n} |")
    if args.json:
        write_json(args.json, {"command": "python benchmarks/async_failures.py " + " ".join(sys.argv[1:]),
                               "versions": versions({}), "counts": dict(counts), "episodes": results})
    return 0


if __name__ == "__main__":
    sys.exit(main())
