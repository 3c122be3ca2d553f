"""``latency=board``: live lockstep hardware in the loop.

Each simulated inference sends the real observation (the cameras the scene rendered, resized as for
the host's ONNX policy, and the joint state) to the board agent; the chunk is the one the board
computed, and simulated time advances by the latency the board measured for that call (times
``latency.scale``). The scheduler sees an ordinary policy (the arch's host ONNX policy whose session
is the board's: :class:`BoardChunkPolicy` for ACT, :class:`BoardVLAPolicy` for SmolVLA,
:class:`BoardContractPolicy` for a contract model) and an ordinary latency source
(:class:`BoardLatency`, which hands back the last board-measured latency): it calls ``predict_chunk``
first and ``sample`` right after, once per inference.

Not reproducible bit for bit: the board's timing varies run to run (``describe()`` says so, and so
does ``metrics.json``). Record a trace with ``hil measure`` for reproducible sweeps.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from types import SimpleNamespace
from typing import Any, TypeVar

import numpy as np
from numpy.typing import NDArray

from simbench.envs.base import control_hz
from simbench.errors import ConfigError, bad_value
from simbench.hil.board import BoardConfig, BoardConnection, parse_board
from simbench.hil.client import BoardClient, LoadedModel
from simbench.hil.measure import board_summary
from simbench.hil.spec import host_session_spec
from simbench.latency.base import StageTimes
from simbench.latency.context import LatencyContext
from simbench.policies.act.onnx_runtime import ACTOnnxPolicy
from simbench.policies.onnx_chunk import OnnxContractPolicy
from simbench.policies.onnx_model import resolve_model_path
from simbench.policies.smolvla.onnx_runtime import COMPONENTS, INPUTS, SmolVLAOnnxPolicy, component_paths, rtc_config
from simbench.policies.smolvla.rtc import Guide


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
        self.last_components: dict[str, float] | None = None
        self.graphs: dict[str, LoadedModel] | None = None
        """A multi-graph policy's graphs on the board (smolvla_*), per component."""

    @classmethod
    def from_config(cls, latency_cfg: Mapping[str, Any], ctx: LatencyContext) -> BoardLatency:
        """``latency=board`` (conf/latency/board.yaml's ``target``): checked here against the whole run
        (``ctx.run``), connected only when the run starts."""
        from omegaconf import OmegaConf

        cfg = ctx.run
        policy = OmegaConf.to_container(cfg.policy, resolve=True)
        env = OmegaConf.to_container(cfg.env, resolve=True)
        assert isinstance(policy, dict) and isinstance(env, dict)
        name = policy.get("name")
        if policy.get("runtime") != "onnx" or not policy.get("model_path"):
            raise bad_value("latency", "board",
                            f"needs a policy with an ONNX model (runtime: onnx); {name} has runtime {policy.get('runtime')}")
        if not env.get("cameras") and policy.get("arch") != "chunk":  # chunk: generated inputs (onnx_chunk.py)
            raise bad_value("latency", "board", f"needs an env with cameras to send the board; env={env.get('name')} "
                            "has none (use env=teabag_mug)")
        if "board" not in cfg or cfg.board is None:
            raise ConfigError("latency=board needs board=NAME (loopback or lab; conf/board/)")
        board = parse_board(OmegaConf.to_container(cfg.board, resolve=True))  # type: ignore[arg-type]
        return cls(board, float(latency_cfg.get("scale", 1.0)))  # make_latency checked the scale

    def draw(self, rng: np.random.Generator, measured_s: float) -> StageTimes:
        """The board's own timing of the call just made (``measured_s`` includes the tether)."""
        if self.last_s is None:
            raise RuntimeError(
                "latency=board has no measurement: the policy did not run on the board (see simbench.hil.board_policy)"
            )
        seconds, self.last_s = self.last_s, None
        components, self.last_components = self.last_components, None
        if components is not None:  # a multi-graph policy: its pipeline stages take the board's component times
            return StageTimes(self.scale * seconds, {n: self.scale * v for n, v in components.items()})
        return StageTimes(self.scale * seconds)

    def record(self, seconds: float, components: Mapping[str, float] | None = None) -> None:
        self.last_s = seconds
        self.last_components = dict(components) if components is not None else None
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
        if self.graphs is not None:
            info.update(
                model_sha256={n: m.sha256 for n, m in self.graphs.items()},
                precision={n: m.metadata.get("simbench.precision") for n, m in self.graphs.items()},
                components=list(self.graphs),
            )
        return info

    def open_policy(self, cfg: Mapping[str, Any], env: Any) -> BoardChunkPolicy:
        """Connect (starting the loopback agent if so configured), load the policy's model(s) there."""
        if cfg.get("arch") == "smolvla":
            return BoardVLAPolicy.connect(cfg, env, self)  # type: ignore[return-value]
        if cfg.get("arch") == "chunk":  # a contract model (+policy=onnx)
            return BoardContractPolicy.connect(cfg, env, self)  # type: ignore[return-value]
        return BoardChunkPolicy.connect(cfg, env, self)


class RemoteSession:
    """The part of an ONNX Runtime session :class:`ACTOnnxPolicy` uses, answered by the board."""

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


class OnBoard:
    """A policy whose graphs run on the board: it holds the connection and closes it."""

    connection: BoardConnection

    def close(self) -> None:
        self.connection.close()


P = TypeVar("P", bound=OnBoard)


def open_on_board(latency: BoardLatency, cfg: Mapping[str, Any], paths: Mapping[str, Path],
                  build: Callable[[BoardConnection, int, dict[str, LoadedModel]], P]) -> P:
    """Connect, upload each graph of ``paths`` (cached on the board by sha256) with the run's session
    spec, note the board's facts on ``latency`` and ``build(connection, threads, models)`` the policy;
    the connection is closed if any step fails, else the policy holds it."""
    threads = latency.board.threads or int(cfg.get("threads", 1) or 1)
    conn = BoardConnection(latency.board)
    try:
        spec = host_session_spec(threads, latency.board.providers)
        models = {name: conn.client.load(path, spec) for name, path in paths.items()}
        latency.facts, latency.where = conn.client.facts, conn.where
        policy = build(conn, threads, models)
    except BaseException:
        conn.close()
        raise
    policy.connection = conn
    return policy


class BoardChunkPolicy(OnBoard, ACTOnnxPolicy):
    """An ACT ONNX policy whose every ``session.run`` happens on the board."""

    @classmethod
    def connect(cls, cfg: Mapping[str, Any], env: Any, latency: BoardLatency) -> BoardChunkPolicy:
        path = resolve_model_path(cfg.get("model_path"))

        def build(conn: BoardConnection, threads: int, models: dict[str, LoadedModel]) -> BoardChunkPolicy:
            latency.model = models["model"]
            policy = cls(
                path,
                name=str(cfg.get("name", "act")),
                actions_per_chunk=cfg.get("actions_per_chunk"),
                threads=threads,
                control_hz=float(cfg.get("fps") or control_hz(env)),
                session=RemoteSession(conn.client, models["model"], latency),
            )
            if "action_dim" in cfg and int(cfg["action_dim"]) != policy.action_dim:
                raise ConfigError(f"policy.action_dim={cfg['action_dim']} but {policy.path} predicts {policy.action_dim}")
            return policy

        return open_on_board(latency, cfg, {"model": path}, build)


class BoardContractPolicy(OnBoard, OnnxContractPolicy):
    """A contract model (``+policy=onnx``) whose every ``session.run`` happens on the board: the host's
    :class:`OnnxContractPolicy` over a :class:`RemoteSession`, so it feeds the board exactly what it
    would feed ONNX Runtime here (the scene's observation, or the fixed generated one in ``env=timing``)."""

    @classmethod
    def connect(cls, cfg: Mapping[str, Any], env: Any, latency: BoardLatency) -> BoardContractPolicy:
        path = resolve_model_path(cfg.get("model_path"))

        def build(conn: BoardConnection, threads: int, models: dict[str, LoadedModel]) -> BoardContractPolicy:
            latency.model = models["model"]
            return cls.from_config(
                {**cfg, "threads": threads, "fps": cfg.get("fps") or control_hz(env)},
                env,
                session=RemoteSession(conn.client, models["model"], latency),
            )

        return open_on_board(latency, cfg, {"model": path}, build)


class BoardVLAPolicy(OnBoard, SmolVLAOnnxPolicy):
    """A SmolVLA ONNX policy whose every chunk is computed on the board: one ``vla`` request runs
    vision, prefill and the expert's denoising steps there (from the noise drawn here, so the chunk
    is the host runtime's), and the board's per-component seconds feed the pipeline stages."""

    latency: BoardLatency
    graph_sha: dict[str, str]

    @classmethod
    def connect(cls, cfg: Mapping[str, Any], env: Any, latency: BoardLatency) -> BoardVLAPolicy:
        paths = component_paths(cfg.get("model_path"), cfg.get("component_precision"))

        def build(conn: BoardConnection, threads: int, graphs: dict[str, LoadedModel]) -> BoardVLAPolicy:
            latency.model, latency.graphs = graphs["vision"], graphs
            policy = cls(
                paths,
                name=str(cfg.get("name", "smolvla")),
                actions_per_chunk=cfg.get("actions_per_chunk"),
                threads=threads,
                control_hz=float(cfg.get("fps") or control_hz(env)),
                num_steps=cfg.get("num_steps"),
                noise_scale=cfg.get("noise_scale"),
                sessions={c: RemoteSession(conn.client, graphs[c], latency) for c in COMPONENTS},
                rtc=rtc_config(cfg),
            )
            policy.graph_sha = {c: graphs[c].sha256 for c in COMPONENTS}
            policy.latency = latency
            if "vla" not in conn.client.capabilities:  # one line now, not at the first chunk
                conn.client.vla(policy.graph_sha, {}, {}, np.zeros((1, 1, 1), np.float32), 1)
            return policy

        return open_on_board(latency, cfg, paths, build)

    def trace(self, state: NDArray[np.float32], images: NDArray[np.uint8], noise: NDArray[np.float32],
              num_steps: int | None = None, text: str | None = None, guide: Guide | None = None) -> dict[str, Any]:
        n = num_steps or self.num_steps
        vision = {f"observation.images.{c}": np.ascontiguousarray(images[:, j]) for j, c in enumerate(self.cameras)}
        prefill = {INPUTS["prefill"][1]: self.tokens(text), INPUTS["prefill"][2]: state.astype(np.float32)}
        wire = None if guide is None else {"target": guide.target, "weights": guide.weights, "beta": guide.beta,
                                           "vjp": guide.vjp}
        reply = self.connection.client.vla(self.graph_sha, vision, prefill, noise.astype(np.float32), n, wire)
        self.latency.record(reply.latency_s, reply.components)
        self.last_component_s = dict(reply.components)
        x = reply.chunk
        return {"chunk_normalized": x, "chunk": x * self.action_std + self.action_mean,
                "seconds": dict(reply.components), "steps": list(reply.steps)}


__all__ = [
    "BoardChunkPolicy",
    "BoardContractPolicy",
    "BoardLatency",
    "BoardVLAPolicy",
    "OnBoard",
    "RemoteSession",
    "open_on_board",
]
