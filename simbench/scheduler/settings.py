"""Typed scheduler settings, built from the validated Hydra config at the CLI edge."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

from simbench.latency.base import LatencySource

if TYPE_CHECKING:  # the tether's module imports the latency factory, which the settings do not need at run time
    from simbench.scheduler.transport import Transport

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


class WallClock(Protocol):
    """``scheduler.clock=wall``'s runtime, built beside the core by the plug-in ``scheduler.wall_clock`` names."""

    def run_episode(self, settings: SchedulerSettings, env: Any, policy: Any, latency: LatencySource, seed: int,
                    episode: int, options: dict[str, Any] | None, tick_observer: Any) -> Any:
        """One episode on the wall clock; the result is shaped like a DES episode's (``EpisodeResult``)."""


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
    transport: Transport | None = None
    """The tether between client and server, or None: the ideal, instant one."""
    loop_fps: float | None = None
    """The control loop's achieved rate (None: ``fps``); the tick period is its inverse."""
    wall: WallClock | None = None
    """clock=wall: the wall-clock plug-in's setup (board, payloads), which runs each episode."""

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
