"""The physics golden check: a few expert episodes and a short default run against ``physics.json``.

A dependency bump that moves the physics (or ONNX Runtime's kernels) changes these outcomes; the
check then fails naming the versions the golden file was taken on and the ones installed now.

    python -m tests.golden.physics           # check (what tests/test_golden_physics.py runs)
    python -m tests.golden.physics --write   # re-take the golden file on the installed versions
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

os.environ.setdefault("MUJOCO_GL", "egl")

GOLDEN = Path(__file__).with_name("physics.json")
EXPERT_STARTS: tuple[tuple[int, str, int], ...] = (
    (1, "table", 0), (5, "table", 1), (8, "table", 1), (11, "table", 0), (6, "table", 0),
    (3, "holding", 0), (11, "holding", 0), (5, "beside", 0),
)
"""Clusters and start kinds where the drop into the mug used to decide the episode (MuJoCo 4.0.0 vs 4.0.1)."""
RUN_OVERRIDES = ["+policy=act_int8", "episodes=3", "progress=false", "plots=false"]
POUCH_TOLERANCE_M = 1e-3
"""How far the bag's final position may move before the physics counts as changed."""
RUN_KEYS = ("success_rate", "inference_count", "stall_events", "observations_skipped")


def expert_outcomes() -> list[dict[str, Any]]:
    from simbench.envs.teabag_mug import TeaBagMugEnv
    from simbench.expert.rollout import run_expert_episode

    env = TeaBagMugEnv(cameras=())
    rows = []
    for cluster, start, index in EXPERT_STARTS:
        ep = run_expert_episode(env, 100 * cluster + index, {"cluster": cluster, "start": start, "start_index": index},
                                cameras=())
        rows.append({"start": [cluster, start, index], "success": bool(ep.success), "attempts": ep.attempts,
                     "pouch_final_m": [round(float(v), 6) for v in env.pouch_position()]})
    return rows


def default_run() -> dict[str, Any]:
    from simbench import runner
    from simbench.config.build import build_run_spec
    from simbench.config.compose import compose_run

    spec = build_run_spec(compose_run("config", RUN_OVERRIDES))
    with tempfile.TemporaryDirectory() as tmp:
        metrics = runner.run(spec, Path(tmp), {"policy": "act_int8"}, progress=False, plots=False,
                             summary_to_console=False)
    return {k: metrics[k] for k in RUN_KEYS}


def take() -> dict[str, Any]:
    from simbench.provenance import versions

    v = versions()
    return {
        "versions": {k: v[k] for k in ("mujoco", "onnxruntime", "numpy", "python", "cpu")},
        "expert": expert_outcomes(),
        "run": {"overrides": RUN_OVERRIDES, **default_run()},
    }


def differences(golden: dict[str, Any], now: dict[str, Any]) -> list[str]:
    """What moved, one line each (empty when the physics matches the golden file)."""
    out = []
    for g, n in zip(golden["expert"], now["expert"]):
        moved = max(abs(a - b) for a, b in zip(g["pouch_final_m"], n["pouch_final_m"]))
        if g["success"] != n["success"] or g["attempts"] != n["attempts"] or moved > POUCH_TOLERANCE_M:
            out.append(f"expert start {tuple(g['start'])}: success {g['success']} -> {n['success']}, attempts "
                       f"{g['attempts']} -> {n['attempts']}, bag ends {1e3 * moved:.1f} mm away")
    for k in RUN_KEYS:
        if golden["run"][k] != now["run"][k]:
            out.append(f"run {' '.join(RUN_OVERRIDES)}: {k} {golden['run'][k]} -> {now['run'][k]}")
    return out


def version_change(golden: dict[str, Any], now: dict[str, Any]) -> str:
    changed = [f"{k} {golden['versions'].get(k)} -> {now['versions'].get(k)}" for k in now["versions"]
               if golden["versions"].get(k) != now["versions"].get(k)]
    return ", ".join(changed) if changed else "no version changed (same versions and CPU: the code moved the physics)"


def check() -> list[str]:
    """Lines describing the change; empty when everything matches."""
    golden = json.loads(GOLDEN.read_text())
    now = take()
    moved = differences(golden, now)
    if not moved:
        return []
    return [f"physics moved against {GOLDEN.name} ({version_change(golden, now)}):", *moved,
            "if the change is intended: python -m tests.golden.physics --write, and re-measure the figures"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--write", action="store_true", help="re-take the golden file on the installed versions")
    args = parser.parse_args()
    if args.write:
        GOLDEN.write_text(json.dumps(take(), indent=1) + "\n")
        print(f"wrote {GOLDEN}")
        return 0
    lines = check()
    print("\n".join(lines) if lines else f"physics matches {GOLDEN.name}")
    return 1 if lines else 0


if __name__ == "__main__":
    sys.exit(main())
