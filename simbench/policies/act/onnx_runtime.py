"""``arch: act, runtime: onnx``: an ACT chunk policy over an ONNX Runtime session (what the board would run).

The ONNX file is self-contained: normalization is inside the graph and its metadata says which
cameras, image size, state size, chunk size and fps it expects (written by ``simbench export``).
``predict_chunk`` is what ``latency=host`` times, so it does only the necessary work: resize,
one ``session.run``, resample to the control rate.

Config keys (``conf/policy/act_*.yaml``): ``model_path`` (relative paths resolve against
``simbench/models/``), ``threads`` (ONNX Runtime intra-op threads, default 1), ``fps`` (control rate
the chunk is resampled to; default the env's ``fps``, else 60), ``actions_per_chunk``.

Shared with the other ONNX runtimes: finding the file and building the session
(:mod:`simbench.policies.onnx_model`), observation -> inputs and chunk -> control ticks
(:mod:`simbench.policies.runtime_io`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from simbench.envs.base import CONTROL_HZ, Observation, control_hz
from simbench.errors import ConfigError, bad_value
from simbench.policies.onnx_model import ExportShape, load_session, resolve_model_path
from simbench.policies.request import PolicyRequest
from simbench.policies.runtime_io import checked_actions_per_chunk, observation_inputs, resample_chunk


def _check_graph(
    session: Any, path: Path, cameras: tuple[str, ...], image_size: tuple[int, ...], state_dim: int
) -> None:
    """The graph's inputs are the ones its metadata promises (else the first inference would fail mid-run)."""
    expected = {"observation.state": [state_dim], **{f"observation.images.{c}": [*image_size, 3] for c in cameras}}
    inputs = {i.name: i.shape for i in session.get_inputs()}
    if set(inputs) != set(expected):
        raise bad_value(
            "policy.model_path",
            str(path),
            f"has inputs {sorted(inputs)} but its metadata promises {sorted(expected)}; re-run 'python -m simbench "
            "export'",
        )
    for name, dims in expected.items():
        got = [d for d in inputs[name][1:]]  # after the batch dimension
        if len(got) != len(dims) or any(isinstance(g, int) and g != d for g, d in zip(got, dims)):
            raise bad_value(
                "policy.model_path",
                str(path),
                f"input {name} has shape {inputs[name]}, metadata says (batch, {', '.join(map(str, dims))})",
            )


class ACTOnnxPolicy:
    """ChunkPolicy over an ONNX Runtime session; deterministic (ACT's latent is zero at inference)."""

    def __init__(
        self,
        model_path: str | Path,
        name: str = "act",
        actions_per_chunk: int | None = None,
        threads: int = 1,
        control_hz: float = CONTROL_HZ,
        session: Any = None,
    ) -> None:
        if threads < 1:
            raise bad_value("policy.threads", threads, "must be >= 1")
        self.path = resolve_model_path(model_path)
        # ``session``: anything with ORT's run/get_modelmeta, e.g. the board's (simbench.hil.board_policy)
        self.session = session if session is not None else load_session(self.path, threads)
        meta = self.session.get_modelmeta().custom_metadata_map
        if meta.get("simbench.arch") != "act":
            raise ConfigError(
                f"{self.path} is not a simbench ACT export (no simbench.arch=act metadata); re-run 'python -m simbench "
                "export'"
            )
        try:
            shape = ExportShape.of(meta)
            self.cameras, self.image_size, self.state_dim = shape.cameras, shape.image_size, shape.state_dim
            self.action_dim, self.chunk_size, self.model_fps = shape.action_dim, shape.chunk_size, shape.fps
        except (KeyError, ValueError) as err:
            raise bad_value(
                "policy.model_path",
                str(self.path),
                f"has unreadable simbench metadata ({type(err).__name__}: {err}); re-run 'python -m simbench export'",
            ) from None
        if (
            len(self.image_size) != 2
            or self.model_fps <= 0
            or min(self.state_dim, self.action_dim, self.chunk_size) < 1
        ):
            raise bad_value(
                "policy.model_path",
                str(self.path),
                "has inconsistent simbench metadata (image_size, fps, dims); re-run 'python -m simbench export'",
            )
        _check_graph(self.session, self.path, self.cameras, self.image_size, self.state_dim)
        self.precision = meta.get("simbench.precision", "?")
        self.config = json.loads(meta.get("simbench.config", "{}"))
        self.control_hz = float(control_hz)
        self.name = name
        self.actions_per_chunk = checked_actions_per_chunk(actions_per_chunk, self.chunk_size, self.model_fps,
                                                           self.control_hz)
        self._input_names = ["observation.state", *[f"observation.images.{c}" for c in self.cameras]]

    @property
    def model_files(self) -> dict[str, Path]:
        """The graph this policy runs (hashed into results' ``versions``)."""
        return {"model": self.path}

    @staticmethod
    def metadata_file(cfg: Mapping[str, Any]) -> Path:
        """The ONNX file whose ``simbench.*`` metadata describes the config's model."""
        return resolve_model_path(cfg.get("model_path"))

    @classmethod
    def from_config(cls, cfg: dict[str, Any], env: Any = None) -> ACTOnnxPolicy:
        policy = cls(
            cfg.get("model_path"),
            name=str(cfg.get("name", "act")),
            actions_per_chunk=cfg.get("actions_per_chunk"),
            threads=int(cfg.get("threads", 1)),
            control_hz=float(cfg.get("fps") or control_hz(env)),
        )
        if "action_dim" in cfg and cfg["action_dim"] != policy.action_dim:
            raise ConfigError(f"policy.action_dim={cfg['action_dim']} but {policy.path} predicts {policy.action_dim}")
        return policy

    def reset(self, seed: int) -> None:
        """Nothing to forget: the ONNX graph is stateless and deterministic."""

    def feed(self, state: NDArray[np.float32], images: list[NDArray[np.uint8]]) -> dict[str, np.ndarray]:
        """The session's input dict for model-resolution inputs (benchmarks time ``session.run`` on it)."""
        return dict(zip(self._input_names, [state, *images]))

    def predict_chunk_raw(self, observation: Observation) -> NDArray[np.float32]:
        """(chunk_size, action_dim) at the model's fps, before resampling."""
        state, images = observation_inputs(observation, self.cameras, self.image_size, self.state_dim)  # type: ignore[arg-type]
        feed = self.feed(state, images)
        t0 = time.perf_counter()
        out = self.session.run(None, feed)[0][0]
        # The ONNX Runtime call alone: latency=host times this, as the board agent times its session.run
        # (camera preprocessing and the scene's rendering are not in it).
        self.last_inference_s = time.perf_counter() - t0
        return out

    def predict_chunk(self, request: PolicyRequest) -> NDArray[np.float64]:
        return resample_chunk(
            self.predict_chunk_raw(request.observation), self.model_fps, self.control_hz, self.actions_per_chunk
        )


__all__ = ["ACTOnnxPolicy"]
