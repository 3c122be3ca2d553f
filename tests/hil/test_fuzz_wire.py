"""Property tests of both ends' decoders: the frame reader and msgpack decoder the agent and host
share, and the host's reply parser (:mod:`simbench.hil.replies` behind :class:`BoardClient`).

Whatever bytes arrive, the agent's decoder returns a map or raises ``ProtocolError`` /
``ConnectionClosed`` / ``TimeoutError``; the host turns any reply into a validated value or one
``BoardError``, and a validated value holds only finite, in-range numbers."""

from __future__ import annotations

import math
import socket
import time
from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from simbench_agent.protocol import (
    MAX_HELLO_BYTES,
    ConnectionClosed,
    ProtocolError,
    encode_tensor,
    frame,
    pack,
    read_frame,
    unpack,
)

from simbench.hil import replies
from simbench.hil.client import BoardClient, BoardError
from simbench.hil.replies import BenchBatch, BenchDone, ReplyError
from tests.hil.fake_board import good

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**64 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.binary(max_size=20),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=12,
)
keys = st.sampled_from(
    ["ok", "code", "error", "version", "facts", "event", "latencies", "thermal", "count", "duration_s", "stats",
     "components", "outputs", "latency_s", "chunk", "sha256", "cached", "load_s", "size_bytes", "inputs",
     "metadata", "providers", "session", "name", "x", "received", "complete"]
)
garbled = st.dictionaries(keys, values, max_size=8)


def mutated(reply: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    """A well-formed reply with some fields removed or replaced by anything."""
    return st.tuples(st.sets(st.sampled_from(sorted(reply)), max_size=3), st.dictionaries(keys, values, max_size=3)).map(
        lambda t: {**{k: v for k, v in reply.items() if k not in t[0]}, **t[1]}
    )


GOOD = {op: good({"op": op, "models": [{"name": "model"}], "chunk": [2, 3], "sha256": "0" * 64})
        for op in ("hello", "load", "bench", "infer", "stub")}
GOOD["put"] = [{"ok": True, "received": 100, "complete": False}]
any_reply = st.one_of(garbled, *[mutated(r) for rs in GOOD.values() for r in rs])


def finite_numbers(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(finite_numbers(v) for v in value.values())
    if isinstance(value, list):
        return all(finite_numbers(v) for v in value)
    return True


# -- the agent's decoder ----------------------------------------------------------------------------


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.one_of(st.binary(max_size=300), garbled.map(lambda m: frame(m)),
                      garbled.map(lambda m: frame(m)).flatmap(lambda b: st.integers(0, len(b)).map(lambda n: b[:n]))))
def test_frame_reader_and_decoder_take_any_bytes(data: bytes) -> None:
    a, b = socket.socketpair()
    with a, b:
        a.sendall(data)
        a.shutdown(socket.SHUT_WR)
        try:
            message = unpack(read_frame(b, MAX_HELLO_BYTES, time.monotonic() + 2.0))
        except (ProtocolError, ConnectionClosed):
            return
        assert isinstance(message, dict)


def test_frame_reader_deadline_bounds_a_trickle() -> None:
    a, b = socket.socketpair()
    with a, b:
        a.sendall(frame({"op": "hello"})[:3])  # the header never completes
        t0 = time.monotonic()
        try:
            read_frame(b, MAX_HELLO_BYTES, time.monotonic() + 0.3)
        except TimeoutError:
            pass
        else:
            raise AssertionError("no TimeoutError")
        assert time.monotonic() - t0 < 1.0


# -- the host's reply parser ------------------------------------------------------------------------


@settings(max_examples=800, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(reply=any_reply)
def test_reply_schemas_accept_only_valid_replies(reply: dict[str, Any]) -> None:
    """Every schema either returns a clean value or raises ReplyError; nothing else escapes."""
    for schema, args in ((replies.hello, ()), (replies.loaded, ("0" * 64,)), (replies.bench_event, (["model"],)),
                         (replies.infer, ()), (replies.stub, ()), (replies.put_part, (100,)), (replies.refusal, ())):
        try:
            value = schema(reply, *args)
        except ReplyError as err:
            assert "\n" not in str(err)
            continue
        if isinstance(value, BenchBatch):
            assert all(0 <= v <= replies.MAX_LATENCY_S for vs in value.latencies.values() for v in vs)
        elif isinstance(value, BenchDone):
            assert finite_numbers(value.stats) and finite_numbers(value.components)
        elif isinstance(value, tuple):
            arrays, latency = value
            assert 0 <= latency <= replies.MAX_LATENCY_S
            for array in arrays if isinstance(arrays, list) else [arrays]:
                assert array.dtype.kind != "f" or np.isfinite(array).all()
        elif isinstance(value, replies.Hello):
            assert finite_numbers(value.facts)
            assert all(not any(ord(c) < 32 for c in v) for v in value.facts.values() if isinstance(v, str))
        if schema is replies.refusal:
            assert reply["ok"] is True or reply["ok"] is False


def test_the_good_replies_pass() -> None:
    """The fuzzer's seeds are valid, so what it rejects is rejected for the mutation."""
    assert replies.hello(GOOD["hello"][0]).facts["name"] == "fake"
    replies.loaded(GOOD["load"][0], "0" * 64)
    assert isinstance(replies.bench_event(GOOD["bench"][0], ["model"]), BenchBatch)
    assert isinstance(replies.bench_event(GOOD["bench"][1], ["model"]), BenchDone)
    replies.infer(GOOD["infer"][0])
    replies.stub(GOOD["stub"][0])
    assert replies.put_part(GOOD["put"][0], 100) is False


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.one_of(any_reply.map(pack).map(lambda b: len(b).to_bytes(4, "big") + b), st.binary(max_size=200)))
def test_the_client_turns_any_reply_bytes_into_one_board_error(data: bytes) -> None:
    """Raw bytes on the host's socket: a reply dict, or a BoardError; never another exception."""
    a, b = socket.socketpair()
    client = object.__new__(BoardClient)
    client.sock, client.where, client.timeout_s, client.max_bytes = b, "fuzz", 1.0, 1 << 20
    with a, b:
        a.sendall(data)
        a.shutdown(socket.SHUT_WR)
        try:
            reply = client._receive(1.0)
        except BoardError as err:
            assert "\n" not in str(err) and "\x1b" not in str(err)
            return
        assert reply["ok"] is True


def test_encode_tensor_round_trip_seed() -> None:
    """A finite tensor passes the host's check unchanged (guards the check against over-refusing)."""
    array = np.arange(6, dtype=np.float32).reshape(2, 3)
    assert np.array_equal(replies.finite_tensor(encode_tensor(array), "t"), array)


# -- the agent's RTC guidance field (the vla op) -------------------------------------------------------

tensor_like = st.one_of(values, st.builds(lambda a: encode_tensor(a), st.sampled_from([
    np.zeros((1, 4, 2), np.float32), np.ones((1, 4, 1), np.float32), np.zeros((1, 4, 2), np.float64),
    np.full((1, 4, 1), np.nan, np.float32)])))
guides = st.one_of(values, st.fixed_dictionaries(
    {"target": tensor_like, "weights": tensor_like, "beta": values, "vjp": st.one_of(values, st.sampled_from(["identity", "fd"]))}))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(guides)
def test_the_agent_takes_any_guide_field_or_refuses_it_as_a_protocol_error(guide: Any) -> None:
    """Whatever arrives as ``guide``, the agent returns a validated guidance (float32, the noise's shape,
    finite, beta in [0, 100]) or raises ProtocolError: nothing else."""
    from simbench_agent.server import _guide_field

    try:
        parsed = _guide_field({"guide": guide}, (1, 4, 2))
    except ProtocolError:
        return
    if parsed is None:
        assert guide is None
        return
    assert parsed["target"].shape == (1, 4, 2) and parsed["weights"].shape == (1, 4, 1)
    assert np.all(np.isfinite(parsed["target"])) and 0.0 <= parsed["beta"] <= 100.0
    assert parsed["vjp"] in ("identity", "fd")


def test_a_valid_guide_field_is_accepted() -> None:
    from simbench_agent.server import _guide_field

    guide = {"target": encode_tensor(np.zeros((1, 4, 2), np.float32)),
             "weights": encode_tensor(np.ones((1, 4, 1), np.float32)), "beta": 10.0, "vjp": "fd"}
    parsed = _guide_field({"guide": guide}, (1, 4, 2))
    assert parsed is not None and parsed["beta"] == 10.0 and parsed["vjp"] == "fd"


# -- the agent's put op ---------------------------------------------------------------------------------

puts = st.fixed_dictionaries(
    {"op": st.just("put"), "sha256": st.one_of(values, st.sampled_from(["0" * 64, "a" * 64])),
     "size": st.one_of(values, st.integers(-5, 3000)), "offset": st.one_of(values, st.integers(-5, 3000)),
     "data": st.one_of(values, st.binary(max_size=600))})


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(puts, min_size=1, max_size=6))
def test_the_agent_answers_any_put_sequence_and_keeps_at_most_one_part_file(messages: list[dict[str, Any]]) -> None:
    """Any run of ``put`` messages gets one reply each, ok or a refusal with a code; the cache holds at
    most one unfinished upload and never a model whose bytes are not its sha256."""
    import hashlib
    import tempfile
    from pathlib import Path

    from simbench_agent.server import Agent, AgentConfig, Connection

    with tempfile.TemporaryDirectory() as d:
        agent = Agent(AgentConfig(token="t" * 32, cache_dir=Path(d), max_model_bytes=2000))
        conn = Connection(agent)
        conn.authed = True
        for message in messages:
            out = list(conn.handle(pack(message)))
            assert len(out) == 1 and isinstance(out[0].get("ok"), bool)
            assert out[0]["ok"] or isinstance(out[0].get("code"), str)
        models = Path(d) / "models"
        assert len(list(models.glob("*.part"))) <= 1
        for done in models.glob("*.onnx"):
            assert hashlib.sha256(done.read_bytes()).hexdigest() == done.stem
