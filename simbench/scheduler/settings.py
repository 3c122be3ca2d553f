"""Typed scheduler settings, built from the validated Hydra config at the CLI edge."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

from simbench.latency.base import LatencySource

Mode = Literal["async", "sync"]
Clock = Literal["des", "wall"]


@dataclass(frozen=True)
class Stage:
    """One component of the inference pipeline (vision encoder, prefill, a denoising step, a transfer).

    It holds its compute ``unit`` (a SimPy resource: cpu, npu, gpu, link) while it runs. Its duration
    is ``share`` of the inference's sampled total latency, split over ``repeat`` runs (denoising
    steps), unless the stage has a ``latency`` source of its own.
    """

    name: str
    unit: str
    share: float = 1.0
    repeat: int = 1
    latency: LatencySource | None = None


@dataclass(frozen=True)
class SchedulerSettings:
    """Everything the SimPy model needs to know, in seconds and ticks. The values come from
    ``conf/scheduler/`` (their one home, where each key is explained) through
    :func:`simbench.config.build.scheduler_keys`, and from the policy and env of the run."""

    mode: Mode
    fps: float
    actions_per_chunk: int
    action_dim: int
    max_ticks: int
    threshold: float
    aggregate: str
    temporal_ensemble_m: float
    delay_window: int
    """Latencies the expected delay is the largest of (LeRobot's RTC latency tracker)."""
    shift_ticks: int
    """aggregate=shift: ticks over which the boundary offset fades out."""
    similarity_eps: float | None
    n_action_steps: int
    pipelined: bool
    capture_delay_s: float
    actuation_delay_s: float
    clock: Clock
    """des: simulated time (SimPy); wall: real time against a board agent (the plug-in ``scheduler.wall_clock``)."""
    stages: tuple[Stage, ...] = field(default_factory=lambda: (Stage("model", "cpu"),))
    """One stage holding the whole inference unless the policy names its pipeline."""
    units: tuple[str, ...] = ("cpu", "npu", "gpu", "link")
    transport: Any = None
    """A :class:`simbench.scheduler.transport.Transport`, or None: the ideal, instant tether."""
    loop_fps: float | None = None
    """The control loop's achieved rate (None: ``fps``); the tick period is its inverse."""
    wall: Any = None
    """clock=wall: the wall-clock plug-in's setup (board, payloads); its ``run_episode`` runs it."""

    @property
    def dt(self) -> float:
        return 1.0 / (self.loop_fps or self.fps)

    @property
    def trigger_queue_size(self) -> int:
        """Largest queue size at which the client still sends observations (q / H <= g).

        Temporal ensembling queries every tick, so its trigger is the whole chunk.
        """
        if self.aggregate == "temporal_ensemble":
            return self.actions_per_chunk
        return math.floor(self.threshold * self.actions_per_chunk + 1e-9)

    @property
    def actuation_delay_ticks(self) -> int:
        return round(self.actuation_delay_s * self.fps)
