"""The agent's message handling: codec limits, and fuzzing that never crashes or wedges it."""

from __future__ import annotations

import pickle
from pathlib import Path

import msgpack
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from simbench_agent.protocol import PROTOCOL_VERSION, ProtocolError, decode_tensor, encode_tensor, pack, unpack
from simbench_agent.server import Agent, AgentConfig, Connection

from tests.hil.helpers import tiny_model

TOKEN = "t" * 32


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory) -> Agent:
    return Agent(AgentConfig(token=TOKEN, name="test", cache_dir=tmp_path_factory.mktemp("cache")))


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_model(tmp_path_factory.mktemp("m") / "tiny.onnx")


@pytest.fixture(scope="module")
def sha(agent: Agent, tiny: Path) -> str:
    return load(agent, tiny)


def authed(agent: Agent) -> Connection:
    conn = Connection(agent)
    [reply] = conn.handle(pack({"op": "hello", "version": PROTOCOL_VERSION, "token": TOKEN}))
    assert reply["ok"], reply
    return conn


def load(agent: Agent, tiny: Path) -> str:
    import hashlib

    data = tiny.read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    [reply] = authed(agent).handle(pack({"op": "load", "sha256": sha, "model": data}))
    assert reply["ok"], reply
    return sha


def valid_round_trip(agent: Agent, sha: str) -> None:
    """After any garbage, a fresh connection is still answered correctly."""
    conn = authed(agent)
    x = np.arange(4, dtype=np.float32)[None]
    [reply] = conn.handle(pack({"op": "infer", "sha256": sha, "inputs": {"x": encode_tensor(x)}}))
    assert reply["ok"], reply
    np.testing.assert_array_equal(decode_tensor(reply["outputs"][0]), x + 1)


def test_tensor_round_trip_and_allow_list() -> None:
    for dtype in ("float32", "float16", "uint8", "int64", "bool"):
        a = (np.arange(24).reshape(2, 3, 4) % 2).astype(dtype)
        np.testing.assert_array_equal(decode_tensor(unpack(pack({"t": encode_tensor(a)}))["t"]), a)
    with pytest.raises(ProtocolError, match="not allowed"):
        encode_tensor(np.array(["a"], dtype=object))
    with pytest.raises(ProtocolError, match="dtype 'object' is not allowed"):
        decode_tensor({"dtype": "object", "shape": [1], "data": b"x"})
    with pytest.raises(ProtocolError, match="do not hold"):
        decode_tensor({"dtype": "float32", "shape": [2], "data": b"1234"})
    with pytest.raises(ProtocolError, match="at most 8"):
        decode_tensor({"dtype": "uint8", "shape": [1] * 9, "data": b"x"})
    with pytest.raises(ProtocolError, match="more than"):
        decode_tensor({"dtype": "uint8", "shape": [1 << 20, 1 << 20], "data": b""})


def test_pickle_and_ext_types_refused(agent: Agent) -> None:
    payload = pickle.dumps({"op": "hello", "version": 1, "token": TOKEN})
    [reply] = Connection(agent).handle(payload)
    assert reply["ok"] is False and reply["code"] == "protocol"
    for ext in (msgpack.ExtType(1, b"obj"), msgpack.Timestamp(1, 0)):  # no extension type decodes, timestamps included
        conn = Connection(agent)
        [reply] = conn.handle(msgpack.packb({"op": "hello", "version": 1, "token": TOKEN, "x": ext}))
        assert reply["ok"] is False and reply["code"] == "protocol" and not conn.authed


def test_first_message_must_authenticate(agent: Agent, tiny: Path) -> None:
    sha = load(agent, tiny)
    for msg in (
        {"op": "infer", "sha256": sha, "inputs": {}},
        {"op": "hello", "version": 1},
        {"op": "hello", "version": 1, "token": "x" * 32},
        {"op": "hello", "version": 1, "token": 12},
        {"op": "hello", "version": 2, "token": TOKEN},
    ):
        conn = Connection(agent)
        [reply] = conn.handle(pack(msg))
        assert reply["ok"] is False and conn.done and not conn.authed, msg
    [reply] = Connection(agent).handle(pack({"op": "hello", "version": 99, "token": TOKEN}))
    assert "protocol version 99 is not supported" in reply["error"] and "speaks version 1" in reply["error"]


def test_model_checks(agent: Agent, tiny: Path, tmp_path: Path) -> None:
    import hashlib

    conn = authed(agent)
    [reply] = conn.handle(pack({"op": "load", "sha256": "0" * 64, "model": b"not this"}))
    assert reply["code"] == "hash_mismatch"
    [reply] = conn.handle(pack({"op": "load", "sha256": "1" * 64}))
    assert reply["code"] == "not_cached"
    big = Agent(AgentConfig(token=TOKEN, cache_dir=tmp_path, max_model_bytes=10))
    data = tiny.read_bytes()
    [reply] = authed(big).handle(pack({"op": "load", "sha256": hashlib.sha256(data).hexdigest(), "model": data}))
    assert reply["code"] == "too_large" and "limit of 10 bytes" in reply["error"]
    [reply] = conn.handle(pack({"op": "load", "sha256": "../../etc/passwd" + "0" * 48}))
    assert reply["ok"] is False and not conn.authed or reply["code"] == "protocol"


# -- fuzz -----------------------------------------------------------------------------------------

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**64 - 1),
    st.floats(),
    st.text(max_size=20),
    st.binary(max_size=40),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=12,
)
ops = st.sampled_from(["hello", "load", "bench", "infer", "bye", "nope", ""])
keys = st.sampled_from(
    [
        "op",
        "version",
        "token",
        "sha256",
        "model",
        "session",
        "inputs",
        "models",
        "warmup",
        "min_count",
        "min_duration_s",
        "max_count",
        "max_duration_s",
        "batch_s",
        "seed",
        "x",
        "dtype",
        "shape",
        "data",
    ]
)
messages = st.dictionaries(keys, values, max_size=6).flatmap(lambda d: ops.map(lambda op: {**d, "op": op}))


def _check(replies: list[dict]) -> None:
    for reply in replies:
        assert isinstance(reply, dict) and isinstance(reply.get("ok"), bool)
        pack(reply)  # every reply is sendable


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    body=st.one_of(
        st.binary(min_size=1, max_size=200),
        messages.map(pack),
        messages.map(pack).flatmap(lambda b: st.integers(1, max(1, len(b) - 1)).map(lambda n: b[:n])),
    )
)
def test_fuzz_unauthenticated(agent: Agent, body: bytes) -> None:
    conn = Connection(agent)
    _check(list(conn.handle(body)))
    assert not conn.authed or body == pack({"op": "hello", "version": PROTOCOL_VERSION, "token": TOKEN})


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    msgs=st.lists(st.one_of(messages.map(pack), st.binary(min_size=1, max_size=100)), min_size=1, max_size=4),
    sha_ok=st.booleans(),
)
def test_fuzz_authenticated(agent: Agent, sha: str, msgs: list[bytes], sha_ok: bool) -> None:
    conn = authed(agent)
    for body in msgs:
        if sha_ok and b"sha256" in body:  # steer some messages to the loaded model so infer/bench paths run
            message = msgpack.unpackb(body, strict_map_key=False)
            message["sha256"] = sha
            if message.get("op") == "bench":
                message.update(warmup=0, min_count=1, max_duration_s=0.05)
            body = pack(message)
        if conn.done:
            break
        _check(list(conn.handle(body)))
    valid_round_trip(agent, sha)


@settings(max_examples=300, deadline=None)
@given(
    inputs=st.dictionaries(
        st.sampled_from(["x", "y"]),
        st.fixed_dictionaries(
            {
                "dtype": st.sampled_from(["float32", "float64", "uint8", "int64", "bool"]),
                "shape": st.lists(st.integers(0, 5), max_size=3),
                "data": st.binary(max_size=64),
            }
        ),
        max_size=2,
    )
)
def test_fuzz_infer_tensors(agent: Agent, sha: str, inputs: dict) -> None:
    """Wrong dtypes, shapes and sizes for a real session: an error reply, and the session still works."""
    conn = authed(agent)
    _check(list(conn.handle(pack({"op": "infer", "sha256": sha, "inputs": inputs}))))
    valid_round_trip(agent, sha)
