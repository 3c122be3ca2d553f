"""Is the scene on a knife edge? Expert and ACT int8 success under small physical changes.

    python benchmarks/perturbation.py --repeats 3 --json perturbation.json
    pip install --no-deps --target /tmp/mj400 mujoco==4.0.0 mujoco-core==4.0.0 mujoco-studio==4.0.0
    python benchmarks/perturbation.py --repeats 3 --other-mujoco /tmp/mj400 --json perturbation.json

Each row runs the scripted expert on the 77 starts of ``expert_success.py --table 5 --recovery 1``
and ``act_int8`` at ideal timing (sync, zero latency, as ``simbench eval``) on the published protocol
``--repeats`` times, with ``env.randomize`` set to the row's change (simbench/envs/randomization.py).
Starts are the same in every row, so the differences against the nominal row are paired (± their
standard error). ``--other-mujoco DIR`` adds a row for the MuJoCo installed in DIR (nominal scene),
run in a subprocess. Prints a markdown table; ``--json`` writes it with the versions.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("MUJOCO_GL", "egl")

import numpy as np

from simbench.atomic_io import write_json
from simbench.envs.randomization import Randomization
from simbench.envs.teabag_mug import TeaBagMugEnv
from simbench.envs.workspace import CLUSTER_CENTERS
from simbench.expert.rollout import run_expert_episode
from simbench.provenance import versions
from simbench.training.evaluate import evaluate, make_env, paired_difference

ROWS: dict[str, dict[str, Any] | None] = {
    "nominal": None,
    "friction -10%": {"friction": [0.9, 0.9]},
    "friction +10%": {"friction": [1.1, 1.1]},
    "pouch mass -10%": {"pouch_mass": [0.9, 0.9]},
    "pouch mass +10%": {"pouch_mass": [1.1, 1.1]},
    "servo gains -10%": {"gains": [0.9, 0.9]},
    "servo gains +10%": {"gains": [1.1, 1.1]},
    "cameras moved up to 1 cm": {"camera_m": 0.01},
    "all of the above at random": {"friction": [0.9, 1.1], "pouch_mass": [0.9, 1.1], "gains": [0.9, 1.1],
                                 "camera_m": 0.01},
}


def expert_rows(randomize: dict[str, Any] | None) -> list[dict[str, Any]]:
    env = TeaBagMugEnv(cameras=(), randomize=Randomization.parse(randomize))
    rows = []
    for k in sorted(CLUSTER_CENTERS):
        for start, n in (("table", 5), ("holding", 1), ("beside", 1)):
            for s in range(n):
                ep = run_expert_episode(env, 100 * k + s, {"cluster": k, "start": start, "start_index": s}, cameras=())
                rows.append({"success": bool(ep.success)})
    return rows


def act_rows(randomize: dict[str, Any] | None, repeats: int) -> list[dict[str, Any]]:
    from simbench.config.build import load_option
    from simbench.envs.base import control_hz
    from simbench.registry import POLICY_RUNTIMES, resolve

    env = make_env(overrides={"randomize": randomize})
    try:
        cfg = load_option("policy", "act_int8")
        cfg["fps"] = control_hz(env)
        policy = resolve(POLICY_RUNTIMES, "policy.runtime", cfg.get("runtime", "onnx")).from_config(cfg, env)
        res = evaluate(policy, env, int(cfg.get("n_action_steps", policy.actions_per_chunk)), repeats=repeats)
    finally:
        env.close()
    return [{"success": bool(r["success"])} for r in res["rows"]]


def measure_row(name: str, randomize: dict[str, Any] | None, repeats: int) -> dict[str, Any]:
    t0 = time.time()
    row = {"row": name, "randomize": randomize, "expert": expert_rows(randomize), "act_int8": act_rows(randomize, repeats)}
    print(f"  {name}: {time.time() - t0:.0f} s", file=sys.stderr, flush=True)
    return row


def table(rows: list[dict[str, Any]]) -> str:
    nominal = rows[0]
    lines = ["| change | expert (77 starts) | vs nominal | ACT int8 (ideal timing) | vs nominal |", "|---|---|---|---|---|"]
    for r in rows:
        cells = [r["row"]]
        for key in ("expert", "act_int8"):
            rate = float(np.mean([e["success"] for e in r[key]]))
            cells.append(f"{rate:.3f} ({sum(e['success'] for e in r[key])}/{len(r[key])})")
            if r is nominal:
                cells.append("-")
            else:
                d = paired_difference(nominal[key], r[key])
                cells.append(f"{100 * d['diff']:+.1f} ± {100 * d['stderr']:.1f} pt")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3, help="ACT protocol passes per row (30 episodes each)")
    parser.add_argument("--rows", default=",".join(ROWS), help="comma-separated row names (default: all)")
    parser.add_argument("--other-mujoco", help="a directory holding another mujoco (pip install --target): one more row")
    parser.add_argument("--json", help="write the rows, the table and the versions here")
    parser.add_argument("--raw", action="store_true", help=argparse.SUPPRESS)  # the subprocess row: JSON to stdout
    args = parser.parse_args()
    names = [n for n in args.rows.split(",") if n]
    unknown = [n for n in names if n not in ROWS]
    if unknown or args.repeats < 1:
        print(f"error: --rows {unknown} unknown (choose from {', '.join(ROWS)})" if unknown
              else f"error: --repeats={args.repeats} must be >= 1", file=sys.stderr)
        return 2
    rows = [measure_row(n, ROWS[n], args.repeats) for n in names]
    if args.raw:
        rows[0]["row"] = f"mujoco {versions()['mujoco']}"
        print(json.dumps(rows[0]))
        return 0
    if args.other_mujoco:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([args.other_mujoco, os.environ.get("PYTHONPATH", "")])}
        out = subprocess.run([sys.executable, __file__, "--rows", "nominal", "--repeats", str(args.repeats), "--raw"],
                             capture_output=True, text=True, env=env, check=True)
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    text = table(rows)
    print(text)
    if args.json:
        write_json(Path(args.json), {"command": " ".join(["python", *sys.argv]), "versions": versions(), "table": text,
                                     "rows": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())
