"""The host against a misbehaving board (tests/hil/fake_board.py): every malformed, absurd, trickled
or dropped reply ends in one :class:`BoardError` (a failed record), within ``board.timeout_s``,
never a traceback, a hang, or a bad value passed on."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from simbench_agent.protocol import encode_tensor, frame

from simbench.hil.board import parse_board
from simbench.hil.client import BoardClient, BoardError
from simbench.hil.measure import MeasureSettings, measure
from tests.hil.fake_board import FACTS, TOKEN, Drop, FakeBoard, Trickle, bad_latencies, good, replace_op
from tests.hil.helpers import tiny_model

ROOT = Path(__file__).resolve().parents[2]


def connect(board: FakeBoard, timeout_s: float = 3.0) -> BoardClient:
    return BoardClient("127.0.0.1", board.port, TOKEN, timeout_s=timeout_s, connect_timeout_s=2.0)


def hello_with(**changes: Any) -> FakeBoard:
    def reply(request: dict[str, Any]) -> list[dict[str, Any]]:
        base = good(request)[0]
        base.update(changes)
        for key, value in changes.items():
            if value is KeyError:
                del base[key]
        return [base]

    return FakeBoard(replace_op("hello", reply))


# -- deadlines --------------------------------------------------------------------------------------


def test_a_trickled_reply_fails_at_the_deadline_not_per_byte() -> None:
    """One byte every 0.3 s keeps each read alive; the deadline covers the whole reply."""
    with FakeBoard(replace_op("hello", lambda r: [Trickle(frame(good(r)[0]), 0.3)])) as board:
        t0 = time.monotonic()
        with pytest.raises(BoardError, match=r"did not answer within 1 s") as err:
            connect(board, timeout_s=1.0)
        assert err.value.code == "timeout"
        assert time.monotonic() - t0 < 2.0


def test_a_dropped_reply_is_a_board_error() -> None:
    payload = frame(good({"op": "hello"})[0])
    with FakeBoard(replace_op("hello", lambda r: [payload[:7], Drop()])) as board:
        with pytest.raises(BoardError, match="closed the connection") as err:
            connect(board)
        assert err.value.code == "dropped"


def test_hil_info_against_a_board_that_never_finishes_ends_on_its_deadline(token_file: Path) -> None:
    """The must-show command, as written, against a board trickling its hello (1 byte per 2 s: 64 s
    without a deadline on the whole reply). On a quiet machine it ends in ~3.7 s; the bound leaves
    room for the interpreter's start-up on a loaded CI machine (the deadline itself is the in-process
    test above)."""
    with FakeBoard(replace_op("hello", lambda r: [Trickle(frame(good(r)[0]), 2.0)])) as board:
        t0 = time.monotonic()
        res = subprocess.run(
            [sys.executable, "-m", "simbench", "hil", "info", "board=lab", "board.address=127.0.0.1",
             f"board.port={board.port}", f"board.token_file={token_file}", "board.timeout_s=3"],
            cwd=ROOT, capture_output=True, text=True, timeout=30, env={**os.environ, "MUJOCO_GL": "egl"},
        )
        wall = time.monotonic() - t0
    assert res.returncode == 1, res.stderr
    assert wall < 15.0, wall
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "within 3 s" in lines[0], res.stderr
    assert "Traceback" not in res.stderr


# -- malformed and absurd replies -------------------------------------------------------------------


@pytest.mark.parametrize(
    "changes, why",
    [
        ({"facts": KeyError}, "'facts' is missing"),
        ({"facts": ["a", "b"]}, "facts must be a map"),
        ({"ok": "yes"}, "'ok' must be true or false"),
        ({"ok": 1}, "'ok' must be true or false"),
        ({"version": "1"}, "'version' must be an integer"),
        ({"facts": {"temp_c": math.nan}}, "facts.temp_c must be finite"),
        ({"facts": {f"k{i}": i for i in range(100)}}, "at most 64"),
    ],
)
def test_a_malformed_hello_is_a_protocol_error(changes: dict[str, Any], why: str) -> None:
    with hello_with(**changes) as board:
        with pytest.raises(BoardError, match=why) as err:
            connect(board)
        assert err.value.code == "protocol"


def test_ansi_escapes_in_board_text_are_made_visible() -> None:
    evil = "\x1b[2J\x1b[31mFAKE OK\x1b[0m\r\nsecond line\x07"
    refuse = replace_op("load", lambda r: [{"ok": False, "code": "x\x1b[0m", "error": evil}])
    with FakeBoard(refuse) as board, hello_with(facts={**FACTS, "name": evil}) as named:
        with connect(named) as client:
            assert "\x1b" not in client.facts["name"] and "\\x1b[2J" in client.facts["name"]
        with connect(board) as client, pytest.raises(BoardError) as err:
            client.load(Path(__file__), client_spec())
    text = str(err.value)
    assert not any(ord(c) < 32 or ord(c) == 127 for c in text + err.value.code), repr(text)
    assert "\\x1b[31mFAKE OK" in text


def client_spec() -> Any:
    from simbench.hil.spec import host_session_spec

    return host_session_spec(1, ("CPUExecutionProvider",))


def test_a_load_reply_without_size_bytes_is_a_protocol_error(tmp_path: Path) -> None:
    def reply(request: dict[str, Any]) -> list[dict[str, Any]]:
        base = good(request)[0]
        del base["size_bytes"]
        return [base]

    with FakeBoard(replace_op("load", reply)) as board, connect(board) as client:
        with pytest.raises(BoardError, match="'size_bytes' is missing"):
            client.load(tiny_model(tmp_path / "m.onnx"), client_spec())


@pytest.mark.parametrize("latency", [math.nan, -5.0, math.inf, 1e300, "abc", True])
def test_absurd_infer_latencies_and_nan_actions_are_refused(latency: Any) -> None:
    bad_latency = replace_op("infer", lambda r: [{**good(r)[0], "latency_s": latency}])
    with FakeBoard(bad_latency) as board, connect(board) as client:
        with pytest.raises(BoardError, match="latency_s") as err:
            client.infer("0" * 64, {"x": np.zeros((1, 4), np.float32)})
        assert err.value.code == "protocol"


def test_nan_actions_never_reach_the_simulator() -> None:
    nan_out = replace_op(
        "infer", lambda r: [{**good(r)[0], "outputs": [encode_tensor(np.full((1, 4), np.nan, np.float32))]}]
    )
    with FakeBoard(nan_out) as board, connect(board) as client:
        with pytest.raises(BoardError, match="NaN or infinite"):
            client.infer("0" * 64, {"x": np.zeros((1, 4), np.float32)})


# -- hil measure against the fake board -------------------------------------------------------------


@pytest.fixture
def model(tmp_path: Path) -> Path:
    return tiny_model(tmp_path / "tiny.onnx")


def run_measure(port: int, token_file: Path, model: Path, out: Path) -> dict[str, Any]:
    board = parse_board({"name": "lab", "address": "127.0.0.1", "port": port, "token_file": str(token_file),
                         "timeout_s": 3.0})
    settings = MeasureSettings(3, 0.0, 0, 3, 5.0, out)
    return measure(board, [("model", model)], settings, None, None, 1, "test")


@pytest.mark.parametrize("latencies", bad_latencies())
def test_bad_bench_latencies_fail_the_measurement(latencies: list[Any], token_file: Path, model: Path,
                                                  tmp_path: Path) -> None:
    def bench(request: dict[str, Any]) -> list[dict[str, Any]]:
        batch, done = good(request)
        return [{**batch, "latencies": {"model": latencies}}, done]

    out = tmp_path / "out"
    with FakeBoard(replace_op("bench", bench)) as board:
        record = run_measure(board.port, token_file, model, out)
    assert record["complete"] is False and record["error_code"] == "protocol", record
    assert "latencies" in record["error"]
    assert json.loads((out / "trace.json").read_text())["rows"] == 0
    assert (out / "trace.csv").read_text() == "latency_s\n"


def test_good_fake_board_measures(token_file: Path, model: Path, tmp_path: Path) -> None:
    """The fixture's healthy replies pass the schema (so the failures above are the values')."""
    with FakeBoard() as board:
        record = run_measure(board.port, token_file, model, tmp_path / "out")
    assert record["complete"] is True and record["rows"] == 3, record



def test_board_error_escapes_reach_neither_the_terminal_nor_the_report(token_file: Path, tmp_path: Path) -> None:
    """Class 14 end to end: a board refusal whose text recolours the terminal, through ``run
    latency=board`` (a sweep job that fails) and ``report``: visible as ``\\x1b``, never raw."""
    evil = "\x1b[31mboom\x1b[0m\x07 \x1b]0;pwned\x07"

    def refuse(request: dict[str, Any]) -> list[dict[str, Any]]:
        return [{"ok": False, "code": "bad\x1b[2J", "error": evil}]

    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "hil" / "agent"), str(ROOT),
                                                         os.environ.get("PYTHONPATH", "")])}
    sweep = tmp_path / "sweep"
    with FakeBoard(replace_op("load", refuse)) as board:
        res = subprocess.run(
            [sys.executable, "-m", "simbench", "run", "-m", "+policy=act_int8", "latency=board", "board=lab",
             "board.address=127.0.0.1", f"board.port={board.port}", f"board.token_file={token_file}",
             "board.timeout_s=5", "episodes=1", "plots=false", "progress=false", f"hydra.sweep.dir={sweep}"],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=240,
        )
    assert res.returncode == 1, res.stderr
    assert "\x1b" not in res.stdout + res.stderr and "\x07" not in res.stderr
    assert "\\x1b[31mboom" in res.stderr, res.stderr
    rep = subprocess.run([sys.executable, "-m", "simbench", "report", str(sweep)], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=120)
    assert rep.returncode == 0, rep.stderr
    assert "\x1b" not in rep.stdout + rep.stderr
    for name in ("summary.md", "summary.csv", "index.html"):
        text = (sweep / name).read_text()
        assert "\x1b" not in text and "\x07" not in text, name
    assert "\\x1b[31mboom" in (sweep / "summary.md").read_text()
    # a status.json is a file like any other: raw escapes written there (an older simbench, a hand
    # edit) are made visible by the report too
    (status,) = sweep.glob("**/status.json")
    status.write_text(json.dumps({**json.loads(status.read_text()), "status": "failed\x1b[5m", "error": evil}))
    rep = subprocess.run([sys.executable, "-m", "simbench", "report", str(sweep)], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=120)
    assert rep.returncode == 0 and "\x1b" not in rep.stdout + rep.stderr, rep.stderr
    for name in ("summary.md", "summary.csv", "index.html"):
        assert "\x1b" not in (sweep / name).read_text(), name
