"""``arch: smolvla, runtime: onnx``: the three-graph SmolVLA pipeline on ONNX Runtime (no torch).

Per chunk: resize the cameras, run the vision graph (visual tokens), the prefill graph once (the
keys/values of every cross-attention layer of the expert), then ``num_steps`` forward-Euler steps of
the expert graph from Gaussian noise (t = 1) to the action chunk (t = 0), reusing the keys/values.
The path starts at ``noise_scale`` x N(0, I), drawn from a generator seeded by ``reset(seed)`` (same
seed, same chunks); the default 0 starts at the noise's mean: deterministic chunks.

Config keys (``conf/policy/smolvla_*.yaml``): ``model_path`` (a directory of ``<component>_<precision>.onnx``
files, relative paths under ``simbench/models/``), ``component_precision`` (precision per component:
``vision``, ``prefill``, ``expert``), ``num_steps`` and ``noise_scale`` (default: the model's),
``threads``, ``fps``, ``actions_per_chunk``.
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
from simbench.policies.request import PolicyRequest
from simbench.policies.runtime_io import checked_actions_per_chunk, observation_inputs, resample_chunk
from simbench.policies.smolvla.rtc import Guide, RTCConfig
from simbench.policies.smolvla.tokenizer import encode

COMPONENTS = ("vision", "prefill", "expert")
INPUTS = {"prefill": ("visual", "token_ids", "observation.state"), "expert": ("x_t", "t", "kv")}
OUTPUTS = {"vision": "visual", "prefill": "kv", "expert": "velocity"}


def component_paths(model_path: str | Path | None, precision: dict[str, str] | None) -> dict[str, Path]:
    """``{component: <model_path>/<component>_<precision>.onnx}``; ConfigError naming the key when missing."""
    from simbench.policies.onnx_model import resolve_model_path

    root = resolve_model_path(model_path, directory=True)
    precision = dict(precision or {})
    unknown = sorted(set(precision) - set(COMPONENTS))
    if unknown:
        raise bad_value("policy.component_precision", unknown[0], f"components are {', '.join(COMPONENTS)}")
    paths = {}
    for comp in COMPONENTS:
        prec = str(precision.get(comp, "fp32"))
        path = root / f"{comp}_{prec}.onnx"
        if not path.is_file():
            have = sorted(p.stem.split("_", 1)[1] for p in root.glob(f"{comp}_*.onnx"))
            raise bad_value(f"policy.component_precision.{comp}", prec, f"{root} holds {comp} at {', '.join(have) or 'nothing'}")
        paths[comp] = path
    return paths


class SmolVLAOnnxPolicy:
    """ChunkPolicy over the vision, prefill and expert sessions."""

    def __init__(
        self,
        paths: dict[str, Path],
        name: str = "smolvla",
        actions_per_chunk: int | None = None,
        threads: int = 1,
        control_hz: float = CONTROL_HZ,
        num_steps: int | None = None,
        noise_scale: float | None = None,
        sessions: Mapping[str, Any] | None = None,
        rtc: RTCConfig | None = None,
    ) -> None:
        """``sessions``: per component, an object answering ``get_modelmeta`` (and ``run``) in place
        of a local ONNX Runtime session (``latency=board``: the board's, simbench.hil.board_policy)."""
        from simbench.policies.onnx_model import ExportShape, load_session

        if threads < 1:
            raise bad_value("policy.threads", threads, "must be >= 1")
        self.paths = paths
        self.sessions = dict(sessions) if sessions is not None else {c: load_session(paths[c], threads)
                                                                    for c in COMPONENTS}
        metas = {c: s.get_modelmeta().custom_metadata_map for c, s in self.sessions.items()}
        for comp, meta in metas.items():
            if meta.get("simbench.arch") != "smolvla" or meta.get("simbench.component") != comp:
                raise bad_value("policy.model_path", str(paths[comp]), f"is not a simbench smolvla {comp} graph")
        if len({metas[c]["simbench.config"] for c in COMPONENTS}) != 1:
            raise ConfigError(f"the graphs {', '.join(str(p) for p in paths.values())} come from different exports")
        meta = metas["vision"]
        shape = ExportShape.of(meta)
        self.cameras, self.image_size, self.state_dim = shape.cameras, shape.image_size, shape.state_dim
        self.action_dim, self.chunk_size, self.model_fps = shape.action_dim, shape.chunk_size, shape.fps
        self.instruction = meta["simbench.instruction"]
        self.action_mean = np.array(json.loads(meta["simbench.action_mean"]), np.float32)
        self.action_std = np.array(json.loads(meta["simbench.action_std"]), np.float32)
        self.num_steps = int(num_steps or meta["simbench.num_steps"])
        model_cfg = json.loads(meta["simbench.config"])
        self.noise_scale = float(model_cfg["noise_scale"] if noise_scale is None else noise_scale)
        if not 0.0 <= self.noise_scale <= 10.0:
            raise bad_value("policy.noise_scale", self.noise_scale, "must be in [0, 10]")
        if self.num_steps < 1:
            raise bad_value("policy.num_steps", self.num_steps, "must be >= 1")
        self.precision = {c: metas[c].get("simbench.precision", "?") for c in COMPONENTS}
        self.name = name
        self.control_hz = float(control_hz)
        self.actions_per_chunk = checked_actions_per_chunk(actions_per_chunk, self.chunk_size, self.model_fps,
                                                           self.control_hz)
        self.rtc = rtc or RTCConfig()
        """Real-Time Chunking: guide each chunk toward the request's left-over actions when enabled."""
        self._tokens = {self.instruction: np.array([encode(self.instruction)], np.int64)}
        self.rng = np.random.default_rng(0)
        self.last_guide: Guide | None = None
        """The RTC guidance of the last chunk (its ``expert_calls``), None without."""
        self.last_component_s: dict[str, float] = {}
        """Host seconds per component of the last chunk (vision, prefill, expert: all its steps)."""

    @property
    def model_files(self) -> dict[str, Path]:
        """The graph of each component (hashed into results' ``versions``)."""
        return dict(self.paths)

    @staticmethod
    def metadata_file(cfg: Mapping[str, Any]) -> Path:
        """The vision graph: its ``simbench.*`` metadata describes the model (the three graphs share it)."""
        return component_paths(cfg.get("model_path"), cfg.get("component_precision"))["vision"]

    @classmethod
    def from_paths(cls, paths: dict[str, Path], threads: int = 1, **kw: Any) -> SmolVLAOnnxPolicy:
        return cls({c: Path(p) for c, p in paths.items()}, threads=threads, **kw)

    @classmethod
    def from_config(cls, cfg: dict[str, Any], env: Any = None) -> SmolVLAOnnxPolicy:
        return cls(
            component_paths(cfg.get("model_path"), cfg.get("component_precision")),
            name=str(cfg.get("name", "smolvla")),
            actions_per_chunk=cfg.get("actions_per_chunk"),
            threads=int(cfg.get("threads", 1)),
            control_hz=float(cfg.get("fps") or control_hz(env)),
            num_steps=cfg.get("num_steps"),
            noise_scale=cfg.get("noise_scale"),
            rtc=rtc_config(cfg),
        )

    def reset(self, seed: int) -> None:
        """Reseed the noise the chunks start from."""
        self.rng = np.random.default_rng(seed)

    def tokens(self, text: str | None) -> NDArray[np.int64]:
        text = text or self.instruction
        if text not in self._tokens:
            self._tokens[text] = np.array([encode(text)], np.int64)
        return self._tokens[text]

    def trace(self, state: NDArray[np.float32], images: NDArray[np.uint8], noise: NDArray[np.float32],
              num_steps: int | None = None, text: str | None = None, guide: Guide | None = None) -> dict[str, Any]:
        """One chunk with every intermediate: visual tokens, keys/values, the velocity at each step
        (steps, 1, chunk, A), the normalized and raw chunk, seconds per component. ``guide``: RTC's
        guidance of every step toward a prefix."""
        n = num_steps or self.num_steps
        t0 = time.perf_counter()
        feed = {f"observation.images.{c}": images[:, j] for j, c in enumerate(self.cameras)}
        visual = self.sessions["vision"].run(None, feed)[0]
        t1 = time.perf_counter()
        kv = self.sessions["prefill"].run(None, {INPUTS["prefill"][0]: visual, INPUTS["prefill"][1]: self.tokens(text),
                                                 INPUTS["prefill"][2]: state.astype(np.float32)})[0]
        t2 = time.perf_counter()
        x = noise.astype(np.float32)
        vs = []
        expert = self.sessions["expert"]
        for k in range(n):
            t = np.array([1.0 - k / n], np.float32)
            v = expert.run(None, {"x_t": x, "t": t, "kv": kv})[0]
            if guide is not None:
                v = guide.velocity(x, float(t[0]), v, lambda x_, t=t: expert.run(None, {"x_t": x_, "t": t, "kv": kv})[0])
            vs.append(v)
            x = (x - v / n).astype(np.float32)
        t3 = time.perf_counter()
        self.last_component_s = {"vision": t1 - t0, "prefill": t2 - t1, "expert": t3 - t2}
        self.last_inference_s = t3 - t0  # the three graphs' calls (latency=host), preprocessing excluded
        return {"visual": visual, "kv": kv, "v": np.stack(vs), "chunk_normalized": x,
                "chunk": x * self.action_std + self.action_mean, "seconds": dict(self.last_component_s)}

    def guide_for(self, request: PolicyRequest) -> Guide | None:
        """RTC's guidance for this request: toward the queued actions (normalized, at the model's rate),
        frozen over the ticks the client expects to run before the chunk arrives; None without RTC or queue."""
        prefix = request.prefix
        if not self.rtc.enabled or len(prefix) == 0:
            return None
        ratio = self.control_hz / self.model_fps
        start = request.prefix_start
        frozen_until = start + (request.delay_ticks if request.executed is not None else 0)  # control positions
        return Guide.for_chunk(self.rtc, (prefix - self.action_mean) / self.action_std, start, frozen_until,
                               ratio, self.chunk_size)

    def predict_chunk_raw(self, observation: Observation, guide: Guide | None = None) -> NDArray[np.float32]:
        """(chunk_size, action_dim) at the model's fps, before resampling."""
        state, images = observation_inputs(observation, self.cameras, self.image_size, self.state_dim)  # type: ignore[arg-type]
        shape = (1, self.chunk_size, self.action_dim)
        noise = (self.noise_scale * self.rng.standard_normal(shape) if self.noise_scale else np.zeros(shape)).astype(
            np.float32)
        text = observation.get("task") if isinstance(observation.get("task"), str) else None
        return self.trace(state, np.stack(images, axis=1), noise, text=text, guide=guide)["chunk"][0]

    def predict_chunk(self, request: PolicyRequest) -> NDArray[np.float64]:
        self.last_guide = self.guide_for(request)
        raw = self.predict_chunk_raw(request.observation, self.last_guide)
        return resample_chunk(raw, self.model_fps, self.control_hz, self.actions_per_chunk)


def rtc_config(cfg: Mapping[str, Any]) -> RTCConfig:
    """``policy.rtc`` validated against the model's chunk (``policy.rtc_enabled``: set by ``scheduler.aggregate=rtc``)."""
    return RTCConfig.parse(cfg.get("rtc"), int(cfg.get("chunk_size") or 50), bool(cfg.get("rtc_enabled", False)))


__all__ = ["COMPONENTS", "INPUTS", "OUTPUTS", "SmolVLAOnnxPolicy", "component_paths", "rtc_config"]
