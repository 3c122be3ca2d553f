"""``latency=board`` for a contract model (``+policy=onnx``): every ``session.run`` on the board.

The policy is the host's :class:`simbench.policies.onnx_chunk.OnnxContractPolicy` over a
:class:`simbench.hil.board_policy.RemoteSession`, so it feeds the board exactly what it would feed
ONNX Runtime here (the scene's observation, or the fixed generated one in ``env=timing``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from simbench.envs.base import control_hz
from simbench.hil.board import BoardConnection
from simbench.hil.board_policy import BoardLatency, OnBoard, RemoteSession, open_on_board
from simbench.hil.client import LoadedModel
from simbench.policies.onnx_chunk import OnnxContractPolicy
from simbench.policies.onnx_model import resolve_model_path


class BoardContractPolicy(OnBoard, OnnxContractPolicy):
    pass


def connect_contract_policy(cfg: Mapping[str, Any], env: Any, latency: BoardLatency) -> BoardContractPolicy:
    """Connect (the loopback agent starts if so configured), upload the model, wrap its session."""
    path = resolve_model_path(cfg.get("model_path"))

    def build(conn: BoardConnection, threads: int, models: dict[str, LoadedModel]) -> BoardContractPolicy:
        latency.model = models["model"]
        return BoardContractPolicy.from_config(
            {**cfg, "threads": threads, "fps": cfg.get("fps") or control_hz(env)},
            env,
            session=RemoteSession(conn.client, models["model"], latency),
        )

    return open_on_board(latency, cfg, {"model": path}, build)


__all__ = ["BoardContractPolicy", "connect_contract_policy"]
