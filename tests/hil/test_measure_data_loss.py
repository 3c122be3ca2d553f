"""Class 3 of issue 37: ``hil measure`` never loses a measurement.

A failed re-run into the same ``hil.out`` keeps the complete trace byte for byte (the failure goes
beside it), a full disk ends in a failed record whose trace holds whole rows only (or one error
line), and Ctrl-C leaves no trace without its record and no traceback."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, Any

import pytest

import simbench.hil.measure as measure_mod
from simbench.errors import RunFault
from simbench.hil.board import parse_board
from simbench.hil.measure import MeasureSettings, measure
from tests.hil.fake_board import FakeBoard, good, replace_op
from tests.hil.helpers import tiny_model

ROOT = Path(__file__).resolve().parents[2]
ROWS = 200


@pytest.fixture
def model(tmp_path: Path) -> Path:
    return tiny_model(tmp_path / "tiny.onnx")


def bench_rows(request: dict[str, Any]) -> list[dict[str, Any]]:
    """A healthy bench of ``ROWS`` inferences in two batches (latencies with many digits)."""
    batch, done = good(request)
    names = [m["name"] for m in request.get("models", [])]
    half = ROWS // 2
    return [{**batch, "latencies": {n: [0.001234567891 + i * 1e-7 for i in range(half)] for n in names}},
            {**batch, "latencies": {n: [0.002345678912 + i * 1e-7 for i in range(half)] for n in names}},
            {**done, "count": ROWS}]


def refuse_load(request: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"ok": False, "code": "bad_model", "error": "this board cannot load that model"}]


def run(port: int, token_file: Path, model: Path, out: Path) -> dict[str, Any]:
    board = parse_board({"name": "lab", "address": "127.0.0.1", "port": port, "token_file": str(token_file),
                         "timeout_s": 5.0})
    return measure(board, [("model", model)], MeasureSettings(ROWS, 0.0, 0, ROWS, 30.0, out), None, None, 1, "test")


def measured(token_file: Path, model: Path, out: Path) -> tuple[bytes, bytes]:
    with FakeBoard(replace_op("bench", bench_rows)) as board:
        record = run(board.port, token_file, model, out)
    assert record["complete"] is True and record["rows"] == ROWS, record
    return (out / "trace.csv").read_bytes(), (out / "trace.json").read_bytes()


def test_a_refused_rerun_keeps_the_complete_trace_byte_for_byte(token_file: Path, model: Path,
                                                                 tmp_path: Path) -> None:
    out = tmp_path / "out"
    trace, record = measured(token_file, model, out)
    assert trace.count(b"\n") == ROWS + 1
    with FakeBoard(replace_op("load", refuse_load)) as board:
        failed = run(board.port, token_file, model, out)
    assert failed["complete"] is False and failed["error_code"] == "bad_model", failed
    assert (out / "trace.csv").read_bytes() == trace and (out / "trace.json").read_bytes() == record
    beside = json.loads((out / "trace.failed.json").read_text())
    assert beside["complete"] is False and "cannot load" in beside["error"] and beside["trace"] == "trace.failed.csv"
    assert (out / "trace.failed.csv").read_text() == "latency_s\n"
    assert sorted(p.name for p in out.iterdir()) == ["trace.csv", "trace.failed.csv", "trace.failed.json",
                                                     "trace.json"]  # no temporary files left


class FullDisk:
    """A text file that takes ``room`` characters, then writes part of the next write and raises
    ENOSPC, as a disk that fills mid-row does (written through at once, so nothing hides in a buffer)."""

    def __init__(self, f: IO[str], room: int) -> None:
        self._f, self._room = f, room

    def write(self, text: str) -> int:
        if len(text) > self._room:
            self._f.write(text[: self._room])  # the disk fills mid-number
            self._f.flush()
            self._room = 0
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self._room -= len(text)
        self._f.write(text)
        self._f.flush()
        return len(text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._f, name)

    def __enter__(self) -> FullDisk:
        return self

    def __exit__(self, *exc: object) -> None:
        self._f.close()


@pytest.mark.parametrize("room", [5, 10 + 21 * 37 + 9])  # inside the header; mid-number in row 38
def test_a_full_disk_gives_a_failed_record_with_whole_rows_only(room: int, token_file: Path, model: Path,
                                                                tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_open = open

    def full_open(path: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        f = real_open(path, mode, *args, **kwargs)
        return FullDisk(f, room) if ".partial" in str(path) and "w" in mode else f

    monkeypatch.setattr(measure_mod, "open", full_open, raising=False)
    out = tmp_path / "out"
    with FakeBoard(replace_op("bench", bench_rows)) as board:
        record = run(board.port, token_file, model, out)
    assert record["complete"] is False and record["error_code"] == "disk", record
    assert "No space left" in record["error"]
    text = (out / "trace.csv").read_text()
    assert text == "" or text.endswith("\n"), text[-40:]  # never a row cut mid-number
    lines = text.splitlines()
    assert record["rows"] == max(len(lines) - 1, 0)
    for line in lines[1:]:
        float(line)
    assert json.loads((out / "trace.json").read_text())["rows"] == record["rows"]


def test_a_full_disk_at_the_record_is_one_error_and_keeps_the_complete_measurement(
        token_file: Path, model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out"
    trace, record = measured(token_file, model, out)

    def no_room(fd: int, *args: Any, **kwargs: Any) -> Any:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(measure_mod.os, "fdopen", no_room)
    with FakeBoard(replace_op("bench", bench_rows)) as board, pytest.raises(RunFault, match="No space left"):
        run(board.port, token_file, model, out)
    assert (out / "trace.csv").read_bytes() == trace and (out / "trace.json").read_bytes() == record
    assert sorted(p.name for p in out.iterdir()) == ["trace.csv", "trace.json"]


def test_ctrl_c_mid_measure_leaves_no_trace_without_its_record(tmp_path: Path) -> None:
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "hil" / "agent"), str(ROOT),
                                                         os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen(
        [sys.executable, "-m", "simbench", "hil", "measure", "board=loopback",
         f"hil.model={tiny_model(tmp_path / 'tiny.onnx')}", "hil.count=10000000", "hil.max_count=10000000",
         "hil.min_duration_s=60", "hil.max_duration_s=120", f"hil.out={out}"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        # as from a terminal: a background job (nohup, CI runners) inherits SIGINT ignored
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        deadline = time.monotonic() + 90
        # wait until rows are streaming into the temporary trace
        while not any(p.name.endswith(".partial") and p.stat().st_size > 200 for p in out.glob(".*")):
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
            time.sleep(0.1)
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr and "interrupted" in stderr, stderr
    assert not (out / "trace.csv").exists() or (out / "trace.json").exists()
    assert not (out / "trace.json").exists() or (out / "trace.csv").exists()
    assert not [p.name for p in out.iterdir() if p.name.startswith(".")], list(out.iterdir())
