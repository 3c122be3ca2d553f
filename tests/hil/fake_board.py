"""A misbehaving board for tests: a TCP server on 127.0.0.1 that speaks the frame format but answers
whatever a test scripts (malformed replies, absurd values, trickled or dropped replies).

``FakeBoard(script)`` serves each connection in its own daemon thread; for every request it calls
``script(request)`` and performs the returned actions in order: a ``dict`` is sent as one reply
frame, :class:`Trickle` sends bytes one at a time with a pause, :class:`Drop` closes the connection,
``bytes`` are sent raw. :func:`good` gives the well-formed reply a real agent would send, so a test
changes only the part it is about. Everything stops at :meth:`FakeBoard.close` (the fixtures call
it), and every socket has a timeout, so nothing outlives a test.
"""

from __future__ import annotations

import math
import socket
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
from simbench_agent.protocol import PROTOCOL_VERSION, encode_tensor, frame, read_frame, unpack

TOKEN = "fake-board-token-0123456789"
SHA = "0" * 64


@dataclass(frozen=True)
class Trickle:
    """Send ``data`` one byte every ``every_s`` seconds (a slow or stuck board)."""

    data: bytes
    every_s: float = 0.5


@dataclass(frozen=True)
class Drop:
    """Close the connection now."""


Action = dict[str, Any] | bytes | Trickle | Drop
Script = Callable[[dict[str, Any]], Iterable[Action]]

FACTS: dict[str, Any] = {
    "name": "fake",
    "machine": "aarch64",
    "cpu_model": "Arm Cortex-A55",
    "cpu_cores": 6,
    "kernel": "6.6",
    "os": "Linux",
    "python": "3.11",
    "onnxruntime": "1.20.0",
    "providers": ["CPUExecutionProvider"],
    "governor": "performance",
    "freq_mhz": 1800.0,
    "temp_c": 45.0,
    "agent_version": "0.1.0",
    "max_message_bytes": 40 << 20,
    "max_model_bytes": 32 << 20,
}


def good(request: dict[str, Any]) -> list[dict[str, Any]]:
    """The replies a healthy agent gives ``request`` (one model ``y = x``-shaped, latency 1 ms)."""
    op = request.get("op")
    if op == "hello":
        return [{"ok": True, "version": PROTOCOL_VERSION, "facts": dict(FACTS), "capabilities": ["vla"]}]
    if op == "load":
        return [
            {
                "ok": True,
                "sha256": request.get("sha256"),
                "cached": True,
                "load_s": 0.01,
                "size_bytes": 1234,
                "inputs": [{"name": "x", "dtype": "float32", "shape": [1, 4]}],
                "outputs": [{"name": "y", "dtype": "float32", "shape": [1, 4]}],
                "metadata": {},
                "providers": ["CPUExecutionProvider"],
                "session": {"threads": 1, "providers": ["CPUExecutionProvider"]},
            }
        ]
    if op == "bench":
        names = [m["name"] for m in request.get("models", [])]
        stats = {"count": 3, "mean_s": 0.001, "min_s": 0.001, "max_s": 0.001, "p50_s": 0.001, "p90_s": 0.001,
                 "p99_s": 0.001, "p90_early_stopping_s": None, "p99_early_stopping_s": None}
        return [
            {"ok": True, "event": "batch", "latencies": {n: [0.001] * 3 for n in names}, "thermal": []},
            {"ok": True, "event": "done", "count": 3, "warmup": 0, "duration_s": 0.003, "stats": stats,
             "components": {}, "facts": dict(FACTS)},
        ]
    if op == "infer":
        return [{"ok": True, "outputs": [encode_tensor(np.zeros((1, 4), np.float32))], "latency_s": 0.001}]
    if op == "vla":
        noise = request["noise"]
        steps = int(request.get("num_steps", 1))
        return [{"ok": True, "chunk": noise, "components": {"vision": 0.001, "prefill": 0.001, "expert": 0.001 * steps},
                 "steps": [0.001] * steps, "latency_s": 0.002 + 0.001 * steps}]
    if op == "stub":
        rows, cols = request.get("chunk", [1, 1])
        return [{"ok": True, "chunk": encode_tensor(np.zeros((rows, cols), np.float32)), "latency_s": 0.001}]
    return [{"ok": True}]


def replace_op(op: str, replies: Callable[[dict[str, Any]], Iterable[Action]]) -> Script:
    """A healthy board except that requests ``op`` get ``replies(request)``."""
    return lambda request: replies(request) if request.get("op") == op else good(request)


class FakeBoard:
    """The server; ``port`` is where it listens. Use as a context manager."""

    def __init__(self, script: Script = good) -> None:
        self.script = script
        self.requests: list[dict[str, Any]] = []
        self._stop = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.1)
        self.port = int(self._listener.getsockname()[1])
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                sock, _ = self._listener.accept()
            except OSError:
                continue
            threading.Thread(target=self._serve, args=(sock,), daemon=True).start()

    def _serve(self, sock: socket.socket) -> None:
        with sock:
            sock.settimeout(5.0)
            while not self._stop.is_set():
                try:
                    request = unpack(read_frame(sock, 64 << 20, time.monotonic() + 5.0))
                except Exception:  # noqa: BLE001 - the client went away or timed out
                    return
                self.requests.append(request)
                for action in self.script(request):
                    if not self._act(sock, action):
                        return

    def _act(self, sock: socket.socket, action: Action) -> bool:
        try:
            if isinstance(action, Drop):
                return False
            if isinstance(action, Trickle):
                for i in range(len(action.data)):
                    if self._stop.wait(action.every_s):
                        return False
                    sock.sendall(action.data[i : i + 1])
                return True
            sock.sendall(action if isinstance(action, bytes) else frame(action))
            return True
        except OSError:
            return False

    def close(self) -> None:
        self._stop.set()
        self._listener.close()
        self._thread.join(2)

    def __enter__(self) -> FakeBoard:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def bad_latencies() -> list[Any]:
    """Latency values no board can have measured."""
    return [["abc"], [math.nan], [-1.0], [math.inf], [1e300], [True], [None]]


__all__ = ["FACTS", "SHA", "TOKEN", "Drop", "FakeBoard", "Trickle", "bad_latencies", "good", "replace_op"]
