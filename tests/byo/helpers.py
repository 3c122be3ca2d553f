"""A small ONNX chunk policy that keeps (or breaks, on request) the contract of docs/byo-policy.md."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "lerobot"


def contract_model(
    path: Path,
    state_dim: int = 6,
    cameras: dict[str, tuple[int, int]] | None = None,
    chunk: int = 10,
    action_dim: int = 6,
    drop: str | None = None,
    meta: dict[str, str] | None = None,
    fps: float | None = 30.0,
) -> Path:
    """chunk = reshape(state @ W) + mean of each camera's pixels / 255 (every input reaches the output)."""
    cameras = {"top": (32, 48)} if cameras is None else cameras
    rng = np.random.default_rng(0)
    w = numpy_helper.from_array(rng.normal(0, 0.1, (state_dim, chunk * action_dim)).astype(np.float32), "W")
    shape = numpy_helper.from_array(np.array([1, chunk, action_dim], np.int64), "shape")
    scale = numpy_helper.from_array(np.array(1 / 255, np.float32), "scale")
    nodes = [
        helper.make_node("MatMul", ["observation.state", "W"], ["flat"]),
        helper.make_node("Reshape", ["flat", "shape"], ["chunk0"]),
    ]
    inputs = [helper.make_tensor_value_info("observation.state", TensorProto.FLOAT, [1, state_dim])]
    spec = [{"name": "observation.state", "kind": "state", "shape": [1, state_dim], "dtype": "float32"}]
    last = "chunk0"
    for cam, (h, w_) in cameras.items():
        name = f"observation.images.{cam}"
        inputs.append(helper.make_tensor_value_info(name, TensorProto.UINT8, [1, h, w_, 3]))
        spec.append({"name": name, "kind": "image", "shape": [1, h, w_, 3], "dtype": "uint8", "layout": "NHWC"})
        nodes += [
            helper.make_node("Cast", [name], [f"{cam}_f"], to=TensorProto.FLOAT),
            helper.make_node("ReduceMean", [f"{cam}_f"], [f"{cam}_m"], keepdims=0),
            helper.make_node("Mul", [f"{cam}_m", "scale"], [f"{cam}_s"]),
            helper.make_node("Add", [last, f"{cam}_s"], [f"{last}_{cam}"]),
        ]
        last = f"{last}_{cam}"
    nodes.append(helper.make_node("Identity", [last], ["action"]))
    out = helper.make_tensor_value_info("action", TensorProto.FLOAT, [1, chunk, action_dim])
    graph = helper.make_graph(nodes, "contract_policy", inputs, [out], initializer=[w, shape, scale])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    props = {
        "simbench.contract": "chunk_policy/1",
        "simbench.inputs": json.dumps(spec),
        "simbench.chunk_size": str(chunk),
        "simbench.action_dim": str(action_dim),
        "simbench.precision": "fp32",
    }
    if fps is not None:
        props["simbench.fps"] = str(fps)
    props.update(meta or {})
    if drop is not None:
        props.pop(drop)
    for k, v in props.items():
        model.metadata_props.add(key=k, value=v)
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def error_line(res: subprocess.CompletedProcess[str]) -> str:
    """The one error line of a refused command (exit 2, no traceback)."""
    assert res.returncode == 2, (res.returncode, res.stdout[-2000:], res.stderr[-2000:])
    assert "Traceback" not in res.stderr
    lines = [ln for ln in res.stderr.strip().splitlines() if ln.startswith("error: ")]
    assert len(lines) == 1, res.stderr
    return lines[0]
