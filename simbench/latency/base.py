"""The latency-source contract."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class LatencySource(Protocol):
    """Samples the duration of one inference (seconds)."""

    def sample(self, rng: np.random.Generator) -> float:
        """Total seconds for one inference."""

    def describe(self) -> dict[str, Any]:
        """Where the latencies come from, as JSON-ready data (``metrics.json``'s ``latency_source``).

        ``kind`` is one of ``published`` (a figure from a reference: ``figure``, ``source``),
        ``assumed`` (no figure of its own: ``borrows`` names whose, ``why``), ``host`` (measured on
        this machine), ``trace`` (``path``, ``rows``; ``board`` and ``model_sha256`` when the trace
        says), ``board`` (a live board) or ``distribution`` (parameters a user chose)."""


@runtime_checkable
class ComponentLatencySource(LatencySource, Protocol):
    """A source that knows per-component latencies (a trace recorded per pipeline stage)."""

    components: tuple[str, ...]

    def sample_components(self, rng: np.random.Generator) -> Mapping[str, float]:
        """Seconds per named component for one inference."""


class MeasuredLatency:
    """Marker for ``latency=host``: the scheduler times the real policy call and scales it.

    Host timing makes a run depend on this machine's load, so it is the one latency source whose
    metrics are not bit-for-bit reproducible; everything else about the run still is.
    """

    def __init__(self, scale: float = 1.0) -> None:
        self.scale = scale

    def describe(self) -> dict[str, Any]:
        return {"kind": "host", "what": "predict_chunk timed on this machine", "scale": self.scale}

    def sample(self, rng: np.random.Generator) -> float:  # pragma: no cover - never called
        raise RuntimeError("host latency is measured by the scheduler, not sampled")
