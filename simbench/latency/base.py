"""The latency-source contract: one draw per inference, given the generator and the measured call."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np


@dataclass(frozen=True)
class StageTimes:
    """One inference's drawn seconds: the total, and per named component when the source knows them."""

    total: float
    components: Mapping[str, float] | None = None


@runtime_checkable
class LatencySource(Protocol):
    """Draws the duration of one inference (seconds)."""

    def draw(self, rng: np.random.Generator, measured_s: float) -> StageTimes:
        """This inference's times; ``measured_s`` is the real ``predict_chunk`` call on this host,
        which sources that do not measure ignore (they draw from ``rng`` alone)."""

    def describe(self) -> dict[str, Any]:
        """Where the latencies come from, as JSON-ready data (``metrics.json``'s ``latency_source``).

        ``kind`` is one of ``published`` (a figure from a reference: ``figure``, ``source``),
        ``predicted`` (the device model: ``device``, ``graphs`` with their sha256, and for a profile
        variant without a figure its ``anchor`` and ``ratio``), ``no_network``, ``override`` (a
        profile a user typed), ``host`` (measured on
        this machine), ``trace`` (``path``, ``rows``; ``board`` and ``model_sha256`` when the trace
        says), ``board`` (a live board) or ``distribution`` (parameters a user chose)."""


@runtime_checkable
class RunsThePolicy(Protocol):
    """A latency source that also runs the policy, so the time it reports is the policy's own call
    (``latency=board``: the board computes each chunk). The runner opens the policy through it."""

    def open_policy(self, cfg: Any, env: Any) -> Any:
        """The chunk policy for ``cfg`` (the policy's runtime config) in ``env``, running where this source times it."""


class SampledLatency:
    """Base for sources that draw a total from the generator alone (distributions, profiles, traces)."""

    def sample(self, rng: np.random.Generator) -> float:
        """Total seconds for one inference."""
        raise NotImplementedError

    def draw(self, rng: np.random.Generator, measured_s: float) -> StageTimes:
        return StageTimes(self.sample(rng))


class MeasuredLatency:
    """``latency=host``: the real policy call timed on this machine, times ``scale``.

    Host timing makes a run depend on this machine's load, so it is the one latency source whose
    metrics are not bit-for-bit reproducible; everything else about the run still is.
    """

    def __init__(self, scale: float = 1.0) -> None:
        self.scale = scale

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any], ctx: Any) -> MeasuredLatency:
        """``ctx``: the :class:`simbench.latency.context.LatencyContext` (unused: the call is timed as it runs)."""
        return cls(float(cfg.get("scale", 1.0)))

    def describe(self) -> dict[str, Any]:
        return {"kind": "host", "scale": self.scale,
                "what": "the policy's ONNX Runtime calls timed on this machine (camera preprocessing and rendering "
                        "excluded, as the board agent times session.run); predict_chunk for policies without them"}

    def draw(self, rng: np.random.Generator, measured_s: float) -> StageTimes:
        return StageTimes(measured_s * self.scale)

    def draw_measured(self, seconds: float, components: Mapping[str, float] | None = None) -> StageTimes:
        """The policy's own timing of its ONNX Runtime calls (and per graph where it has several:
        SmolVLA's vision, prefill and expert feed the pipeline stages of those names)."""
        comps = {k: float(v) * self.scale for k, v in components.items()} if components else None
        return StageTimes(seconds * self.scale, comps)
