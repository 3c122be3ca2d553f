"""The VLA on the board: the multi-graph ``vla`` op (vision, prefill once, the expert's denoising
steps over its KV cache, all on the agent), ``hil measure`` per component, ``latency=trace`` from the
measured components, ``latency=board`` for smolvla_*, and the protocol's capability check."""

from __future__ import annotations

import csv
import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from simbench_agent.protocol import encode_tensor

from simbench.hil.client import BoardClient, BoardError
from simbench.hil.replies import ReplyError, vla
from simbench.hil.spec import host_session_spec
from simbench.policies.request import PolicyRequest
from tests.hil.fake_board import FACTS, TOKEN, FakeBoard, good, replace_op
from tests.hil.helpers import start_agent

ROOT = Path(__file__).resolve().parents[2]
MIXED = {"vision": "int8", "prefill": "int8", "expert": "fp32"}


def simbench(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "simbench", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout)


def host_policy(noise_scale: float = 0.0) -> Any:
    from simbench.policies.smolvla.onnx_runtime import SmolVLAOnnxPolicy, component_paths

    return SmolVLAOnnxPolicy(component_paths("smolvla", MIXED), threads=1, control_hz=30.0, noise_scale=noise_scale)


def observation(policy: Any, seed: int = 0) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    return {
        "observation.state": rng.standard_normal(policy.state_dim).astype(np.float32),
        **{f"observation.images.{c}": rng.integers(0, 256, (*policy.image_size, 3), dtype=np.uint8)
           for c in policy.cameras},
    }


@pytest.mark.parametrize("noise_scale", [0.0, 1.0])
def test_vla_on_the_board_equals_the_host_runtime(noise_scale: float) -> None:
    """Same inputs, same noise (the host draws it): the board's chunk is the host runtime's within 1e-5,
    and the reply has seconds per component and per expert step."""
    from simbench.hil.board import parse_board
    from simbench.hil.board_policy import BoardLatency

    host = host_policy(noise_scale)
    cfg = {"name": "smolvla_mixed", "arch": "smolvla", "model_path": "smolvla", "component_precision": MIXED,
           "threads": 1, "fps": 30.0, "noise_scale": noise_scale}
    latency = BoardLatency(parse_board({"name": "loopback", "port": 0}))
    board = latency.open_policy(cfg, None)
    try:
        for seed in (0, 1):
            host.reset(seed)
            board.reset(seed)
            obs = observation(host, seed)
            np.testing.assert_allclose(board.predict_chunk(PolicyRequest(obs)), host.predict_chunk(PolicyRequest(obs)), atol=1e-5, rtol=0)
            times = latency.draw(np.random.default_rng(0), 0.0)
            assert set(times.components or {}) == {"vision", "prefill", "expert"}
            assert times.total == pytest.approx(sum(times.components.values()))  # type: ignore[union-attr]
        with pytest.raises(RuntimeError, match="no measurement"):
            latency.draw(np.random.default_rng(0), 0.0)
    finally:
        board.close()
    info = latency.describe()
    assert info["components"] == ["vision", "prefill", "expert"] and info["precision"]["expert"] == "fp32"


@pytest.mark.parametrize("vjp", ["identity", "fd"])
def test_rtc_guided_chunks_on_the_board_equal_the_host_runtime(vjp: str) -> None:
    """Real-Time Chunking on the board: the same guidance (target and weights computed on the host,
    the guided steps on the board) gives the host's chunk within 1e-5; fd's extra calls are timed."""
    from simbench.hil.board import parse_board
    from simbench.hil.board_policy import BoardLatency
    from simbench.policies.smolvla.onnx_runtime import SmolVLAOnnxPolicy, component_paths
    from simbench.policies.smolvla.rtc import RTCConfig

    rtc = {"vjp": vjp}
    host = SmolVLAOnnxPolicy(component_paths("smolvla", MIXED), threads=1, control_hz=30.0,
                             rtc=RTCConfig(True, vjp=vjp))
    cfg = {"name": "smolvla_mixed", "arch": "smolvla", "model_path": "smolvla", "component_precision": MIXED,
           "threads": 1, "fps": 30.0, "rtc": rtc, "rtc_enabled": True}
    latency = BoardLatency(parse_board({"name": "loopback", "port": 0}))
    board = latency.open_policy(cfg, None)
    try:
        obs = observation(host, 0)
        plain = host.predict_chunk(PolicyRequest(obs))
        prefix = plain[:20] + 0.05
        request = PolicyRequest(observation(host, 1), 0, prefix[0], 0, prefix[1:], 6)
        guided_host = host.predict_chunk(request)
        guided_board = board.predict_chunk(request)
        np.testing.assert_allclose(guided_board, guided_host, atol=1e-5, rtol=0)
        assert not np.allclose(guided_host, host.predict_chunk(PolicyRequest(observation(host, 1))), atol=1e-3)
        times = latency.draw(np.random.default_rng(0), 0.0)
        assert times.components is not None and times.components["expert"] > 0
    finally:
        board.close()


def test_measure_writes_a_column_and_percentiles_per_component_and_trace_feeds_the_stages(tmp_path: Path) -> None:
    out = tmp_path / "m"
    res = simbench("hil", "measure", "+policy=smolvla_mixed", "board=loopback", "hil.count=20", "hil.warmup=1",
                   f"hil.out={out}")
    assert res.returncode == 0, res.stderr
    with open(out / "trace.csv") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["latency_s", "vision", "prefill", "expert"] and len(rows) >= 20
    assert all(float(r["latency_s"]) == pytest.approx(sum(float(r[c]) for c in ("vision", "prefill", "expert")))
               for r in rows)
    record = json.loads((out / "trace.json").read_text())
    assert record["complete"] and record["precision"] == "mixed"
    assert set(record["components_p"]) == {"vision", "prefill", "expert"}
    for p in record["components_p"].values():
        assert 0 < p["p50_s"] <= p["p90_s"] <= p["p99_s"] < 1.0
    assert "expert" in res.stdout and "p99" in res.stdout

    # latency=trace: the pipeline stages of conf/policy/smolvla_mixed.yaml take the measured component times
    from simbench.latency.trace import TraceLatency

    src = TraceLatency(out / "trace.csv")
    assert src.components == ("vision", "prefill", "expert")
    res = simbench("run", "+policy=smolvla_mixed", "env=timing", "env.duration_s=3", "latency=trace",
                   f"latency.path={out / 'trace.csv'}", "plots=false", f"results_dir={tmp_path / 'r'}")
    assert res.returncode == 0, res.stderr
    (run,) = (tmp_path / "r" / "runs").iterdir()
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["latency_source"]["components"] == ["vision", "prefill", "expert"]
    import pyarrow.parquet as pq

    table = pq.read_table(run / "timeline.parquet").to_pandas()
    if "stage" in table.columns and "start" in table.columns and "end" in table.columns:
        durations = (table["end"] - table["start"])[table["stage"] == "vision"]
        measured = {float(r["vision"]) for r in rows}
        assert len(durations) and all(min(abs(d - m) for m in measured) < 1e-9 for d in durations)


def test_latency_board_runs_smolvla_mixed(tmp_path: Path) -> None:
    res = simbench("run", "+policy=smolvla_mixed", "latency=board", "board=loopback", "episodes=1",
                   "env.time_limit_s=4", "plots=false", "progress=false", f"results_dir={tmp_path}")
    assert res.returncode == 0, res.stderr
    (run,) = (tmp_path / "runs").iterdir()
    metrics = json.loads((run / "metrics.json").read_text())
    src = metrics["latency_source"]
    assert src["kind"] == "board" and src["components"] == ["vision", "prefill", "expert"]
    assert set(src["model_sha256"]) == {"vision", "prefill", "expert"} and metrics["inference_count"] >= 1


# -- protocol: capability, old agent, bad requests, the reply schema -----------------------------------


def connect(board: FakeBoard) -> BoardClient:
    return BoardClient("127.0.0.1", board.port, TOKEN, timeout_s=3.0, connect_timeout_s=2.0)


def args() -> tuple[dict[str, str], dict[str, Any], dict[str, Any], np.ndarray, int]:
    return {c: "a" * 64 for c in ("vision", "prefill", "expert")}, {}, {}, np.zeros((1, 4, 2), np.float32), 3


def test_a_new_host_and_an_old_agent_is_one_line() -> None:
    """An agent without the capability (an older simbench-agent) is refused on the host, in one line,
    before anything is sent; and an old agent sent ``vla`` anyway answers one line (unknown op)."""

    def old(request: dict[str, Any]) -> list[dict[str, Any]]:
        return [{"ok": True, "version": 1, "facts": dict(FACTS)}] if request.get("op") == "hello" else good(request)

    with FakeBoard(old) as board, connect(board) as client:
        with pytest.raises(BoardError) as err:
            client.vla(*args())
        assert err.value.code == "version" and "no multi-graph 'vla' op" in str(err.value)
        assert "\n" not in str(err.value)

    refuse = replace_op("vla", lambda r: [{"ok": False, "code": "protocol",
                                           "error": "op 'vla' is unknown; ops: hello, load, bench, infer, stub, bye"}])
    with FakeBoard(refuse) as board, connect(board) as client:
        with pytest.raises(BoardError, match="op 'vla' is unknown") as err:
            client.vla(*args())
        assert "\n" not in str(err.value)


def test_the_fake_boards_vla_reply_passes_the_schema() -> None:
    with FakeBoard() as board, connect(board) as client:
        reply = client.vla(*args())
    assert reply.chunk.shape == (1, 4, 2) and len(reply.steps) == 3 and set(reply.components) == {
        "vision", "prefill", "expert"}


def good_reply() -> dict[str, Any]:
    return {"ok": True, "chunk": encode_tensor(np.zeros((1, 4, 2), np.float32)),
            "components": {"vision": 0.001, "prefill": 0.001, "expert": 0.003}, "steps": [0.001] * 3,
            "latency_s": 0.005}


@pytest.mark.parametrize(
    "change, why",
    [
        ({"chunk": encode_tensor(np.full((1, 4, 2), np.nan, np.float32))}, "NaN"),
        ({"chunk": encode_tensor(np.zeros((1, 5, 2), np.float32))}, "chunk must be float32"),
        ({"components": {"vision": 0.001, "prefill": 0.001}}, "exactly vision, prefill, expert"),
        ({"components": {"vision": math.nan, "prefill": 0.001, "expert": 0.001}}, "finite"),
        ({"steps": [0.001] * 2}, "2 entries for 3 steps"),
        ({"latency_s": -1.0}, "latency_s"),
    ],
)
def test_a_bad_vla_reply_is_refused(change: dict[str, Any], why: str) -> None:
    with pytest.raises(ReplyError, match=why):
        vla({**good_reply(), **change}, 3, (1, 4, 2))


def test_the_agent_refuses_bad_vla_requests_in_one_line() -> None:
    agent = start_agent()
    try:
        from simbench.policies.smolvla.onnx_runtime import component_paths

        paths = component_paths("smolvla", MIXED)
        with BoardClient("127.0.0.1", agent.port, agent.token, timeout_s=30.0) as client:
            assert "vla" in client.capabilities
            shas = {c: client.load(p, host_session_spec(1)).sha256 for c, p in paths.items()}
        for request, why in [
            ({"graphs": {"vision": shas["vision"]}}, "must map exactly vision, prefill, expert"),
            ({"num_steps": 0}, "'num_steps'=0 must be in"),
            ({"noise": encode_tensor(np.zeros((1, 4), np.float32))}, "'noise' must be a float32 tensor"),
        ]:
            with BoardClient("127.0.0.1", agent.port, agent.token, timeout_s=30.0) as client:
                base = {"op": "vla", "graphs": shas, "vision": {}, "prefill": {},
                        "noise": encode_tensor(np.zeros((1, 4, 2), np.float32)), "num_steps": 2}
                with pytest.raises(BoardError, match=why) as err:
                    client.call({**base, **request})
                assert "\n" not in str(err.value)
    finally:
        agent.stop()
