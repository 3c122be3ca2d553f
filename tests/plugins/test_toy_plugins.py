"""A new latency source and a new aggregate function are each one file and one YAML, beside the core
(tests/plugins/toy/): found through ``hydra.searchpath`` and PYTHONPATH, validated and run like the
built-in ones, with results equal to the built-in they mirror."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from simbench.metrics import WALL_CLOCK_KEYS
from tests.run_cli import simbench

TOY = Path(__file__).resolve().parent / "toy"
SEARCHPATH = f"hydra.searchpath=[file://{TOY / 'conf'}]"
TIMING = ["env=timing", "env.episodes=2", "env.duration_s=20", "progress=false", "plots=false"]


def _run(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TOY), os.environ.get("PYTHONPATH", "")])}
    return simbench("run", *args, f"hydra.run.dir={tmp}", env=env)


def _metrics(tmp: Path, *args: str) -> dict[str, Any]:
    done = _run(tmp, *args)
    assert done.returncode == 0, done.stderr[-2000:]
    metrics = json.loads((tmp / "metrics.json").read_text())
    names = {"versions", "latency_source", "latency", "scheduler"}  # the option names differ by design
    return {k: v for k, v in metrics.items() if k not in WALL_CLOCK_KEYS | names}


@pytest.mark.parametrize("policy, graphs", [("act_int8", 1), ("smolvla_int8", 3)])
def test_a_toy_latency_source_sees_the_model_and_runs_like_a_constant(tmp_path: Path, policy: str, graphs: int) -> None:
    toy = _metrics(tmp_path / "toy", f"+policy={policy}", "latency=toy", SEARCHPATH, *TIMING)
    const = _metrics(tmp_path / "const", f"+policy={policy}", "latency=constant", f"latency.value={0.25 * graphs}",
                     *TIMING)
    assert toy == const and toy["inference_count"] > 0
    source = json.loads((tmp_path / "toy" / "metrics.json").read_text())["latency_source"]
    assert source["name"] == "toy" and len(source["graphs"]) == graphs and source["seconds"] == 0.25 * graphs


def test_a_toy_aggregate_function_runs_like_the_built_in_average(tmp_path: Path) -> None:
    args = ["+policy=act_int8", "latency=constant", "latency.value=0.5", "scheduler.threshold=0.6", *TIMING]
    toy = _metrics(tmp_path / "toy", *args, "scheduler=halfway", SEARCHPATH)
    average = _metrics(tmp_path / "avg", *args, "scheduler.aggregate=average")
    latest = _metrics(tmp_path / "latest", *args, "scheduler.aggregate=latest_only")
    assert toy == average and toy != latest  # the blend changed what ran: the test can fail


def test_toy_options_are_listed_and_a_bad_target_is_one_line(tmp_path: Path) -> None:
    done = _run(tmp_path / "a", "+policy=act_int8", "latency=nope", SEARCHPATH, *TIMING)
    assert done.returncode == 2 and "toy" in done.stderr and "Traceback" not in done.stderr
    done = _run(tmp_path / "b", "+policy=act_int8", "latency=toy", "latency.target=toy_latency:Missing", SEARCHPATH,
                *TIMING)
    assert done.returncode == 2 and "latency.target" in done.stderr and len(done.stderr.strip().splitlines()) == 1
    done = _run(tmp_path / "c", "+policy=act_int8", "scheduler.aggregate=median", *TIMING)
    assert done.returncode == 2 and "weighted_average" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists() and not (tmp_path / "c").exists()
