"""``python -m simbench hil link board=NAME [+policy=NAME] [out=PATH]``: measure the tether.

What the ideal DES leaves out, measured with the policy's real payloads (:mod:`simbench.hil.payload`):

- the observation's trip and the chunk's trip: ``stub`` round trips (agent sleep 0) with the
  observation going up and a 1x1 chunk back, and with an empty observation and the policy's chunk
  back; the agent's own time is subtracted from each, and half of an empty round trip's median
  (the fixed cost both directions share) from each one-way estimate;
- the host's serialization time against payload size (msgpack framing and tensor decoding,
  1 KB to 4 MB), fitted as ``fixed_s + per_byte_s * bytes``;
- the control loop's achieved rate and tick jitter when it sleeps to absolute deadlines at ``fps``.

Writes ``link.json`` (kind ``simbench.hil.link``: every sample, quantiles, the fit, payload sizes,
the board's facts); ``scheduler.transport_profile=PATH`` makes the DES use it. Round trips cannot be
split into directions exactly without synchronized clocks; the split above is the stated estimate.
"""

from __future__ import annotations

import datetime as _dt
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from simbench_agent.protocol import encode_tensor, encode_tensors, frame, unpack

from simbench.atomic_io import write_json
from simbench import bounds
from simbench.hil.board import BoardConfig, BoardConnection
from simbench.hil.client import BoardClient
from simbench.hil.payload import chunk_shape, observation_tensors, stub_request
from simbench.provenance import versions
from simbench.run_dir import check_dir_path
from simbench.scheduler.transport import PROFILE_KIND

SERIALIZE_SIZES = (1_024, 16_384, 65_536, 262_144, 1_048_576, 4_194_304)


@dataclass(frozen=True)
class LinkSettings:
    count: int
    warmup: int
    loop_seconds: float
    fps: float
    out: Path


def parse_link(cfg: Mapping[str, Any], out: Path) -> LinkSettings:
    """``hil.link.*`` and the output directory, checked before connecting (:mod:`simbench.bounds`)."""
    count = bounds.integer(cfg.get("count", 300), "hil.link.count", 10, 100_000)
    warmup = bounds.integer(cfg.get("warmup", 20), "hil.link.warmup", 0, 10_000)
    loop_s = bounds.number(cfg.get("loop_seconds", 2.0), "hil.link.loop_seconds", 0.1, 3600.0)
    # the loop sleeps to deadlines 1/fps apart: at least 1 Hz (two ticks in loop_seconds), at most 10 kHz
    fps = bounds.number(cfg.get("fps", 60), "hil.link.fps", 1.0, bounds.MAX_RATE_HZ)
    check_dir_path(out, "out")
    return LinkSettings(count, warmup, loop_s, fps, out)


def distribution(samples: list[float]) -> dict[str, Any]:
    a = np.asarray(samples, dtype=np.float64)
    return {
        "n": int(a.size),
        "mean": float(a.mean()),
        "p50": float(np.percentile(a, 50)),
        "p90": float(np.percentile(a, 90)),
        "p99": float(np.percentile(a, 99)),
        "max": float(a.max()),
        "samples": [float(x) for x in a],
    }


def _transports(client: BoardClient, inputs: Mapping[str, np.ndarray], shape: tuple[int, int], n: int) -> list[float]:
    request = stub_request(inputs, shape, 0.0)
    return [client.stub(request).transport_s for _ in range(n)]


def serialization_fit(repeats: int = 20) -> dict[str, Any]:
    """Host seconds to frame a message with a payload of ``n`` bytes and to unpack and decode it."""
    points: list[list[float]] = []
    for size in SERIALIZE_SIZES:
        tensor = np.zeros(size, np.uint8)
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            data = frame({"op": "stub", "inputs": encode_tensors({"x": tensor})}, 64 * 1024 * 1024)
            message = unpack(data[4:])
            np.frombuffer(message["inputs"]["x"]["data"], np.uint8)
            times.append(time.perf_counter() - t0)
        points.append([float(size), float(np.median(times))])
    x, y = np.array(points).T
    per_byte, fixed = np.polyfit(x, y, 1)
    return {"fixed_s": max(0.0, float(fixed)), "per_byte_s": max(0.0, float(per_byte)), "points": points}


def loop_timing(fps: float, seconds: float) -> dict[str, Any]:
    """Sleep to absolute deadlines at ``fps`` (as the wall-clock runtime does) and time the ticks."""
    dt = 1.0 / fps
    n = max(2, int(seconds * fps))
    t0 = time.perf_counter() + 0.005
    starts, jitter = [], []
    for k in range(n):
        deadline = t0 + k * dt
        wait = deadline - time.perf_counter()
        if wait > 0:
            time.sleep(wait)
        now = time.perf_counter()
        starts.append(now)
        jitter.append(now - deadline)
    return {
        "fps": fps,
        "achieved_fps": (n - 1) / (starts[-1] - starts[0]),
        "ticks": n,
        "jitter_p50_ms": 1e3 * float(np.percentile(jitter, 50)),
        "jitter_p99_ms": 1e3 * float(np.percentile(jitter, 99)),
    }


def measure_link(board: BoardConfig, policy: Mapping[str, Any], settings: LinkSettings, command: str) -> dict[str, Any]:
    inputs = observation_tensors(policy)
    shape = chunk_shape(policy)
    empty: dict[str, np.ndarray] = {}
    with BoardConnection(board) as conn:
        client = conn.client
        _transports(client, inputs, shape, settings.warmup)
        # Interleaved so drifts in load touch every kind alike.
        base, up, down = [], [], []
        for _ in range(settings.count):
            base += _transports(client, empty, (1, 1), 1)
            up += _transports(client, inputs, (1, 1), 1)
            down += _transports(client, empty, shape, 1)
        facts, where = client.facts, conn.where
    half = float(np.median(base)) / 2
    obs_bytes = len(frame(stub_request(inputs, shape, 0.0), 1 << 30))
    chunk_bytes = len(
        frame({"ok": True, "chunk": encode_tensor(np.zeros(shape, np.float32)), "latency_s": 0.0}, 1 << 30)
    )
    from simbench.hil.measure import board_summary

    return {
        "kind": PROFILE_KIND,
        "date": _dt.datetime.now().isoformat(timespec="seconds"),
        "command": command,
        "board": board_summary(facts, where),
        "board_name": facts.get("name"),
        "board_config": board.kind,
        "policy": policy.get("name"),
        "observation_bytes": obs_bytes,
        "chunk_bytes": chunk_bytes,
        "observation_inputs": {k: {"dtype": v.dtype.name, "shape": list(v.shape)} for k, v in inputs.items()},
        "chunk_shape": list(shape),
        "round_trip_empty_s": distribution(base),
        "observation_trip_s": distribution([max(0.0, t - half) for t in up]),
        "chunk_trip_s": distribution([max(0.0, t - half) for t in down]),
        "serialize": serialization_fit(),
        "loop": loop_timing(settings.fps, settings.loop_seconds),
        "note": "one-way trips estimated as (round trip - agent time) - median(empty round trip) / 2; "
        "serialization excluded",
        "versions": {**versions(), "agent": facts.get("agent_version"), "onnxruntime_board": facts.get("onnxruntime")},
    }


def write_link(record: dict[str, Any], out: Path) -> Path:
    path = out if out.suffix == ".json" else out / "link.json"
    write_json(path, record)
    return path


__all__ = [
    "LinkSettings",
    "distribution",
    "loop_timing",
    "measure_link",
    "parse_link",
    "serialization_fit",
    "write_link",
]
