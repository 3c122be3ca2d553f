"""A model larger than one message reaches the board in ``put`` parts; every way a part can be wrong is
refused with its code and the agent keeps serving."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import onnx.numpy_helper  # noqa: F401
import pytest
from simbench_agent.session import SessionSpec

from simbench.hil.board import LoopbackAgent
from simbench.hil.client import BoardClient, BoardError
from tests.hil.helpers import start_agent

CAP = 64 * 1024  # the smallest message cap an agent takes


def weights(width: int) -> np.ndarray:
    return np.linspace(-1.0, 1.0, 4 * width, dtype=np.float32).reshape(4, width)


def wide_model(path: Path, width: int = 10_000) -> Path:
    """y = x @ W with W float32 (4, ``width``): 160 kB at the default, larger than a 64 KiB message."""
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "W"], ["y"])], "wide",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, width])],
        [onnx.numpy_helper.from_array(weights(width), "W")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


@pytest.fixture(scope="module")
def agent() -> Iterator[LoopbackAgent]:
    a = start_agent(max_message_bytes=CAP, max_model_bytes=1_000_000)
    try:
        yield a
    finally:
        a.stop()


def client(agent: LoopbackAgent) -> BoardClient:
    return BoardClient("127.0.0.1", agent.port, agent.token, timeout_s=10, max_message_bytes=CAP)


def test_a_model_larger_than_one_message_is_uploaded_in_parts_and_runs(agent: LoopbackAgent, tmp_path: Path) -> None:
    path = wide_model(tmp_path / "wide.onnx")
    assert path.stat().st_size > 2 * CAP
    with client(agent) as c:
        assert "put" in c.capabilities
        got = c.load(path, SessionSpec(threads=1))
        assert got.uploaded and got.size_bytes == path.stat().st_size
        x = np.array([[1.0, -2.0, 0.5, 3.0]], np.float32)
        outputs, _ = c.infer(got.sha256, {"x": x})
        np.testing.assert_allclose(outputs[0], x @ weights(10_000), rtol=1e-5, atol=1e-5)
    with client(agent) as c:  # cached now: no second upload
        assert not c.load(path, SessionSpec(threads=1)).uploaded


def put(c: BoardClient, sha: str, size: int, offset: int, data: bytes) -> dict:
    return c.call({"op": "put", "sha256": sha, "size": size, "offset": offset, "data": data})


def test_wrong_parts_are_refused_with_their_code(agent: LoopbackAgent) -> None:
    data = bytes(range(256)) * 100
    sha = hashlib.sha256(data).hexdigest()
    with client(agent) as c:
        with pytest.raises(BoardError) as err:  # larger than the board takes
            put(c, sha, 2_000_000, 0, data[:10])
        assert err.value.code == "too_large" and "--max-model-bytes" in str(err.value)
        with pytest.raises(BoardError) as err:  # a gap: offset 100 before 0
            put(c, sha, len(data), 100, data[100:200])
        assert err.value.code == "upload_order"
        with pytest.raises(BoardError) as err:  # past the declared size
            put(c, sha, 10, 0, data[:11])
        assert err.value.code == "protocol"
        assert put(c, sha, len(data), 0, data[:1000]) == {"ok": True, "received": 1000, "complete": False}
        with pytest.raises(BoardError) as err:  # a repeated part
            put(c, sha, len(data), 0 + 500, data[500:1500])
        assert err.value.code == "upload_order"
        bad = bytearray(data)
        bad[-1] ^= 1
        with pytest.raises(BoardError) as err:  # the last part completes bytes that are not the sha256
            put(c, sha, len(data), 1000, bytes(bad[1000:]))
        assert err.value.code == "hash_mismatch"
        with pytest.raises(BoardError) as err:  # and nothing of it was kept
            c.call({"op": "load", "sha256": sha, "session": SessionSpec(threads=1).to_wire()})
        assert err.value.code == "not_cached"
        # starting over at offset 0 works, and the agent still serves
        assert put(c, sha, len(data), 0, data)["complete"] is True


def test_an_agent_without_put_gets_the_model_in_one_message(agent: LoopbackAgent, tmp_path: Path) -> None:
    path = wide_model(tmp_path / "small.onnx", width=1000)
    with client(agent) as c:
        c.capabilities = tuple(x for x in c.capabilities if x != "put")
        assert c.load(path, SessionSpec(threads=1)).uploaded
