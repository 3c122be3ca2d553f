"""``+policy=onnx``: any ONNX file that keeps the chunk-policy contract (docs/byo-policy.md).

``runtime: onnx, arch: chunk`` (conf/policy/onnx.yaml). The contract (:mod:`simbench.policies.chunk_contract`)
says which observation each graph input reads and what comes out; this runtime feeds it and hands
the chunk to the scheduler:

* in an env with cameras (the tea-bag scene) every input must be something the env gives, at the
  size it gives it: the cameras by name, at ``env.image_size``, and a state of the scene's length.
  Otherwise the policy is refused before the run, in one line naming each mismatch;
* in an env without cameras (``env=timing``) the model runs on one fixed generated observation of
  its declared shapes (images uniform uint8, states N(0, 1), seed 0: what ``hil measure`` sends), so
  ``latency=host`` and ``latency=board`` time the real graph.

The chunk is resampled from the model's ``simbench.fps`` to the control rate; a model without an fps
is taken at the control rate. ``predict_chunk`` times the ``session.run`` alone (``latency=host``).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from simbench.envs.base import CONTROL_HZ, Observation, control_hz
from simbench.errors import ConfigError, bad_value
from simbench.policies.chunk_contract import DOC, ChunkContract, InputSpec, read_contract
from simbench.policies.onnx_model import load_session, resolve_model_path
from simbench.policies.request import PolicyRequest
from simbench.policies.runtime_io import checked_actions_per_chunk, resample_chunk


def generated_feed(contract: ChunkContract, seed: int = 0) -> dict[str, np.ndarray]:
    """One observation of the declared shapes: images uniform, states N(0, 1) (``hil measure``'s inputs)."""
    rng = np.random.default_rng(seed)
    feed = {}
    for spec in contract.inputs:
        if spec.dtype == "uint8":
            feed[spec.name] = rng.integers(0, 256, spec.shape, dtype=np.uint8)
        elif spec.kind == "image":
            feed[spec.name] = rng.random(spec.shape, dtype=np.float32)
        else:
            feed[spec.name] = rng.standard_normal(spec.shape).astype(np.float32)
    return feed


def env_name(env: Any) -> str:
    """The ``env=`` name of an env instance (for messages)."""
    from simbench.registry import ENVS

    cls = type(env).__name__
    return next((name for name, target in ENVS.items() if target.endswith(f":{cls}")), cls)


def env_probe(env: Any) -> Observation | None:
    """The observation an env gives at the start of its first episode, or None without cameras."""
    if env is None:
        return None
    inner = getattr(env, "env", env)
    if not getattr(inner, "cameras", None):
        return None
    env.reset(0, env.episode_plan()[0])
    return env.observation(env.snapshot())


def mismatches(contract: ChunkContract, observation: Mapping[str, Any], env_name: str = "the env") -> list[str]:
    """What the model reads that ``observation`` (an env's) does not give, each in a few words."""
    problems = []
    cameras = sorted(k[len("observation.images.") :] for k in observation if k.startswith("observation.images."))
    for spec in contract.inputs:
        value = observation.get(spec.key)
        if value is None:
            if spec.kind == "image":
                problems.append(
                    f"camera {spec.camera!r} ({spec.key}) is not one {env_name} renders "
                    f"({', '.join(cameras) or 'none'})"
                )
            else:
                problems.append(f"{spec.key} is not in {env_name}'s observation")
            continue
        value = np.asarray(value)
        if spec.kind == "image":
            if value.shape[:2] != spec.image_size:
                problems.append(
                    f"camera {spec.camera} is {spec.image_size[0]}x{spec.image_size[1]} in the model, "
                    f"{value.shape[0]}x{value.shape[1]} in {env_name} (env.image_size="
                    f"[{spec.image_size[0]},{spec.image_size[1]}] renders the model's size)"
                )
        elif value.reshape(-1).shape[0] != spec.shape[1]:
            problems.append(
                f"{spec.key} has {spec.shape[1]} values in the model, {value.reshape(-1).shape[0]} in {env_name}"
            )
    return problems


class OnnxContractPolicy:
    """ChunkPolicy over an ONNX Runtime session of a contract-keeping model."""

    def __init__(
        self,
        model_path: str | Path,
        name: str = "onnx",
        actions_per_chunk: int | None = None,
        threads: int = 1,
        control_hz: float = CONTROL_HZ,
        env: Any = None,
        env_name: str = "the env",
        session: Any = None,
    ) -> None:
        if threads < 1:
            raise bad_value("policy.threads", threads, "must be >= 1")
        self.path = resolve_model_path(model_path)
        self.contract = read_contract(self.path)
        self.name = name
        self.action_dim = self.contract.action_dim
        self.chunk_size = self.contract.chunk_size
        self.precision = self.contract.precision
        self.control_hz = float(control_hz)
        self.model_fps = self.contract.fps or self.control_hz
        probe = env_probe(env)
        self.generated = probe is None
        if probe is not None:
            problems = mismatches(self.contract, probe, env_name)
            if problems:
                raise ConfigError(
                    f"policy.model_path={str(self.path)!r} does not match env={env_name}: "
                    f"{'; '.join(problems)} (env=timing runs it on generated inputs; {DOC})"
                )
        self.actions_per_chunk = checked_actions_per_chunk(actions_per_chunk, self.chunk_size, self.model_fps,
                                                           self.control_hz)
        self._fixed = generated_feed(self.contract) if self.generated else None
        self.session = session if session is not None else load_session(self.path, threads)
        self.last_inference_s = 0.0

    @property
    def model_files(self) -> dict[str, Path]:
        return {"model": self.path}

    @staticmethod
    def metadata_file(cfg: Mapping[str, Any]) -> Path:
        """The model file; its contract is checked here, before any run starts (config validation)."""
        path = resolve_model_path(cfg.get("model_path"))
        read_contract(path)
        return path

    @classmethod
    def from_config(cls, cfg: dict[str, Any], env: Any = None, session: Any = None) -> OnnxContractPolicy:
        return cls(
            cfg.get("model_path"),
            name=str(cfg.get("name", "onnx")),
            actions_per_chunk=cfg.get("actions_per_chunk"),
            threads=int(cfg.get("threads", 1)),
            control_hz=float(cfg.get("fps") or control_hz(env)),
            env=env,
            env_name=env_name(env),
            session=session,
        )

    def reset(self, seed: int) -> None:
        """Nothing to forget: the graph is stateless."""

    def feed(self, observation: Mapping[str, Any]) -> dict[str, np.ndarray]:
        """The session's inputs for an observation (the fixed generated one in a camera-less env)."""
        if self._fixed is not None:
            return self._fixed
        return {spec.name: _input(spec, observation[spec.key]) for spec in self.contract.inputs}

    def predict_chunk_raw(self, observation: Observation) -> NDArray[np.float32]:
        """(chunk_size, action_dim) at the model's rate, robot units."""
        feed = self.feed(observation)
        t0 = time.perf_counter()
        out = self.session.run([self.contract.output], feed)[0][0]
        self.last_inference_s = time.perf_counter() - t0  # the graph alone: what latency=host times
        return out

    def predict_chunk(self, request: PolicyRequest) -> NDArray[np.float64]:
        return resample_chunk(
            self.predict_chunk_raw(request.observation), self.model_fps, self.control_hz, self.actions_per_chunk
        )


def _input(spec: InputSpec, value: Any) -> np.ndarray:
    if spec.kind != "image":
        return np.asarray(value, dtype=np.float32).reshape(spec.shape)
    image = np.asarray(value, dtype=np.uint8)
    if spec.layout == "NHWC":
        return image[None]
    return image.transpose(2, 0, 1)[None].astype(np.float32) / np.float32(255.0)


class NotTrainable:
    """``arch: chunk`` in the architecture table: an ONNX file brought as is has no torch network."""

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Any:
        raise ConfigError(
            "policy.arch=chunk is an ONNX model brought as is: it runs (+policy=onnx) but is not "
            "trained or exported here; a LeRobot ACT checkpoint imports with 'python -m simbench "
            "import-lerobot'"
        )


def export(*args: Any, **kwargs: Any) -> Any:
    NotTrainable.from_dict({})


__all__ = ["NotTrainable", "OnnxContractPolicy", "env_probe", "generated_feed", "mismatches"]
