"""The policy's real payloads on the tether: the observation the client sends, the chunk it gets back.

The observation is what the host's ONNX policy feeds its model (joint state and camera images, the
model's declared input shapes and dtypes: act_int8 sends 6 floats and two 96x128 RGB frames,
~74 KB); a policy without a model sends its joint state only. The chunk is ``actions_per_chunk x
action_dim`` float32. ``hil link`` measures trips with exactly these sizes, and the wall-clock
runtime sends exactly these messages, so the DES and the real runtime move the same bytes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from simbench_agent.protocol import encode_tensor, encode_tensors, pack

ORT_DTYPES = {
    "tensor(float)": np.float32,
    "tensor(float16)": np.float16,
    "tensor(double)": np.float64,
    "tensor(uint8)": np.uint8,
    "tensor(int64)": np.int64,
    "tensor(int32)": np.int32,
}


def observation_tensors(policy: Mapping[str, Any], seed: int = 0) -> dict[str, np.ndarray]:
    """One observation as the policy's model takes it (random content of the declared shapes)."""
    rng = np.random.default_rng(seed)
    dim = int(policy.get("action_dim", 6))
    if policy.get("arch") == "smolvla" and policy.get("model_path"):  # the observation the three graphs read
        from simbench.policies.onnx_policy import model_metadata
        from simbench.policies.smolvla.onnx_runtime import component_paths

        meta = model_metadata(component_paths(policy["model_path"], policy.get("component_precision"))["vision"])
        h, w = (int(v) for v in meta["simbench.image_size"].split(","))
        return {"observation.state": rng.standard_normal((1, int(meta["simbench.state_dim"]))).astype(np.float32),
                **{f"observation.images.{c}": rng.integers(0, 256, (1, h, w, 3), dtype=np.uint8)
                   for c in meta["simbench.cameras"].split(",")}}
    if policy.get("model_path"):
        import onnxruntime as ort

        from simbench.policies.onnx_policy import resolve_model_path

        so = ort.SessionOptions()
        so.log_severity_level = 3
        session = ort.InferenceSession(
            str(resolve_model_path(policy["model_path"])), so, providers=["CPUExecutionProvider"]
        )
        feed: dict[str, np.ndarray] = {}
        for arg in session.get_inputs():
            shape = [d if isinstance(d, int) and d > 0 else 1 for d in arg.shape]
            dtype = ORT_DTYPES.get(arg.type, np.float32)
            if dtype == np.uint8:
                feed[arg.name] = rng.integers(0, 256, size=shape, dtype=np.uint8)
            else:
                feed[arg.name] = rng.standard_normal(shape).astype(dtype)
        return feed
    return {"observation.state": rng.standard_normal((1, dim)).astype(np.float32)}


def chunk_shape(policy: Mapping[str, Any]) -> tuple[int, int]:
    return int(policy["actions_per_chunk"]), int(policy.get("action_dim", 6))


def stub_request(inputs: Mapping[str, np.ndarray], shape: tuple[int, int], sleep_s: float) -> dict[str, Any]:
    """The ``stub`` request: the observation travels, the agent sleeps ``sleep_s``, a chunk comes back."""
    return {"op": "stub", "sleep_s": float(sleep_s), "chunk": list(shape), "inputs": encode_tensors(inputs)}


def wire_sizes(policy: Mapping[str, Any]) -> tuple[int, int]:
    """Bytes (observation message, chunk reply) on the wire for this policy."""
    shape = chunk_shape(policy)
    up = len(pack(stub_request(observation_tensors(policy), shape, 0.0)))
    down = len(pack({"ok": True, "chunk": encode_tensor(np.zeros(shape, np.float32)), "latency_s": 0.0}))
    return up, down


__all__ = ["chunk_shape", "observation_tensors", "stub_request", "wire_sizes"]
