"""The tether in the DES: the observation's trip to the server, the chunk's trip back, serialization.

An ideal DES (the default: every key null) moves observations and chunks in zero time. A real
runtime does not: the observation is serialized, sent over the link and deserialized before the
server can start, and the chunk makes the same trip back, so an inference that ends exactly on a
tick in the DES lands a little after it for real and is merged one tick later. Scheduler keys:

- ``scheduler.observation_trip`` / ``scheduler.chunk_trip``: a latency spec (the kinds of
  ``latency=``: constant, normal, lognormal, uniform, trace) for each one-way trip;
- ``scheduler.serialize``: ``{fixed_s, per_byte_s, observation_bytes, chunk_bytes}``, the host's
  serialization time as a function of payload size (bytes default to the policy's real payloads);
- ``scheduler.loop_fps``: the control loop's achieved rate (the tick period is ``1 / loop_fps``);
- ``scheduler.transport_profile=PATH``: all of the above from a ``link.json`` written by
  ``python -m simbench hil link`` (measured trips as empirical distributions); a key set next to
  it overrides the profile's.

Transport times are drawn from their own generator (a third stream of the episode's seed), so a run
with transport draws the same inference latencies as the ideal run.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from simbench import bounds
from simbench.errors import ConfigError, bad_value
from simbench.latency.base import LatencySource, SampledLatency
from simbench.latency.factory import make_latency

PROFILE_KIND = "simbench.hil.link"
TRANSPORT_KEYS = ("observation_trip", "chunk_trip", "serialize", "loop_fps", "transport_profile")


class EmpiricalLatency(SampledLatency):
    """Resamples measured seconds with replacement (a ``link.json`` distribution)."""

    def __init__(self, samples: np.ndarray, what: str) -> None:
        self.samples = np.asarray(samples, dtype=np.float64)
        self.what = what

    def sample(self, rng: np.random.Generator) -> float:
        return float(self.samples[int(rng.integers(len(self.samples)))])

    def describe(self) -> dict[str, Any]:
        s = self.samples
        return {
            "kind": "empirical",
            "what": self.what,
            "n": int(len(s)),
            "p50_s": float(np.percentile(s, 50)),
            "p99_s": float(np.percentile(s, 99)),
        }


@dataclass(frozen=True)
class Serialize:
    """Host serialization seconds for a payload: ``fixed_s + per_byte_s * bytes``."""

    fixed_s: float
    per_byte_s: float
    observation_bytes: int
    chunk_bytes: int

    def seconds(self, n_bytes: int) -> float:
        return self.fixed_s + self.per_byte_s * n_bytes


@dataclass(frozen=True)
class Transport:
    observation_trip: LatencySource | None
    chunk_trip: LatencySource | None
    serialize: Serialize | None
    source: str

    def sample(self, rng: np.random.Generator) -> tuple[float, float]:
        """Seconds (observation to server, chunk back to client) for one inference."""
        up = self.observation_trip.draw(rng, 0.0).total if self.observation_trip is not None else 0.0
        down = self.chunk_trip.draw(rng, 0.0).total if self.chunk_trip is not None else 0.0
        if self.serialize is not None:
            up += self.serialize.seconds(self.serialize.observation_bytes)
            down += self.serialize.seconds(self.serialize.chunk_bytes)
        return up, down

    def describe(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "observation_trip": self.observation_trip.describe() if self.observation_trip is not None else None,
            "chunk_trip": self.chunk_trip.describe() if self.chunk_trip is not None else None,
            "serialize": None if self.serialize is None else vars(self.serialize),
        }


MAX_SAMPLES = 1_000_000
"""Most samples one trip distribution of a profile may hold (hil link writes a few thousand)."""
MAX_PROFILE_BYTES = 64 * 1024 * 1024
"""Largest link.json read: a profile is data, not a place for megabytes of nesting."""


def _distribution(value: Any, key: str) -> np.ndarray:
    """A profile's ``{"samples": [seconds, ...]}``: a flat list of finite numbers in [0, MAX_SECONDS]."""
    samples = value.get("samples") if isinstance(value, Mapping) else None
    if not isinstance(samples, list) or not samples:
        raise bad_value(
            "scheduler.transport_profile", key, "the profile has no samples for it (write it with hil link)"
        )
    if len(samples) > MAX_SAMPLES or not all(
        not isinstance(v, bool) and isinstance(v, (int, float)) and math.isfinite(v) and 0 <= v <= bounds.MAX_SECONDS
        for v in samples
    ):
        raise bad_value("scheduler.transport_profile", key, f"its samples must be a flat list of at most "
                        f"{MAX_SAMPLES:,} finite seconds in [0, {bounds.MAX_SECONDS:g}]")
    return np.asarray(samples, dtype=np.float64)


def load_profile(path_value: Any) -> dict[str, Any]:
    """A ``link.json``: checked to be one, read as plain JSON (nothing evaluated)."""
    path = Path(str(path_value)).expanduser()
    if not path.is_file():
        raise bad_value(
            "scheduler.transport_profile", str(path), "must be an existing link.json (python -m simbench hil link)"
        )
    try:
        if path.stat().st_size > MAX_PROFILE_BYTES:
            raise ValueError("larger than 64 MiB")
        profile = json.loads(path.read_text())
    except (OSError, ValueError, RecursionError) as err:  # RecursionError: absurdly deep nesting
        raise bad_value(
            "scheduler.transport_profile", str(path), f"is not readable JSON ({type(err).__name__})"
        ) from None
    if not isinstance(profile, dict) or profile.get("kind") != PROFILE_KIND:
        raise bad_value("scheduler.transport_profile", str(path), f"is not a link profile (kind {PROFILE_KIND!r})")
    return profile


def _nonneg(cfg: Mapping[str, Any], key: str, prefix: str) -> float:
    """Serialization seconds (``fixed_s``) or seconds per byte (``per_byte_s``): finite, >= 0, bounded
    so that a 64 MiB payload still serializes within :data:`simbench.bounds.MAX_SECONDS`."""
    hi = bounds.MAX_SECONDS if key == "fixed_s" else bounds.MAX_SECONDS / (64 * 1024 * 1024)
    return bounds.number(cfg.get(key), f"{prefix}.{key}", 0.0, hi)


def _serialize(
    cfg: Any, payload: Callable[[], tuple[int, int] | None], source: Mapping[str, Any] | None
) -> Serialize | None:
    if cfg is None:
        return None
    if not isinstance(cfg, Mapping):
        raise bad_value(
            "scheduler.serialize", cfg, "give {fixed_s, per_byte_s[, observation_bytes, chunk_bytes]} or null"
        )
    unknown = set(cfg) - {"fixed_s", "per_byte_s", "observation_bytes", "chunk_bytes", "points"}
    if unknown:
        raise bad_value(
            "scheduler.serialize",
            sorted(unknown)[0],
            "unknown key; allowed: fixed_s, per_byte_s, observation_bytes, chunk_bytes",
        )
    sizes = []
    for i, key in enumerate(("observation_bytes", "chunk_bytes")):
        value = cfg.get(key, (source or {}).get(key))
        if value is None:
            sizes_now = payload()
            if sizes_now is None:
                raise ConfigError(
                    f"scheduler.serialize.{key} is required: the policy has no ONNX model to size its payloads"
                )
            value = sizes_now[i]
        sizes.append(bounds.integer(value, f"scheduler.serialize.{key}", 0, 1 << 30))
    return Serialize(
        _nonneg(cfg, "fixed_s", "scheduler.serialize") if "fixed_s" in cfg else 0.0,
        _nonneg(cfg, "per_byte_s", "scheduler.serialize") if "per_byte_s" in cfg else 0.0,
        sizes[0],
        sizes[1],
    )


def make_transport(
    sched: Mapping[str, Any], policy_name: str, payload: Callable[[], tuple[int, int] | None] = lambda: None
) -> tuple[Transport | None, float | None]:
    """(transport or None when ideal, loop_fps or None) from the scheduler node."""
    profile = load_profile(sched["transport_profile"]) if sched.get("transport_profile") not in (None, "") else None
    trips: dict[str, LatencySource | None] = {}
    for key in ("observation_trip", "chunk_trip"):
        spec = sched.get(key)
        if spec is not None:
            trips[key] = make_latency(spec, policy_name, key=f"scheduler.{key}")
        elif profile is not None:
            trips[key] = EmpiricalLatency(_distribution(profile.get(f"{key}_s"), f"{key}_s"), f"{key} (link.json)")
        else:
            trips[key] = None
    serialize_cfg = sched.get("serialize")
    if serialize_cfg is None and profile is not None:
        serialize_cfg = profile.get("serialize")
        if serialize_cfg is not None and not isinstance(serialize_cfg, Mapping):
            raise bad_value("scheduler.transport_profile", "serialize", "must be a map {fixed_s, per_byte_s}")
    serialize = _serialize(serialize_cfg, payload, profile)
    loop_fps = sched.get("loop_fps")
    if loop_fps is None and profile is not None:
        loop = profile.get("loop")
        loop_fps = loop.get("achieved_fps") if isinstance(loop, Mapping) else None
        if loop is not None and not isinstance(loop, Mapping):
            raise bad_value("scheduler.transport_profile", "loop", "must be a map with achieved_fps (write it with hil link)")
    if loop_fps is not None:
        loop_fps = bounds.rate(loop_fps, "scheduler.loop_fps")
    if all(v is None for v in trips.values()) and serialize is None:
        return None, loop_fps
    source = str(sched.get("transport_profile")) if profile is not None else "scheduler"
    return Transport(trips["observation_trip"], trips["chunk_trip"], serialize, source), loop_fps


__all__ = [
    "EmpiricalLatency",
    "PROFILE_KIND",
    "Serialize",
    "TRANSPORT_KEYS",
    "Transport",
    "load_profile",
    "make_transport",
]
