"""Shared pieces of the HIL tests: a tiny ONNX model and an agent on loopback."""

from __future__ import annotations

import socket
import struct
from pathlib import Path
from typing import Any

import numpy as np

from simbench.hil.board import BoardConfig, LoopbackAgent, parse_board


def tiny_model(path: Path, bias: float = 1.0) -> Path:
    """y = x + bias for x float32 (1, 4): loads and runs in microseconds."""
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Add", ["x", "b"], ["y"])], "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor("b", TensorProto.FLOAT, [4], np.full(4, bias, np.float32).tolist())],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def loopback(**overrides: Any) -> BoardConfig:
    return parse_board({"name": "loopback", "port": 0, "timeout_s": 10.0, **overrides})


def start_agent(**overrides: Any) -> LoopbackAgent:
    return LoopbackAgent(loopback(**overrides))


def raw_exchange(port: int, payload: bytes, read_timeout: float = 5.0) -> bytes:
    """Send raw bytes on a fresh connection; return whatever comes back before the agent closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=read_timeout) as sock:
        try:
            sock.sendall(payload)
        except OSError:
            pass
        data = b""
        try:
            while chunk := sock.recv(65536):
                data += chunk
        except OSError:
            pass
        return data


def frame(body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + body
