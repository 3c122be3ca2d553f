"""The host's side of the board protocol: one authenticated connection, a deadline on every call.

``board.timeout_s`` is a deadline on each WHOLE reply (every byte of it), not on each read: a board
that trickles its reply a byte at a time fails the call when the deadline passes. Every reply is
checked against its schema (:mod:`simbench.hil.replies`) before it is used.

Every failure to talk to the board (unreachable, refused token, another protocol version, a timeout,
the connection dropped, an error the agent reports) becomes a :class:`BoardError` whose text is one
line naming the board and the reason; callers turn it into a failed record, never a hang.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from simbench_agent.protocol import (
    DEFAULT_MAX_MESSAGE_BYTES,
    PROTOCOL_VERSION,
    UPLOAD_PART_BYTES,
    ConnectionClosed,
    ProtocolError,
    encode_tensors,
    frame,
    read_frame,
    send,
    unpack,
)
from simbench_agent.session import SessionSpec

from simbench.errors import RunFault
from simbench.hil import replies
from simbench.hil.replies import BenchBatch, BenchDone, ReplyError
from simbench.hashing import file_sha256

T = TypeVar("T")


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
class LoadedModel(replies.Loaded):
    """The board's validated ``load`` reply, and whether this call had to upload the model."""

    uploaded: bool = False


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
            hello = self._parse("hello", replies.hello, self.call({"op": "hello", "version": version, "token": token}))
        except BoardError:
            self.sock.close()
            raise
        self.facts: dict[str, Any] = hello.facts
        self.version: int = hello.version
        self.capabilities: tuple[str, ...] = hello.capabilities

    # -- plumbing -----------------------------------------------------------------------------------

    def _receive(self, timeout_s: float) -> dict[str, Any]:
        """The next reply, all of it within ``timeout_s``; an ``ok: false`` reply raises its refusal."""
        try:
            body = read_frame(self.sock, self.max_bytes, time.monotonic() + timeout_s)
            return self._envelope(unpack(body))
        except TimeoutError:
            raise BoardError(
                f"board {self.where} did not answer within {timeout_s:g} s (board.timeout_s)", "timeout"
            ) from None
        except ConnectionClosed:
            raise BoardError(
                f"board {self.where} closed the connection (agent stopped or dropped the link)", "dropped"
            ) from None
        except (ProtocolError, ReplyError) as err:
            raise BoardError(f"board {self.where} sent a bad reply: {err}", "protocol") from None
        except OSError as err:
            raise BoardError(f"board {self.where} connection failed: {err.strerror or err}", "dropped") from None

    def _envelope(self, reply: dict[str, Any]) -> dict[str, Any]:
        refused = replies.refusal(reply)
        if refused is not None:
            raise BoardError(f"board {self.where} refused: {refused.error}", refused.code)
        return reply

    def _parse(self, what: str, schema: Callable[..., T], reply: dict[str, Any], *args: Any) -> T:
        """``schema(reply, *args)``; a reply that breaks it is a ``protocol`` :class:`BoardError`."""
        try:
            return schema(reply, *args)
        except ReplyError as err:
            raise BoardError(f"board {self.where} sent a bad {what} reply: {err}", "protocol") from None

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
            read_frame(self.sock, self.max_bytes, time.monotonic() + 1.0)
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
            if "put" in self.capabilities:
                self._put(path, sha)
                reply = self.call(request)
            else:
                reply = self.call({**request, "model": path.read_bytes()})
        got = self._parse("load", replies.loaded, reply, sha)
        return LoadedModel(**{**vars(got), "sha256": sha}, uploaded=uploaded)

    def _put(self, path: Path, sha: str) -> None:
        """Upload ``path`` in parts that each fit one message; the board checks the hash at the end."""
        size = path.stat().st_size
        part_bytes = max(1, min(UPLOAD_PART_BYTES, self.max_bytes - 4096))
        with path.open("rb") as f:
            offset = 0
            while offset < size:
                data = f.read(part_bytes)
                if not data:
                    raise BoardError(f"{path} shrank while it was uploaded", "io")
                reply = self.call({"op": "put", "sha256": sha, "size": size, "offset": offset, "data": data})
                offset += len(data)
                done = self._parse("put", replies.put_part, reply, offset)
                if done != (offset == size):
                    raise BoardError(f"board {self.where} answered put with complete={done} at {offset} of {size} bytes", "protocol")

    def bench(
        self,
        models: list[tuple[str, str]],
        warmup: int,
        min_count: int,
        min_duration_s: float,
        max_count: int,
        max_duration_s: float,
        inputs: Mapping[str, Mapping[str, np.ndarray]] | None = None,
    ) -> Iterator[BenchBatch | BenchDone]:
        """Stream of ``batch`` events then one ``done`` event, each validated; each must arrive within the timeout.

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
        names = [n for n, _ in models]
        while True:
            event = self._parse("bench", replies.bench_event, self._receive(self.timeout_s), names)
            yield event
            if isinstance(event, BenchDone):
                return

    def stub(self, request: Mapping[str, Any]) -> StubReply:
        """A ``stub`` request (:func:`simbench.hil.payload.stub_request`), with every phase timed."""
        t0 = time.perf_counter()
        try:
            data = frame(request, self.max_bytes)
        except ProtocolError as err:
            raise BoardError(f"cannot send to board {self.where}: {err}", "too_large") from None
        t1 = time.perf_counter()
        wait_s = self.timeout_s + float(request.get("sleep_s", 0.0))
        self.sock.settimeout(wait_s)
        try:
            self.sock.sendall(data)
            body = read_frame(self.sock, self.max_bytes, time.monotonic() + wait_s)
        except TimeoutError:
            why = f"board {self.where} did not answer within {wait_s:g} s (board.timeout_s)"
            raise BoardError(why, "timeout") from None
        except (ConnectionClosed, OSError) as err:
            raise BoardError(f"board {self.where} connection failed: {err}", "dropped") from None
        except ProtocolError as err:
            raise BoardError(f"board {self.where} sent a bad reply: {err}", "protocol") from None
        t2 = time.perf_counter()
        try:
            reply = self._envelope(unpack(body))
        except (ProtocolError, ReplyError) as err:
            raise BoardError(f"board {self.where} sent a bad reply: {err}", "protocol") from None
        chunk, agent_s = self._parse("stub", replies.stub, reply)
        t3 = time.perf_counter()
        return StubReply(chunk, agent_s, (t1 - t0) + (t3 - t2), t2 - t1, len(data), len(body) + 4)

    def vla(
        self,
        graphs: Mapping[str, str],
        vision: Mapping[str, np.ndarray],
        prefill: Mapping[str, np.ndarray],
        noise: np.ndarray,
        num_steps: int,
        guide: Mapping[str, Any] | None = None,
    ) -> replies.VlaReply:
        """One chunk of a three-graph VLA on the board (``graphs``: component -> sha256 of a loaded
        graph); refused on the host, in one line, when the agent lacks the ``vla`` capability."""
        if "vla" not in self.capabilities:
            raise BoardError(
                f"board {self.where} runs simbench-agent {self.facts.get('agent_version')}, which has no multi-graph "
                "'vla' op (it runs one graph per inference): install this simbench's agent on the board",
                "version",
            )
        noise = np.ascontiguousarray(noise, np.float32)
        message = {"op": "vla", "graphs": dict(graphs), "vision": encode_tensors(vision),
                   "prefill": encode_tensors(prefill), "noise": encode_tensors({"n": noise})["n"],
                   "num_steps": int(num_steps)}
        if guide is not None:  # Real-Time Chunking, run on the board: {target, weights, beta, vjp}
            if "rtc" not in self.capabilities:
                raise BoardError(f"board {self.where} runs simbench-agent {self.facts.get('agent_version')}, which "
                                 "cannot guide the VLA's chunks (RTC): install this simbench's agent on the board",
                                 "version")
            tensors = encode_tensors({"target": np.ascontiguousarray(guide["target"], np.float32),
                                      "weights": np.ascontiguousarray(guide["weights"], np.float32)})
            message["guide"] = {**tensors, "beta": float(guide["beta"]), "vjp": str(guide["vjp"])}
        reply = self.call(message)
        return self._parse("vla", replies.vla, reply, int(num_steps), tuple(noise.shape))

    def infer(self, sha: str, inputs: Mapping[str, np.ndarray]) -> tuple[list[np.ndarray], float]:
        reply = self.call({"op": "infer", "sha256": sha, "inputs": encode_tensors(inputs)})
        return self._parse("infer", replies.infer, reply)


__all__ = ["BoardClient", "BoardError", "LoadedModel", "StubReply"]
