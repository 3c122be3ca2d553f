"""A real ``simbench-agent serve`` on loopback: garbage, pickles, 64 MB and wrong tokens are refused
and the agent keeps serving; the host's ``hil info`` works with the right token only."""

from __future__ import annotations

import os
import pickle
import random
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from simbench_agent.protocol import PROTOCOL_VERSION, pack, unpack

from simbench.hil.client import BoardClient, BoardError
from tests.hil.helpers import frame, raw_exchange

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, Path]]:
    """``simbench-agent serve --address 127.0.0.1 --port P --token-file F`` as a user runs it."""
    d = tmp_path_factory.mktemp("agent")
    token = d / "token"
    token.write_text("s3cret-token-0123456789abcdef\n")
    token.chmod(0o600)
    port = free_port()
    proc = subprocess.Popen(
        [
            "simbench-agent",
            "serve",
            "--address",
            "127.0.0.1",
            "--port",
            str(port),
            "--token-file",
            str(token),
            "--cache-dir",
            str(d / "cache"),
            "--name",
            "served",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().startswith("simbench-agent listening on 127.0.0.1:")
        yield port, token
    finally:
        proc.terminate()
        proc.wait(5)


def hello_ok(port: int, token: Path) -> None:
    with BoardClient("127.0.0.1", port, token.read_text().strip(), timeout_s=5) as client:
        assert client.facts["name"] == "served"


def test_garbage_pickle_and_64mb_refused_agent_keeps_running(served: tuple[int, Path]) -> None:
    port, token = served
    rng = random.Random(0)
    for _ in range(20):
        raw_exchange(port, bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 300))), read_timeout=2)
    reply = unpack(
        raw_exchange(port, frame(pickle.dumps({"op": "hello", "version": 1, "token": token.read_text().strip()})))[4:]
    )
    assert reply["ok"] is False and reply["code"] == "protocol"
    # 64 MB: refused from its 4-byte header, before any of the body is read.
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(struct.pack(">I", 64 * 1024 * 1024) + b"\0" * 65536)
        data = sock.recv(65536)
    reply = unpack(data[4:])
    assert reply["ok"] is False and "exceeds the cap" in reply["error"]
    # A truncated frame (header promises more than arrives, then the sender closes).
    raw_exchange(port, struct.pack(">I", 100) + b"\x81", read_timeout=2)
    hello_ok(port, token)


def test_wrong_missing_token_and_version_refused(served: tuple[int, Path]) -> None:
    port, token = served
    for message in (
        {"op": "hello", "version": PROTOCOL_VERSION, "token": "wrong-token-0123456789"},
        {"op": "hello", "version": PROTOCOL_VERSION},
    ):
        reply = unpack(raw_exchange(port, frame(pack(message)))[4:])
        assert reply == {"ok": False, "code": "auth", "error": reply["error"]}
    with pytest.raises(BoardError, match="token refused") as err:
        BoardClient("127.0.0.1", port, "wrong-token-0123456789", timeout_s=5)
    assert err.value.code == "auth"
    with pytest.raises(BoardError, match="protocol version 2 is not supported"):
        BoardClient("127.0.0.1", port, token.read_text().strip(), timeout_s=5, version=2)
    hello_ok(port, token)


def test_hil_info_with_wrong_then_right_token(served: tuple[int, Path], tmp_path: Path) -> None:
    port, token = served
    wrong = tmp_path / "wrong"
    wrong.write_text("not-the-token-0123456789\n")
    env = {**os.environ, "MUJOCO_GL": "egl"}
    base = [
        sys.executable,
        "-m",
        "simbench",
        "hil",
        "info",
        "board=lab",
        "board.address=127.0.0.1",
        f"board.port={port}",
    ]
    bad = subprocess.run(
        [*base, f"board.token_file={wrong}"], cwd=ROOT, capture_output=True, text=True, env=env, timeout=60
    )
    assert bad.returncode == 1 and bad.stderr.strip().splitlines() == [
        f"error: board 127.0.0.1:{port} refused: token refused"
    ]
    good = subprocess.run(
        [*base, f"board.token_file={token}"], cwd=ROOT, capture_output=True, text=True, env=env, timeout=60
    )
    assert good.returncode == 0, good.stderr
    assert "served at 127.0.0.1" in good.stdout and "onnxruntime" in good.stdout


def test_idle_unauthenticated_connection_is_closed(tmp_path: Path) -> None:
    """A silent peer cannot hold a slot: the hello must come within the hello timeout."""
    import threading

    from simbench_agent.server import Agent, AgentConfig, AgentServer

    server = AgentServer("127.0.0.1", 0, Agent(AgentConfig(token="x" * 20, cache_dir=tmp_path, hello_timeout_s=0.3)))
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        with socket.create_connection(server.server_address[:2], timeout=5) as sock:
            t0 = time.monotonic()
            assert sock.recv(10) == b""
            assert time.monotonic() - t0 < 3
    finally:
        server.shutdown()
        server.server_close()
