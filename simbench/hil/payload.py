"""The policy's real payloads on the tether: the observation the client sends, the chunk it gets back.

The observation is what the host's ONNX policy feeds its model (joint state and camera images of the
sizes the export's metadata declares: act_int8 sends 6 floats and two 96x128 RGB frames,
~74 KB); a policy without a model sends its joint state only. The chunk is ``actions_per_chunk x
action_dim`` float32. ``hil link`` measures trips with exactly these sizes, and the wall-clock
runtime sends exactly these messages, so the DES and the real runtime move the same bytes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from simbench_agent.protocol import encode_tensor, encode_tensors, pack


def observation_tensors(policy: Mapping[str, Any], seed: int = 0) -> dict[str, np.ndarray]:
    """One observation as the policy's model takes it (random content of the declared shapes)."""
    rng = np.random.default_rng(seed)
    dim = int(policy.get("action_dim", 6))
    if policy.get("model_path"):  # what the runtime feeds its model, from the export's metadata
        from simbench.policies.factory import model_metadata_file
        from simbench.policies.onnx_model import model_metadata

        meta = model_metadata(model_metadata_file(policy))
        if "simbench.contract" in meta:  # a contract model (+policy=onnx): the inputs it declares
            from simbench.policies.chunk_contract import read_contract
            from simbench.policies.onnx_chunk import generated_feed

            return generated_feed(read_contract(model_metadata_file(policy)), seed)
        h, w = (int(v) for v in meta["simbench.image_size"].split(","))
        return {"observation.state": rng.standard_normal((1, int(meta["simbench.state_dim"]))).astype(np.float32),
                **{f"observation.images.{c}": rng.integers(0, 256, (1, h, w, 3), dtype=np.uint8)
                   for c in meta["simbench.cameras"].split(",")}}
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
