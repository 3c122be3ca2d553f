"""``latency=board``: live lockstep hardware in the loop.

Each simulated inference sends the real observation (the cameras the scene rendered, resized as for
the host's ONNX policy, and the joint state) to the board agent; the chunk is the one the board
computed, and simulated time advances by the latency the board measured for that call (times
``latency.scale``). The scheduler sees an ordinary policy (an :class:`OnnxChunkPolicy` whose session
is the board's) and an ordinary latency source (:class:`BoardLatency`, which hands back the last
board-measured latency): it calls ``predict_chunk`` first and ``sample`` right after, once per
inference.

Not reproducible bit for bit: the board's timing varies run to run (``describe()`` says so, and so
does ``metrics.json``). Record a trace with ``hil measure`` for reproducible sweeps.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import SimpleNamespace
from typing import Any

import numpy as np

from simbench.envs.base import control_hz
from simbench.errors import ConfigError
from simbench.hil.board import BoardConfig, BoardConnection
from simbench.hil.client import BoardClient, LoadedModel
from simbench.hil.measure import board_summary
from simbench.hil.spec import host_session_spec
from simbench.latency.base import StageTimes
from simbench.policies.onnx_policy import OnnxChunkPolicy, resolve_model_path


class BoardLatency:
    """The board-measured seconds of the inference the policy just ran on the board."""

    def __init__(self, board: BoardConfig, scale: float = 1.0) -> None:
        self.board = board
        self.scale = scale
        self.last_s: float | None = None
        self.facts: dict[str, Any] | None = None
        self.where: str | None = None
        self.model: LoadedModel | None = None
        self.inferences = 0

    def draw(self, rng: np.random.Generator, measured_s: float) -> StageTimes:
        """The board's own timing of the call just made (``measured_s`` includes the tether)."""
        if self.last_s is None:
            raise RuntimeError(
                "latency=board has no measurement: the policy did not run on the board (see simbench.hil.board_policy)"
            )
        seconds, self.last_s = self.last_s, None
        return StageTimes(self.scale * seconds)

    def record(self, seconds: float) -> None:
        self.last_s = seconds
        self.inferences += 1

    def describe(self) -> dict[str, Any]:
        info: dict[str, Any] = {
            "kind": "board",
            "board_config": self.board.kind,
            "address": self.where,
            "scale": self.scale,
            "reproducible": False,
            "note": "live board: latencies and chunks are the board's; not reproducible bit for bit",
        }
        if self.facts is not None:
            info.update(
                board=board_summary(self.facts, self.where),
                board_name=self.facts.get("name"),
                onnxruntime_board=self.facts.get("onnxruntime"),
            )
        if self.model is not None:
            info.update(
                model_sha256=self.model.sha256,
                execution_provider=self.model.providers[0],
                threads=self.model.session.get("threads"),
                precision=self.model.metadata.get("simbench.precision"),
            )
        return info

    def open_policy(self, cfg: Mapping[str, Any], env: Any) -> BoardChunkPolicy:
        """Connect (starting the loopback agent if so configured), load the policy's model there."""
        return BoardChunkPolicy.connect(cfg, env, self)


class RemoteSession:
    """The part of an ONNX Runtime session :class:`OnnxChunkPolicy` uses, answered by the board."""

    def __init__(self, client: BoardClient, model: LoadedModel, latency: BoardLatency) -> None:
        self.client = client
        self.model = model
        self.latency = latency

    def get_modelmeta(self) -> Any:
        return SimpleNamespace(custom_metadata_map=dict(self.model.metadata))

    def get_inputs(self) -> list[Any]:
        """The graph's inputs as the board's session reports them (name and shape, ORT's NodeArg fields)."""
        return [SimpleNamespace(name=i["name"], shape=list(i["shape"])) for i in self.model.inputs]

    def run(self, output_names: Any, feed: Mapping[str, np.ndarray]) -> list[np.ndarray]:
        outputs, seconds = self.client.infer(self.model.sha256, feed)
        self.latency.record(seconds)
        return outputs


class BoardChunkPolicy(OnnxChunkPolicy):
    """An ACT ONNX policy whose every ``session.run`` happens on the board."""

    connection: BoardConnection

    @classmethod
    def connect(cls, cfg: Mapping[str, Any], env: Any, latency: BoardLatency) -> BoardChunkPolicy:
        path = resolve_model_path(cfg.get("model_path"))
        threads = latency.board.threads or int(cfg.get("threads", 1) or 1)
        conn = BoardConnection(latency.board)
        try:
            model = conn.client.load(path, host_session_spec(threads, latency.board.providers))
            latency.facts, latency.where, latency.model = conn.client.facts, conn.where, model
            policy = cls(
                path,
                name=str(cfg.get("name", "act")),
                actions_per_chunk=cfg.get("actions_per_chunk"),
                threads=threads,
                control_hz=float(cfg.get("fps") or control_hz(env)),
                session=RemoteSession(conn.client, model, latency),
            )
        except BaseException:
            conn.close()
            raise
        policy.connection = conn
        if "action_dim" in cfg and int(cfg["action_dim"]) != policy.action_dim:
            conn.close()
            raise ConfigError(f"policy.action_dim={cfg['action_dim']} but {policy.path} predicts {policy.action_dim}")
        return policy

    def close(self) -> None:
        self.connection.close()


__all__ = ["BoardChunkPolicy", "BoardLatency", "RemoteSession"]
