"""An imported model measured on the loopback board and run with latency=board; replay of a tiny
recorded dataset: the table for a shipped policy and a contract model, and the one-line refusal of a
dataset whose features do not match the policy."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.byo.helpers import FIXTURES, contract_model, error_line
from tests.run_cli import simbench


@pytest.fixture(scope="module")
def imported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("torch")
    out = tmp_path_factory.mktemp("imp") / "novae"
    res = simbench("import-lerobot", str(FIXTURES / "act_novae_1cam"), f"out={out}", "variants=[fp32,int8_dynamic]")
    assert res.returncode == 0, res.stderr
    return out


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two short scripted-expert episodes from simbench's recorder (top and gripper, 32x48)."""
    out = tmp_path_factory.mktemp("ds") / "tiny"
    res = simbench(
        "record",
        f"output={out}",
        "clusters=[4]",
        "episodes_per_cluster=2",
        "recovery_share=0",
        "image_size=[32,48]",
        "cameras=[top,gripper]",
        "workers=1",
        "progress=false",
        "action_noise.share=0",
        "max_tries=6",
    )
    assert res.returncode == 0, res.stderr
    return out


def test_hil_measure_loopback(imported: Path, tmp_path: Path) -> None:
    out = tmp_path / "hil"
    res = simbench(
        "hil",
        "measure",
        "+policy=onnx",
        f"policy.model_path={imported / 'model.onnx'}",
        "board=loopback",
        "hil.count=50",
        f"hil.out={out}",
    )
    assert res.returncode == 0, res.stderr
    # the printed replay command runs this model, not a shipped one
    assert f"+policy=onnx policy.model_path={imported / 'model.onnx'} latency=trace" in res.stdout
    record = json.loads((out / "trace.json").read_text())
    assert record["complete"] and record["count"] >= 50 and record["precision"] == "fp32"
    names = {i["name"] for i in record["components"][0]["inputs"]}
    assert names == {"observation.state", "observation.images.front"}
    res = simbench(
        "run",
        "+policy=onnx",
        f"policy.model_path={imported / 'model_int8_dynamic.onnx'}",
        "env=timing",
        "env.duration_s=3",
        "latency=board",
        "board=loopback",
        f"results_dir={tmp_path / 'r'}",
        "plots=false",
    )
    assert res.returncode == 0, res.stderr
    (run,) = (tmp_path / "r" / "runs").iterdir()
    assert json.loads((run / "metrics.json").read_text())["latency_source"]["kind"] == "board"


def test_replay_table_shipped_policy(dataset: Path) -> None:
    res = simbench(
        "replay", str(dataset), "+policy=act_int8", "latency=constant", "latency.value=0.1,0.32", "episodes=1"
    )
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert lines[0].startswith(f"replay of {dataset}: 1 episodes") and "30 fps" in lines[0]
    rows = [ln for ln in lines if ln.startswith("latency.value=")]
    assert len(rows) == 2 and "zero-latency policy vs recorded" in res.stdout
    stall = [float(r.split()[-1].rstrip("%")) for r in rows]
    assert stall[1] >= stall[0]  # a longer latency never stalls less


def test_replay_contract_model_sync(dataset: Path, tmp_path: Path) -> None:
    path = contract_model(tmp_path / "m.onnx", cameras={"top": (32, 48)}, chunk=20)
    res = simbench(
        "replay",
        str(dataset),
        "+policy=onnx",
        f"policy.model_path={path}",
        "scheduler=sync",
        "latency=constant",
        "latency.value=0.2",
    )
    assert res.returncode == 0, res.stderr
    assert "2 episodes" in res.stdout and "scheduler=sync" in res.stdout


def test_replay_refuses_mismatched_dataset(dataset: Path, imported: Path) -> None:
    line = error_line(simbench("replay", str(dataset), "+policy=onnx", f"policy.model_path={imported / 'model.onnx'}"))
    assert "does not match policy onnx" in line and "observation.images.front" in line
    assert "observation.state is 6 values in the dataset, the policy takes 14 values" in line
