"""``hil measure`` -> trace -> ``latency=trace`` replay, live ``latency=board`` runs, and every fault
ending in a failed record with its reason (subprocesses, as a user runs them; loopback board)."""

from __future__ import annotations

import csv
import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import mujoco
import numpy as np
import pytest

from simbench.metrics import WALL_CLOCK_KEYS
from simbench.policies.request import PolicyRequest
from tests.hil.helpers import tiny_model

ROOT = Path(__file__).resolve().parents[2]


def simbench(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "simbench", *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout
    )


def run_dir(root: Path) -> Path:
    (d,) = [p for p in (root / "runs").iterdir() if p.is_dir()]
    return d


def rows(trace: Path) -> list[dict[str, str]]:
    with open(trace) as f:
        return list(csv.DictReader(f))


def one_error_line(out: subprocess.CompletedProcess[str]) -> str:
    lines = [ln for ln in out.stderr.strip().splitlines() if not ln.startswith("[") and "OpenGL" not in ln]
    assert "Traceback" not in out.stderr
    assert lines and lines[0].startswith(("error: ", "FAILED ")), out.stderr  # bad input, or a failed run recorded
    return lines[0]


@pytest.fixture(scope="module")
def measured(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("hil") / "act_int8"
    res = simbench("hil", "measure", "+policy=act_int8", "board=loopback", "hil.count=200", f"hil.out={out}")
    assert res.returncode == 0, res.stderr
    assert "p50" in res.stdout and "replay" in res.stdout
    return out


def test_measure_writes_trace_and_record(measured: Path) -> None:
    trace = rows(measured / "trace.csv")
    assert len(trace) >= 200 and list(trace[0]) == ["latency_s"]
    record = json.loads((measured / "trace.json").read_text())
    assert record["complete"] is True and record["rows"] == len(trace) == record["count"]
    assert (
        record["precision"] == "int8"
        and record["execution_provider"] == "CPUExecutionProvider"
        and record["threads"] == 1
    )
    assert (
        len(record["model_sha256"]) == 64
        and record["board"]["name"] == "loopback"
        and record["board"]["cpu_cores"] >= 1
    )
    lat = np.array([float(r["latency_s"]) for r in trace])
    assert (
        record["p50_s"] == pytest.approx(np.percentile(lat, 50))
        and record["p50_s"] <= record["p90_s"] <= record["p99_s"]
    )
    assert record["stats"]["p90_early_stopping_s"] >= record["p90_s"]
    assert {"onnxruntime_board", "agent", "protocol", "simbench"} <= record["versions"].keys() and record["date"]
    v = record["versions"]
    assert v["mujoco"] == mujoco.__version__ and v["model_sha256"] == record["model_sha256"] and v["cpu"]


def test_replay_is_reproducible_and_names_board(measured: Path, tmp_path: Path) -> None:
    metrics = []
    for root in (tmp_path / "a", tmp_path / "b"):
        res = simbench(
            "run",
            "+policy=act_int8",
            "env=timing",
            "env.duration_s=20",
            "latency=trace",
            f"latency.path={measured / 'trace.csv'}",
            "plots=false",
            f"results_dir={root}",
        )
        assert res.returncode == 0, res.stderr
        assert "latency from  trace" in res.stdout and ", board loopback" in res.stdout
        metrics.append(json.loads((run_dir(root) / "metrics.json").read_text()))
    a, b = ({k: v for k, v in m.items() if k not in WALL_CLOCK_KEYS} for m in metrics)
    assert a == b
    src = a["latency_source"]
    record = json.loads((measured / "trace.json").read_text())
    assert src["kind"] == "trace" and src["board_name"] == "loopback" and src["model_sha256"] == record["model_sha256"]
    assert src["precision"] == "int8" and src["rows"] == record["rows"]
    assert a["latency_max_s"] <= max(float(r["latency_s"]) for r in rows(measured / "trace.csv")) + 1e-9


def test_components_measured_and_replayed_per_component(tmp_path: Path) -> None:
    """hil.model with several graphs: one column per component; replay feeds the policy's stages by name."""
    models = [tiny_model(tmp_path / "backbone.onnx"), tiny_model(tmp_path / "transformer.onnx", bias=2.0)]
    out = tmp_path / "two"
    res = simbench(
        "hil",
        "measure",
        "board=loopback",
        f"hil.model=[{models[0]},{models[1]}]",
        "hil.count=100",
        "hil.warmup=2",
        f"hil.out={out}",
    )
    assert res.returncode == 0, res.stderr
    trace = rows(out / "trace.csv")
    assert list(trace[0]) == ["latency_s", "backbone", "transformer"] and len(trace) >= 100
    assert all(float(r["latency_s"]) == pytest.approx(float(r["backbone"]) + float(r["transformer"])) for r in trace)
    record = json.loads((out / "trace.json").read_text())
    assert set(record["model_sha256"]) == {"backbone", "transformer"} and set(record["components_stats"]) == {
        "backbone",
        "transformer",
    }
    res = simbench(
        "run",
        "+policy=act_int8",
        "env=timing",
        "env.duration_s=5",
        "latency=trace",
        f"latency.path={out / 'trace.csv'}",
        "plots=false",
        f"results_dir={tmp_path / 'r'}",
    )
    assert res.returncode == 0, res.stderr
    src = json.loads((run_dir(tmp_path / "r") / "metrics.json").read_text())["latency_source"]
    assert src["components"] == ["backbone", "transformer"]


def test_measure_on_a_rendered_scene_observation(tmp_path: Path) -> None:
    out = tmp_path / "scene"
    res = simbench(
        "hil", "measure", "+policy=act_int8", "hil.count=64", "hil.warmup=1", "hil.inputs=scene", f"hil.out={out}"
    )
    assert res.returncode == 0, res.stderr
    record = json.loads((out / "trace.json").read_text())
    assert record["inputs"].startswith("scene:") and record["rows"] >= 64


def test_live_board_episodes_name_the_board(tmp_path: Path) -> None:
    res = simbench(
        "run",
        "+policy=act_int8",
        "latency=board",
        "board=loopback",
        "episodes=1",
        "env.time_limit_s=6",
        "plots=false",
        "progress=false",
        f"results_dir={tmp_path}",
    )
    assert res.returncode == 0, res.stderr
    metrics = json.loads((run_dir(tmp_path) / "metrics.json").read_text())
    src = metrics["latency_source"]
    assert (
        src["kind"] == "board"
        and src["board_name"] == "loopback"
        and src["reproducible"] is False
        and len(src["model_sha256"]) == 64
    )
    assert metrics["inference_count"] >= 1 and 0 < metrics["latency_p50_s"] < 1.0
    assert "not reproducible" in res.stdout


def test_board_policy_returns_the_boards_chunk() -> None:
    """Loopback runs the same ONNX Runtime: the board's chunk equals the host session's, bit for bit."""
    from simbench.hil.board import parse_board
    from simbench.hil.board_policy import BoardLatency
    from simbench.policies.act.onnx_runtime import ACTOnnxPolicy

    cfg = {"name": "act_int8", "model_path": "act/act_int8.onnx", "threads": 1, "fps": 30.0}
    host = ACTOnnxPolicy(cfg["model_path"], threads=1, control_hz=30.0)
    rng = np.random.default_rng(0)
    obs = {
        "observation.state": rng.standard_normal(host.state_dim).astype(np.float32),
        **{
            f"observation.images.{c}": rng.integers(0, 256, (*host.image_size, 3), dtype=np.uint8) for c in host.cameras
        },
    }
    latency = BoardLatency(parse_board({"name": "loopback", "port": 0}))
    board = latency.open_policy(cfg, None)
    try:
        np.testing.assert_array_equal(board.predict_chunk(PolicyRequest(obs)), host.predict_chunk(PolicyRequest(obs)))
        assert 0 < latency.draw(rng, 0.0).total < 1.0
        with pytest.raises(RuntimeError, match="no measurement"):
            latency.draw(rng, 0.0)  # one measurement per inference
    finally:
        board.close()
    assert latency.describe()["model_sha256"] == latency.model.sha256  # type: ignore[union-attr]


# -- faults ---------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_unreachable_board(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("x" * 32)
    port = free_port()
    res = simbench(
        "hil", "info", "board=lab", "board.address=127.0.0.1", f"board.port={port}", f"board.token_file={token}"
    )
    assert res.returncode == 1 and "unreachable" in one_error_line(res)
    res = simbench(
        "run",
        "+policy=act_int8",
        "latency=board",
        "board=lab",
        "board.address=127.0.0.1",
        f"board.port={port}",
        f"board.token_file={token}",
        "episodes=1",
        "plots=false",
        f"results_dir={tmp_path / 'r'}",
    )
    assert res.returncode == 1 and "unreachable" in one_error_line(res)
    assert json.loads((run_dir(tmp_path / "r") / "status.json").read_text())["status"] == "failed"


def test_drop_mid_measure_keeps_partial_trace(tmp_path: Path) -> None:
    out = tmp_path / "drop"
    res = simbench(
        "hil",
        "measure",
        "+policy=act_int8",
        "board=loopback",
        "board.fault=drop:2",
        "hil.count=100000",
        f"hil.out={out}",
    )
    assert res.returncode == 1 and "closed the connection" in one_error_line(res)
    record = json.loads((out / "trace.json").read_text())
    assert record["complete"] is False and record["error_code"] == "dropped" and "INCOMPLETE" in record["note"]
    assert 0 < record["rows"] == len(rows(out / "trace.csv")) < 100000


def test_agent_crash_mid_live_run_is_a_failed_record(tmp_path: Path) -> None:
    res = simbench(
        "run",
        "+policy=act_int8",
        "latency=board",
        "board=loopback",
        "board.fault=crash:3",
        "episodes=1",
        "plots=false",
        "progress=false",
        f"results_dir={tmp_path}",
    )
    assert res.returncode == 1 and "closed the connection" in one_error_line(res)
    status = json.loads((run_dir(tmp_path) / "status.json").read_text())
    assert status["status"] == "failed" and "BoardError" in status["error"]
    assert not (run_dir(tmp_path) / "metrics.json").exists()


def test_model_too_large(tmp_path: Path) -> None:
    out = tmp_path / "big"
    res = simbench(
        "hil", "measure", "+policy=act_int8", "board=loopback", "board.max_model_bytes=1000", f"hil.out={out}"
    )
    assert res.returncode == 1 and "exceeds this board's limit of 1000 bytes" in one_error_line(res)
    assert json.loads((out / "trace.json").read_text())["error_code"] == "too_large"


def test_timeout_is_a_failed_record_not_a_hang(tmp_path: Path) -> None:
    out = tmp_path / "slow"
    t0 = time.monotonic()
    res = simbench(
        "hil",
        "measure",
        "+policy=act_int8",
        "board=loopback",
        "board.slowdown=2000",
        "board.timeout_s=0.5",
        "hil.warmup=0",
        f"hil.out={out}",
        timeout=60,
    )
    assert res.returncode == 1 and "did not answer within 0.5 s" in one_error_line(res)
    assert time.monotonic() - t0 < 30
    assert json.loads((out / "trace.json").read_text())["error_code"] == "timeout"


@pytest.mark.parametrize(
    "args, key",
    [
        (["hil", "info", "board=lab"], "board.address is required"),
        (
            ["hil", "info", "board=lab", "board.address=127.0.0.1", "board.token_file=/nonexistent/token"],
            "board.token_file='/nonexistent/token'",
        ),
        (["hil", "info", "board=nope"], "board='nope' is unknown"),
        (["hil", "measure", "+policy=act_int8", "hil.count=0", "hil.out=OUT"], "hil.count=0 is not allowed"),
        (["hil", "measure", "+policy=smolvla_mixed", "policy.component_precision.vision=int3", "hil.out=OUT"],
         "policy.component_precision.vision='int3' is not allowed"),
        (["hil", "measure", "+policy=smolvla_mixed", "hil.inputs=scene", "hil.out=OUT"], "needs simbench ACT exports"),
        (["hil", "measure", "+policy=scripted", "hil.out=OUT"], "policy.model_path=None"),
        (["hil", "measure", "hil.model=/nonexistent.onnx", "hil.out=OUT"], "hil.model='/nonexistent.onnx'"),
        (["hil", "frobnicate"], "hil='frobnicate' is unknown"),
        (["hil", "measure", "+policy=act_int8", "hil.inputs=random", "hil.out=OUT"], "hil.inputs='random' is unknown"),
        (["run", "+policy=act_int8", "latency=board", "env=timing", "results_dir=OUT"], "needs an env with cameras"),
        (["run", "+policy=scripted", "latency=board", "results_dir=OUT"], "needs a policy with an ONNX model"),
    ],
)
def test_user_mistakes_one_line_exit_2_nothing_written(
    tmp_path: Path, args: list[str], key: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """In-process (the same entry point as ``python -m simbench``): checks happen before any work."""
    from simbench.__main__ import main

    out = tmp_path / "out"
    code = main([a.replace("OUT", str(out)) for a in args])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("error: ") and key in err[0], err
    assert not out.exists()
