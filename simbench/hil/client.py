"""The host's side of the board protocol: one authenticated connection, a deadline on every call.

Every failure to talk to the board (unreachable, refused token, another protocol version, a timeout,
the connection dropped, an error the agent reports) becomes a :class:`BoardError` whose text is one
line naming the board and the reason; callers turn it into a failed record, never a hang.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from simbench_agent.protocol import (
    DEFAULT_MAX_MESSAGE_BYTES,
    PROTOCOL_VERSION,
    ConnectionClosed,
    ProtocolError,
    decode_tensor,
    encode_tensors,
    frame,
    read_frame,
    receive,
    send,
    unpack,
)
from simbench_agent.session import SessionSpec

from simbench.errors import RunFault
from simbench.provenance import file_sha256


class BoardError(RunFault):
    """The board could not do what was asked; the message is one line. ``code`` is the agent's or ours."""

    def __init__(self, message: str, code: str = "board") -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class StubReply:
    """One ``stub`` call, timed on the host (``perf_counter`` seconds)."""

    chunk: np.ndarray
    agent_s: float
    """The agent's own time (its sleep) between reading the request and replying."""
    serialize_s: float
    """Host: packing the request plus unpacking and decoding the reply."""
    round_trip_s: float
    """From the first byte sent to the last byte of the reply read (serialization excluded)."""
    request_bytes: int
    reply_bytes: int

    @property
    def transport_s(self) -> float:
        """Both trips over the link plus the agent's (de)serialization: round trip minus the agent's time."""
        return max(0.0, self.round_trip_s - self.agent_s)


@dataclass(frozen=True)
class LoadedModel:
    sha256: str
    size_bytes: int
    uploaded: bool
    load_s: float
    inputs: list[dict[str, Any]]
    outputs: list[dict[str, Any]]
    metadata: dict[str, str]
    providers: list[str]
    session: dict[str, Any]




class BoardClient:
    """A connected, authenticated client. Use as a context manager (sends ``bye`` and closes)."""

    def __init__(
        self,
        address: str,
        port: int,
        token: str,
        timeout_s: float = 30.0,
        connect_timeout_s: float = 5.0,
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
        version: int = PROTOCOL_VERSION,
    ) -> None:
        self.where = f"{address}:{port}"
        self.timeout_s = timeout_s
        self.max_bytes = max_message_bytes
        try:
            self.sock = socket.create_connection((address, port), timeout=connect_timeout_s)
        except OSError as err:
            raise BoardError(f"board {self.where} unreachable: {err.strerror or err}", "unreachable") from None
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            hello = self.call({"op": "hello", "version": version, "token": token})
        except BoardError:
            self.sock.close()
            raise
        self.facts: dict[str, Any] = hello["facts"]
        self.version: int = hello["version"]

    # -- plumbing -----------------------------------------------------------------------------------

    def _receive(self, timeout_s: float) -> dict[str, Any]:
        self.sock.settimeout(timeout_s)
        try:
            reply = receive(self.sock, self.max_bytes)
        except TimeoutError:
            raise BoardError(
                f"board {self.where} did not answer within {timeout_s:g} s (board.timeout_s)", "timeout"
            ) from None
        except ConnectionClosed:
            raise BoardError(
                f"board {self.where} closed the connection (agent stopped or dropped the link)", "dropped"
            ) from None
        except ProtocolError as err:
            raise BoardError(f"board {self.where} sent a bad reply: {err}", "protocol") from None
        except OSError as err:
            raise BoardError(f"board {self.where} connection failed: {err.strerror or err}", "dropped") from None
        if not reply.get("ok"):
            code = str(reply.get("code", "board"))
            raise BoardError(f"board {self.where} refused: {reply.get('error', 'no reason given')}", code)
        return reply

    def _send(self, message: Mapping[str, Any]) -> None:
        self.sock.settimeout(self.timeout_s)
        try:
            send(self.sock, message, self.max_bytes)
        except ProtocolError as err:
            raise BoardError(f"cannot send to board {self.where}: {err}", "too_large") from None
        except OSError as err:
            raise BoardError(f"board {self.where} connection failed: {err.strerror or err}", "dropped") from None

    def call(self, message: Mapping[str, Any], timeout_s: float | None = None) -> dict[str, Any]:
        self._send(message)
        return self._receive(self.timeout_s if timeout_s is None else timeout_s)

    def close(self) -> None:
        try:
            self.sock.settimeout(1.0)
            send(self.sock, {"op": "bye"})
            receive(self.sock)
        except Exception:  # noqa: BLE001 - best effort: the board may be gone already
            pass
        self.sock.close()

    def __enter__(self) -> BoardClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- requests -----------------------------------------------------------------------------------

    def load(self, path: Path, spec: SessionSpec) -> LoadedModel:
        """Load ``path`` on the board: by hash when cached there, else uploaded (hash checked there)."""
        sha = file_sha256(path)
        request: dict[str, Any] = {"op": "load", "sha256": sha, "session": spec.to_wire()}
        uploaded = False
        try:
            reply = self.call(request)
        except BoardError as err:
            if err.code != "not_cached":
                raise
            uploaded = True
            reply = self.call({**request, "model": path.read_bytes()})
        return LoadedModel(
            sha,
            int(reply["size_bytes"]),
            uploaded,
            float(reply["load_s"]),
            reply["inputs"],
            reply["outputs"],
            dict(reply["metadata"]),
            list(reply["providers"]),
            dict(reply["session"]),
        )

    def bench(
        self,
        models: list[tuple[str, str]],
        warmup: int,
        min_count: int,
        min_duration_s: float,
        max_count: int,
        max_duration_s: float,
        inputs: Mapping[str, Mapping[str, np.ndarray]] | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Stream of ``batch`` events then one ``done`` event; each must arrive within the timeout.

        ``inputs``: per component, the tensors to time on (default: generated from declared shapes)."""
        request: dict[str, Any] = {
            "op": "bench",
            "models": [{"name": n, "sha256": s} for n, s in models],
            "warmup": warmup,
            "min_count": min_count,
            "min_duration_s": min_duration_s,
            "max_count": max_count,
            "max_duration_s": max_duration_s,
        }
        if inputs:
            request["inputs"] = {name: encode_tensors(feed) for name, feed in inputs.items()}
        self._send(request)
        while True:
            event = self._receive(self.timeout_s)
            yield event
            if event.get("event") == "done":
                return

    def stub(self, request: Mapping[str, Any]) -> StubReply:
        """A ``stub`` request (:func:`simbench.hil.payload.stub_request`), with every phase timed."""
        t0 = time.perf_counter()
        try:
            data = frame(request, self.max_bytes)
        except ProtocolError as err:
            raise BoardError(f"cannot send to board {self.where}: {err}", "too_large") from None
        t1 = time.perf_counter()
        self.sock.settimeout(self.timeout_s + float(request.get("sleep_s", 0.0)))
        try:
            self.sock.sendall(data)
            body = read_frame(self.sock, self.max_bytes)
        except TimeoutError:
            why = f"board {self.where} did not answer within {self.timeout_s:g} s (board.timeout_s)"
            raise BoardError(why, "timeout") from None
        except (ConnectionClosed, OSError) as err:
            raise BoardError(f"board {self.where} connection failed: {err}", "dropped") from None
        except ProtocolError as err:
            raise BoardError(f"board {self.where} sent a bad reply: {err}", "protocol") from None
        t2 = time.perf_counter()
        try:
            reply = unpack(body)
            if not reply.get("ok"):
                why = f"board {self.where} refused: {reply.get('error', 'no reason given')}"
                raise BoardError(why, str(reply.get("code", "board")))
            chunk = decode_tensor(reply["chunk"], "chunk")
            agent_s = float(reply["latency_s"])
        except (KeyError, TypeError, ValueError) as err:
            raise BoardError(f"board {self.where} sent a bad stub reply: {err}", "protocol") from None
        t3 = time.perf_counter()
        return StubReply(chunk, agent_s, (t1 - t0) + (t3 - t2), t2 - t1, len(data), len(body) + 4)

    def infer(self, sha: str, inputs: Mapping[str, np.ndarray]) -> tuple[list[np.ndarray], float]:
        reply = self.call({"op": "infer", "sha256": sha, "inputs": encode_tensors(inputs)})
        try:
            outputs = [decode_tensor(t, "output") for t in reply["outputs"]]
            latency = float(reply["latency_s"])
        except (KeyError, TypeError, ValueError) as err:
            raise BoardError(f"board {self.where} sent a bad infer reply: {err}", "protocol") from None
        return outputs, latency


__all__ = ["BoardClient", "BoardError", "LoadedModel", "StubReply", "file_sha256"]
