"""The agent: a small threaded TCP server answering a fixed set of requests.

Per connection: the first frame must be ``hello`` with the token (compared in constant time) and
the protocol version; then ``load`` (a model by sha256, with its bytes unless the board has it
cached), ``bench`` (a streamed benchmark), ``infer`` (one observation in, outputs and the
board-measured latency out), ``vla`` (a three-graph VLA's chunk: vision, prefill once, the expert's
denoising steps over its KV cache, with seconds per component; advertised as a capability in the
hello reply), ``stub`` (an observation in; sleep the latency the host drew, then a
zero chunk of the asked shape out: the wall-clock runtime's stand-in policy), ``bye``.
Sizes are bounded (frame cap, model cap, tensor elements,
connections), every frame has a deadline on the whole of it (header and body), a peer before its
hello may send one frame of at most ``MAX_HELLO_BYTES`` and holds none of the authenticated slots,
and one ONNX Runtime call runs at a time so timings do not disturb each other.

:class:`Connection` turns frame bodies into replies without touching a socket, which is what the
property tests fuzz; :class:`AgentServer` moves frames.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import socket
import socketserver
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field as dc_field
from pathlib import Path
from typing import Any

import numpy as np

from simbench_agent import __version__
from simbench_agent.facts import board_facts, sample as thermal_sample
from simbench_agent.guidance import MAX_GUIDANCE, VJPS, guided_velocity
from simbench_agent.protocol import (
    CAPABILITIES,
    DEFAULT_MAX_MESSAGE_BYTES,
    MAX_HELLO_BYTES,
    MAX_VLA_STEPS,
    OPS,
    PROTOCOL_VERSION,
    ConnectionClosed,
    ProtocolError,
    decode_tensor,
    decode_tensors,
    encode_tensor,
    field,
    float_field,
    int_field,
    read_frame,
    send,
    sha256_field,
    unpack,
)
from simbench_agent.session import SessionSpec, build_session, describe_io, generated_inputs
from simbench_agent.stats import summarize


class RequestError(ProtocolError):
    """A well-formed request the agent cannot honour; the connection stays open."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class AgentConfig:
    token: str
    name: str = dc_field(default_factory=socket.gethostname)
    cache_dir: Path = Path.home() / ".cache" / "simbench-agent"
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES
    max_model_bytes: int = 32 * 1024 * 1024
    max_connections: int = 4
    """Authenticated connections served at once (a hello beyond them gets ``busy``)."""
    max_pending: int = 16
    """Connections still before their hello; a new one beyond them evicts the oldest (:class:`PendingPool`)."""
    max_sessions: int = 8
    hello_timeout_s: float = 10.0
    """Deadline for the whole hello frame (header and body) after connecting."""
    idle_timeout_s: float = 300.0
    slowdown: float = 1.0
    """Fault injection: every timed run is stretched to ``slowdown`` x its duration (>= 1)."""
    fault: str | None = None
    """Fault injection: ``drop:N`` closes the connection, ``crash:N`` exits the process, after N work replies."""


@dataclass
class Loaded:
    session: Any
    spec: SessionSpec
    path: Path


class Agent:
    """State shared by connections: the model cache, loaded sessions, the run lock."""

    def __init__(self, cfg: AgentConfig) -> None:
        if len(cfg.token) < 16:
            raise ValueError("the token must be at least 16 characters")
        if not cfg.slowdown >= 1.0:
            raise ValueError("slowdown must be >= 1")
        self.cfg = cfg
        self.models_dir = Path(cfg.cache_dir) / "models"
        self.models_dir.mkdir(parents=True, exist_ok=True)
        self.sessions: OrderedDict[str, Loaded] = OrderedDict()
        self.run_lock = threading.Lock()
        self.state_lock = threading.Lock()
        self.upload_lock = threading.Lock()
        self.work_replies = 0
        self._facts: dict[str, Any] | None = None
        self.fault_kind, self.fault_after = None, 0
        if cfg.fault:
            kind, _, n = cfg.fault.partition(":")
            if kind not in ("drop", "crash") or not n.isdigit():
                raise ValueError(f"fault={cfg.fault!r}; use drop:N or crash:N")
            self.fault_kind, self.fault_after = kind, int(n)

    def facts(self) -> dict[str, Any]:
        if self._facts is None:
            self._facts = board_facts(self.cfg.name)  # static facts, read once
        facts = dict(self._facts)
        facts.update(thermal_sample())  # current temperature and frequency
        facts.pop("t", None)
        facts.update(
            agent_version=__version__,
            max_message_bytes=self.cfg.max_message_bytes,
            max_model_bytes=self.cfg.max_model_bytes,
        )
        return facts

    def timed_run(self, session: Any, feed: dict[str, Any]) -> tuple[list[Any], float]:
        """One ``session.run`` and its seconds (stretched by the slowdown fault when set)."""
        t0 = time.perf_counter()
        outputs = session.run(None, feed)
        elapsed = time.perf_counter() - t0
        if self.cfg.slowdown > 1.0:
            time.sleep(elapsed * (self.cfg.slowdown - 1.0))
            elapsed = time.perf_counter() - t0
        return outputs, elapsed

    def count_work_reply(self) -> str | None:
        """The fault to inject now, if any."""
        with self.state_lock:
            self.work_replies += 1
            if self.fault_kind and self.work_replies > self.fault_after:
                return self.fault_kind
        return None

    def session(self, sha: str) -> Loaded:
        with self.state_lock:
            loaded = self.sessions.get(sha)
        if loaded is None:
            raise RequestError(f"model {sha[:12]} is not loaded; send load first", "not_loaded")
        return loaded


class Connection:
    """One client's conversation: frame bodies in, reply maps out (no socket here)."""

    def __init__(self, agent: Agent) -> None:
        self.agent = agent
        self.authed = False
        self.done = False

    def handle(self, body: bytes) -> Iterator[dict[str, Any]]:
        """Replies to one frame body. Never raises for anything the peer sent."""
        try:
            message = unpack(body)
            op = field(message, "op", str)
            if op not in OPS:
                raise ProtocolError(f"op {op[:32]!r} is unknown; ops: {', '.join(OPS)}")
            if not self.authed:
                yield self._hello(message, op)
                return
            if op == "hello":
                raise RequestError("already authenticated", "protocol")
            if op == "bye":
                self.done = True
                yield {"ok": True}
                return
            yield from {"load": self._load, "put": self._put, "bench": self._bench, "infer": self._infer, "vla": self._vla,
                        "stub": self._stub}[op](message)
        except RequestError as err:
            yield {"ok": False, "code": err.code, "error": str(err)}
        except ProtocolError as err:  # malformed: answer, then close (the stream cannot be trusted)
            self.done = True
            yield {"ok": False, "code": "protocol", "error": str(err)}
        except Exception as err:  # noqa: BLE001 - ONNX Runtime errors on bad inputs and the like
            first = (str(err).strip().splitlines() or [type(err).__name__])[0][:300]
            yield {"ok": False, "code": "runtime", "error": f"{type(err).__name__}: {first}"}

    def _hello(self, message: dict[str, Any], op: str) -> dict[str, Any]:
        self.done = True  # unless everything below checks out
        if op != "hello":
            return {"ok": False, "code": "auth", "error": "the first message must be hello with a token"}
        token = message.get("token")
        if not isinstance(token, str) or not hmac.compare_digest(
            token.encode("utf-8", "surrogatepass"), self.agent.cfg.token.encode()
        ):
            return {"ok": False, "code": "auth", "error": "token refused"}
        version = message.get("version")
        if version != PROTOCOL_VERSION or isinstance(version, bool):
            return {
                "ok": False,
                "code": "version",
                "error": f"protocol version {version!r} is not supported; this agent (simbench-agent {__version__}) speaks version "
                f"{PROTOCOL_VERSION}: install the same simbench-agent version on host and board",
            }
        self.done = False
        self.authed = True
        return {"ok": True, "version": PROTOCOL_VERSION, "facts": self.agent.facts(), "capabilities": list(CAPABILITIES)}

    # -- load ---------------------------------------------------------------------------------------

    def _load(self, message: dict[str, Any]) -> Iterator[dict[str, Any]]:
        agent = self.agent
        sha = sha256_field(message)
        spec = SessionSpec.from_wire(field(message, "session", dict, required=False, default={}))
        model = field(message, "model", bytes, required=False)
        path = agent.models_dir / f"{sha}.onnx"
        cached = model is None
        if model is not None:
            if len(model) > agent.cfg.max_model_bytes:
                raise RequestError(
                    f"model of {len(model)} bytes exceeds this board's limit of {agent.cfg.max_model_bytes} bytes "
                    "(simbench-agent serve --max-model-bytes)",
                    "too_large",
                )
            if hashlib.sha256(model).hexdigest() != sha:
                raise RequestError("model bytes do not match their sha256", "hash_mismatch")
            tmp = path.with_suffix(f".tmp{os.getpid()}.{threading.get_ident()}")
            tmp.write_bytes(model)
            os.replace(tmp, path)
        elif not path.is_file():
            raise RequestError(f"model {sha[:12]} is not cached on this board; send its bytes", "not_cached")
        elif hashlib.sha256(path.read_bytes()).hexdigest() != sha:
            path.unlink()
            raise RequestError(f"cached model {sha[:12]} was corrupt and is removed; send its bytes", "not_cached")
        with agent.run_lock:
            t0 = time.perf_counter()
            try:
                session = build_session(str(path), spec)
            except ProtocolError as err:
                raise RequestError(str(err), "provider") from None
            load_s = time.perf_counter() - t0
        with agent.state_lock:
            agent.sessions[sha] = Loaded(session, spec, path)
            agent.sessions.move_to_end(sha)
            while len(agent.sessions) > agent.cfg.max_sessions:
                agent.sessions.popitem(last=False)
        meta = session.get_modelmeta()
        yield {
            "ok": True,
            "sha256": sha,
            "cached": cached,
            "load_s": load_s,
            "size_bytes": path.stat().st_size,
            "inputs": describe_io(session.get_inputs()),
            "outputs": describe_io(session.get_outputs()),
            "metadata": dict(meta.custom_metadata_map),
            "providers": list(session.get_providers()),
            "session": spec.to_wire(),
        }

    def _put(self, message: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """One part of a model upload, appended in order to ``<sha>.part``; the last part is hashed and
        renamed into the cache, where ``load`` finds it. One upload at a time per board: a part at offset
        0 starts over and drops any other unfinished upload, so a dropped host leaves at most one file."""
        agent = self.agent
        sha = sha256_field(message)
        size = field(message, "size", int)
        offset = field(message, "offset", int)
        data = field(message, "data", bytes)
        if size < 1:
            raise RequestError(f"field 'size' must be >= 1, got {size}", "protocol")
        if size > agent.cfg.max_model_bytes:
            raise RequestError(f"model of {size} bytes exceeds this board's limit of {agent.cfg.max_model_bytes} "
                               "bytes (simbench-agent serve --max-model-bytes)", "too_large")
        if not data or offset < 0 or offset + len(data) > size:
            raise RequestError(f"part at offset {offset} of {len(data)} bytes does not fit a model of {size} bytes", "protocol")
        part = agent.models_dir / f"{sha}.part"
        with agent.upload_lock:
            if offset == 0:
                for stale in agent.models_dir.glob("*.part"):
                    stale.unlink(missing_ok=True)
                part.write_bytes(b"")
            have = part.stat().st_size if part.is_file() else -1
            if have != offset:
                raise RequestError(
                    f"part at offset {offset} does not follow the {max(have, 0)} bytes received; start over at offset 0",
                    "upload_order",
                )
            with part.open("ab") as f:
                f.write(data)
            received = offset + len(data)
            if received < size:
                yield {"ok": True, "received": received, "complete": False}
                return
            digest = hashlib.sha256()
            with part.open("rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    digest.update(block)
            if digest.hexdigest() != sha:
                part.unlink(missing_ok=True)
                raise RequestError("model bytes do not match their sha256", "hash_mismatch")
            os.replace(part, agent.models_dir / f"{sha}.onnx")
        yield {"ok": True, "received": received, "complete": True}

    # -- bench --------------------------------------------------------------------------------------

    def _bench(self, message: dict[str, Any]) -> Iterator[dict[str, Any]]:
        agent = self.agent
        models = field(message, "models", list)
        if not 1 <= len(models) <= 8:
            raise ProtocolError("field 'models' must list 1 to 8 components")
        components: list[tuple[str, Loaded]] = []
        for m in models:
            if not isinstance(m, dict):
                raise ProtocolError("each of 'models' must be a map with name and sha256")
            name = field(m, "name", str)
            if not 0 < len(name) <= 64 or name in dict(components):
                raise ProtocolError("component names must be unique, 1 to 64 characters")
            components.append((name, agent.session(sha256_field(m))))
        warmup = int_field(message, "warmup", 0, 100_000, default=10)
        min_count = int_field(message, "min_count", 1, 10_000_000, default=100)
        min_duration = float_field(message, "min_duration_s", 0.0, 86_400.0, default=0.0)
        max_count = int_field(message, "max_count", 1, 10_000_000, default=1_000_000)
        max_duration = float_field(message, "max_duration_s", 0.001, 86_400.0, default=3600.0)
        batch_s = float_field(message, "batch_s", 0.01, 10.0, default=0.25)
        sent = field(message, "inputs", dict, required=False, default={})
        feeds = []
        for name, loaded in components:
            if name in sent:
                feeds.append(decode_tensors(sent[name], f"inputs[{name!r}]"))
            else:
                feeds.append(generated_inputs(loaded.session, seed=int_field(message, "seed", 0, 2**31, default=0)))
        unknown = set(sent) - {n for n, _ in components}
        if unknown:
            raise ProtocolError(f"inputs for unknown component(s) {sorted(unknown)}")
        names = [n for n, _ in components]
        with agent.run_lock:
            for _ in range(warmup):
                for (_, loaded), feed in zip(components, feeds):
                    agent.timed_run(loaded.session, feed)
            every: dict[str, list[float]] = {n: [] for n in names}
            batch: dict[str, list[float]] = {n: [] for n in names}
            thermal = [thermal_sample()]
            t_start = last_batch = last_sample = time.perf_counter()
            count = 0
            while True:
                for (name, loaded), feed in zip(components, feeds):
                    _, seconds = agent.timed_run(loaded.session, feed)
                    batch[name].append(seconds)
                count += 1
                now = time.perf_counter()
                elapsed = now - t_start
                finished = (
                    (count >= min_count and elapsed >= min_duration) or count >= max_count or elapsed >= max_duration
                )
                if now - last_sample >= 0.5:
                    thermal.append(thermal_sample())
                    last_sample = now
                if finished or now - last_batch >= batch_s:
                    for n in names:
                        every[n] += batch[n]
                    if agent.count_work_reply() is not None:
                        self._inject_fault()
                        return
                    yield {"ok": True, "event": "batch", "latencies": batch, "thermal": thermal}
                    batch = {n: [] for n in names}
                    thermal = []
                    last_batch = time.perf_counter()
                if finished:
                    break
        totals = [sum(v) for v in zip(*(every[n] for n in names))]
        yield {
            "ok": True,
            "event": "done",
            "count": count,
            "warmup": warmup,
            "duration_s": elapsed,
            "stats": summarize(totals),
            "components": {n: summarize(every[n]) for n in names} if len(names) > 1 else {},
            "facts": agent.facts(),
        }

    # -- infer --------------------------------------------------------------------------------------

    def _infer(self, message: dict[str, Any]) -> Iterator[dict[str, Any]]:
        agent = self.agent
        loaded = agent.session(sha256_field(message))
        feed = decode_tensors(field(message, "inputs", dict))
        with agent.run_lock:
            outputs, seconds = agent.timed_run(loaded.session, feed)
        if agent.count_work_reply() is not None:
            self._inject_fault()
            return
        yield {"ok": True, "outputs": [encode_tensor(o) for o in outputs], "latency_s": seconds}

    # -- vla: a multi-graph policy ------------------------------------------------------------------

    def _vla(self, message: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """One chunk of a three-graph VLA, all on the board: ``vision`` (the camera inputs) -> its
        first output is the prefill's ``visual``; ``prefill`` (``visual`` plus the sent inputs, the
        tokens and state) -> its first output is the keys/values ``kv``, computed once; then
        ``num_steps`` forward-Euler steps of ``expert`` (``x_t``, ``t``, ``kv`` -> the velocity) from
        the ``noise`` the host drew (t = 1) to the normalized chunk (t = 0). The loop is the host's
        ``SmolVLAOnnxPolicy.trace``, operation for operation, so the chunk equals the host's.
        Reply: ``chunk`` (normalized), ``components`` (seconds of vision, prefill, expert: all its
        steps), ``steps`` (seconds of each expert step), ``latency_s`` (their sum)."""
        agent = self.agent
        graphs = field(message, "graphs", dict)
        if set(graphs) != {"vision", "prefill", "expert"}:
            raise ProtocolError("field 'graphs' must map exactly vision, prefill, expert to a sha256")
        loaded = {name: agent.session(sha256_field(graphs, name)) for name in ("vision", "prefill", "expert")}
        vision_feed = decode_tensors(field(message, "vision", dict), "vision")
        prefill_feed = dict(decode_tensors(field(message, "prefill", dict), "prefill"))
        if "visual" in prefill_feed:
            raise ProtocolError("field 'prefill' must not hold 'visual' (the vision graph computes it)")
        noise = decode_tensor(field(message, "noise", dict), "noise")
        if noise.dtype != np.float32 or noise.ndim != 3:
            raise ProtocolError("field 'noise' must be a float32 tensor [batch, chunk, action_dim]")
        n = int_field(message, "num_steps", 1, MAX_VLA_STEPS)
        guide = _guide_field(message, noise.shape)
        with agent.run_lock:
            (visual, *_), vision_s = agent.timed_run(loaded["vision"].session, vision_feed)
            prefill_feed["visual"] = visual
            (kv, *_), prefill_s = agent.timed_run(loaded["prefill"].session, prefill_feed)
            x = noise.astype(np.float32)
            steps = []
            for k in range(n):
                t = np.array([1.0 - k / n], np.float32)
                (v, *_), step_s = agent.timed_run(loaded["expert"].session, {"x_t": x, "t": t, "kv": kv})
                if guide is not None:  # Real-Time Chunking: the extra expert call (fd) is timed into the step
                    g0 = time.perf_counter()
                    v = guided_velocity(x, float(t[0]), v, guide, lambda x_, t=t: agent.timed_run(
                        loaded["expert"].session, {"x_t": x_, "t": t, "kv": kv})[0][0])
                    step_s += time.perf_counter() - g0
                steps.append(step_s)
                x = (x - v / n).astype(np.float32)
        if agent.count_work_reply() is not None:
            self._inject_fault()
            return
        components = {"vision": vision_s, "prefill": prefill_s, "expert": sum(steps)}
        yield {
            "ok": True,
            "chunk": encode_tensor(x),
            "components": components,
            "steps": steps,
            "latency_s": sum(components.values()),
        }

    # -- stub ---------------------------------------------------------------------------------------

    def _stub(self, message: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """A stand-in policy: the observation is decoded (the real deserialization), the agent sleeps
        ``sleep_s`` (x the slowdown fault) and returns a float32 zero chunk of shape ``chunk``."""
        agent = self.agent
        decode_tensors(field(message, "inputs", dict, required=False, default={}))
        sleep_s = float_field(message, "sleep_s", 0.0, 3600.0)
        shape = field(message, "chunk", list)
        dims_ok = all(isinstance(d, int) and not isinstance(d, bool) and 1 <= d <= 100_000 for d in shape)
        if len(shape) != 2 or not dims_ok:
            raise ProtocolError("field 'chunk' must be [actions, action_dim], each in [1, 100000]")
        if shape[0] * shape[1] > 1_000_000:
            raise ProtocolError("field 'chunk' asks for more than 1000000 elements")
        with agent.run_lock:
            t0 = time.perf_counter()
            time.sleep(sleep_s * agent.cfg.slowdown)
            seconds = time.perf_counter() - t0
        if agent.count_work_reply() is not None:
            self._inject_fault()
            return
        yield {"ok": True, "chunk": encode_tensor(np.zeros(shape, np.float32)), "latency_s": seconds}

    def _inject_fault(self) -> None:
        if self.agent.fault_kind == "crash":
            print("simbench-agent: injected crash", file=sys.stderr, flush=True)
            os._exit(70)
        self.done = True  # drop: close without a reply


class PendingPool:
    """Connections that have not authenticated yet, at most ``limit`` of them.

    They do not hold the authenticated slots (``max_connections``): a peer without the token can
    never make a valid host wait for a slot. When the pool is full the OLDEST pending connection is
    shut down to admit the new one, so no number of silent or trickling peers starves the agent
    (each also has the whole-frame hello deadline, and at most :data:`MAX_HELLO_BYTES` buffered)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._lock = threading.Lock()
        self._socks: OrderedDict[int, socket.socket] = OrderedDict()

    def admit(self, sock: socket.socket) -> None:
        with self._lock:
            while len(self._socks) >= self.limit:
                _, oldest = self._socks.popitem(last=False)
                try:
                    oldest.shutdown(socket.SHUT_RDWR)  # its reader sees end-of-stream and closes
                except OSError:
                    pass
            self._socks[id(sock)] = sock

    def leave(self, sock: socket.socket) -> None:
        with self._lock:
            self._socks.pop(id(sock), None)

    def __len__(self) -> int:
        with self._lock:
            return len(self._socks)


class _Handler(socketserver.BaseRequestHandler):
    server: AgentServer

    def handle(self) -> None:
        agent = self.server.agent
        sock: socket.socket = self.request
        peer = f"{self.client_address[0]}:{self.client_address[1]}"
        pending = self.server.pending
        pending.admit(sock)
        slot = False
        # Before the hello the whole frame (header and body) must arrive by this instant.
        hello_deadline = time.monotonic() + agent.cfg.hello_timeout_s
        try:
            conn = Connection(agent)
            while not conn.done:
                if conn.authed:
                    sock.settimeout(agent.cfg.idle_timeout_s)
                    deadline = time.monotonic() + agent.cfg.idle_timeout_s
                    cap = agent.cfg.max_message_bytes
                else:
                    deadline, cap = hello_deadline, MAX_HELLO_BYTES
                try:
                    body = read_frame(sock, cap, deadline)
                except ProtocolError as err:  # oversized or empty frame: the stream is unusable
                    why = f"{err} (before hello)" if not conn.authed else str(err)
                    self._try_send(sock, {"ok": False, "code": "protocol", "error": why})
                    log(f"closed {peer}: {why}")
                    return
                except (ConnectionClosed, OSError):  # closed, evicted, or past its deadline
                    return
                was_authed = conn.authed
                for reply in conn.handle(body):
                    if conn.authed and not was_authed:
                        pending.leave(sock)
                        slot = self.server.slots.acquire(blocking=False)
                        if not slot:
                            conn.done = True
                            reply = {
                                "ok": False,
                                "code": "busy",
                                "error": f"the agent serves {agent.cfg.max_connections} connections at most",
                            }
                    if not reply.get("ok"):
                        log(f"{peer}: {reply.get('code')}: {reply.get('error')}")
                    self._send_reply(sock, reply)
        except OSError:
            return  # peer went away mid-reply
        finally:
            pending.leave(sock)
            if slot:
                self.server.slots.release()

    def _send_reply(self, sock: socket.socket, reply: dict[str, Any]) -> None:
        """Send ``reply``; one over the frame cap is replaced by a short error naming the cap."""
        cap = self.server.agent.cfg.max_message_bytes
        try:
            send(sock, reply, cap)
        except ProtocolError as err:
            send(sock, {"ok": False, "code": "too_large", "error": f"reply not sent: {err} (--max-message-bytes)"}, cap)

    @staticmethod
    def _try_send(sock: socket.socket, reply: dict[str, Any]) -> None:
        try:
            sock.settimeout(2.0)
            send(sock, reply)
        except OSError:
            pass


class AgentServer(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True

    def __init__(self, address: str, port: int, agent: Agent) -> None:
        self.agent = agent
        self.slots = threading.BoundedSemaphore(agent.cfg.max_connections)
        self.pending = PendingPool(agent.cfg.max_pending)
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        self.address_family = family
        super().__init__((address, port), _Handler)


def log(line: str) -> None:
    print(f"simbench-agent: {line}", file=sys.stderr, flush=True)



def _guide_field(message: dict[str, Any], noise_shape: tuple[int, ...]) -> dict[str, Any] | None:
    """The ``vla`` op's optional RTC guidance: {target [b, chunk, A] and weights [b, chunk, 1] float32,
    beta in [0, 100], vjp identity | fd}; anything else is a protocol error."""
    raw = message.get("guide")
    if raw is None:
        return None
    if not isinstance(raw, dict) or set(raw) != {"target", "weights", "beta", "vjp"}:
        raise ProtocolError("field 'guide' must be a map of exactly target, weights, beta, vjp")
    target = decode_tensor(raw["target"], "guide.target")
    weights = decode_tensor(raw["weights"], "guide.weights")
    if target.dtype != np.float32 or tuple(target.shape) != tuple(noise_shape):
        raise ProtocolError("field 'guide.target' must be a float32 tensor shaped like 'noise'")
    if weights.dtype != np.float32 or tuple(weights.shape) != (*noise_shape[:2], 1):
        raise ProtocolError("field 'guide.weights' must be a float32 tensor [batch, chunk, 1]")
    if not (np.all(np.isfinite(target)) and np.all(np.isfinite(weights))):
        raise ProtocolError("field 'guide' must hold finite numbers")
    beta = float_field(raw, "beta", 0.0, MAX_GUIDANCE)
    vjp = raw["vjp"]
    if vjp not in VJPS:
        raise ProtocolError(f"field 'guide.vjp' must be one of {', '.join(VJPS)}")
    return {"target": target, "weights": weights, "beta": beta, "vjp": vjp}

__all__ = ["Agent", "AgentConfig", "AgentServer", "Connection", "PendingPool", "RequestError"]
