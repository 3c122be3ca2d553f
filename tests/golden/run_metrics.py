"""The run golden: every ``metrics.json`` key (wall-clock keys and versions aside) of a short default
run and of a small sweep, through the CLI as a user runs them, against ``run_metrics.json``.

A restructuring must leave these bit for bit; a change that moves them on purpose re-takes the file.

    python -m tests.golden.run_metrics           # check (what tests/test_golden_runs.py runs)
    python -m tests.golden.run_metrics --write   # re-take the golden file
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from simbench.metrics import WALL_CLOCK_KEYS
from tests.run_cli import simbench

GOLDEN = Path(__file__).with_name("run_metrics.json")
DEFAULT_RUN = ["+policy=act_int8", "episodes=2"]
"""The README's first command, cut to two episodes of the scene."""
SWEEP = ["-m", "+policy=act_int8,smolvla_int8", "env=timing", "env.episodes=2", "env.duration_s=30",
         "scheduler.aggregate=latest_only,weighted_average,temporal_ensemble", "scheduler.threshold=0.2,0.7"]
"""Both shipped architectures on the default latency source, over the aggregates and two thresholds."""
UNSTABLE = WALL_CLOCK_KEYS | {"versions"}
"""Keys that are not a function of config and seed: the wall-clock ones and the versions."""


def _stable(metrics: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in metrics.items() if k not in UNSTABLE}


def _simbench(args: list[str]) -> None:
    done = simbench("run", *args, "progress=false", "plots=false", timeout=1800)
    if done.returncode != 0:
        raise RuntimeError(f"simbench run {' '.join(args)} exited {done.returncode}: {done.stderr[-2000:]}")


def take() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        _simbench([*DEFAULT_RUN, f"hydra.run.dir={tmp}/run"])
        default = _stable(json.loads((Path(tmp) / "run" / "metrics.json").read_text()))
        _simbench([*SWEEP, f"hydra.sweep.dir={tmp}/sweep"])
        sweep = {}
        for path in sorted((Path(tmp) / "sweep").glob("*/metrics.json")):
            overrides = (path.parent / ".hydra" / "overrides.yaml").read_text()
            sweep[" ".join(line.removeprefix("- ").strip() for line in overrides.splitlines())] = _stable(
                json.loads(path.read_text()))
    return {"default_run": {"args": DEFAULT_RUN, "metrics": default}, "sweep": {"args": SWEEP, "jobs": sweep}}


def differences(golden: dict[str, Any], now: dict[str, Any]) -> list[str]:
    """One line per key that moved (empty when every key matches)."""
    out = []
    runs = [("default run", golden["default_run"]["metrics"], now["default_run"]["metrics"])]
    runs += [(f"sweep job {job}", golden["sweep"]["jobs"][job], now["sweep"]["jobs"].get(job, {}))
             for job in golden["sweep"]["jobs"]]
    for where, g, n in runs:
        out += [f"{where}: {k} {g.get(k)!r} -> {n.get(k)!r}" for k in sorted(set(g) | set(n)) if g.get(k) != n.get(k)]
    if set(now["sweep"]["jobs"]) != set(golden["sweep"]["jobs"]):
        out.append(f"sweep jobs {sorted(golden['sweep']['jobs'])} -> {sorted(now['sweep']['jobs'])}")
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--write", action="store_true", help="re-take the golden file")
    if parser.parse_args().write:
        GOLDEN.write_text(json.dumps(take(), indent=1, sort_keys=True) + "\n")
        print(f"wrote {GOLDEN}")
        return 0
    lines = differences(json.loads(GOLDEN.read_text()), take())
    print("\n".join(lines) if lines else f"every key matches {GOLDEN.name}")
    return 1 if lines else 0


if __name__ == "__main__":
    sys.exit(main())
