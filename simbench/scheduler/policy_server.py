"""The inference side: LeRobot's PolicyServer as a SimPy process, with a pipeline of stages.

The server takes the newest accepted observation as soon as it is free, runs the policy on it and
sends back the first ``actions_per_chunk`` actions. Acceptance follows LeRobot's
``_enqueue_observation``: must-go observations and the first one always; otherwise the timestep must
not have been predicted yet and the joint state must differ from the last processed observation by
at least ``similarity_eps`` (when the filter is on).

The inference is a pipeline of stages, each holding its compute unit (a ``simpy.Resource``) while
it runs. With ``pipelined=False`` (LeRobot) one inference runs at a time; with ``pipelined=True``
the next observation enters the first stage as soon as that stage is free, so "the action expert
runs on the CPU while the NPU encodes the next frame" is a config switch.
"""

from __future__ import annotations

import time
from collections.abc import Generator
from typing import Any

import numpy as np
import simpy

from simbench.envs.base import SchedulerEnv
from simbench.latency.base import LatencySource, StageTimes
from simbench.policies.base import ChunkPolicy
from simbench.policies.request import DelayEstimate, PolicyRequest
from simbench.scheduler.link import Link
from simbench.scheduler.recorder import EpisodeRecorder
from simbench.scheduler.settings import SchedulerSettings
from simbench.scheduler.timed import TimedObservation


class PolicyServer:
    def __init__(
        self,
        sim: simpy.Environment,
        settings: SchedulerSettings,
        link: Link,
        env: SchedulerEnv,
        policy: ChunkPolicy,
        latency: LatencySource,
        rng: np.random.Generator,
        recorder: EpisodeRecorder,
        transport_rng: np.random.Generator | None = None,
    ) -> None:
        self.sim = sim
        self.s = settings
        self.link = link
        self.env = env
        self.policy = policy
        self.latency = latency
        self.rng = rng
        self.rec = recorder
        self.units = {name: simpy.Resource(sim, capacity=1) for name in settings.units}
        self.filter = link.filter
        self.transport = settings.transport
        self.transport_rng = transport_rng
        self.inference_count = 0
        self.delay = DelayEstimate(settings.dt, settings.delay_window)

    def run(self) -> Generator[simpy.Event, Any, None]:
        while True:
            obs, nominal_start = yield self.link.request_observation()
            self.filter.processed(obs)
            inference_id = self.inference_count
            self.inference_count += 1
            entered = self.sim.event()
            if self.s.pipelined:
                self.sim.process(self._infer(obs, nominal_start, inference_id, entered))
                yield entered
            else:
                yield from self._infer(obs, nominal_start, inference_id, entered)

    def _stage_durations(self, times: StageTimes) -> list[tuple[str, str, float]]:
        """(name, unit, seconds) for every stage run of one inference."""
        total, per_component = times.total, times.components
        runs: list[tuple[str, str, float]] = []
        for stage in self.s.stages:
            if stage.latency is not None:
                seconds = [stage.latency.draw(self.rng, 0.0).total for _ in range(stage.repeat)]
            elif per_component is not None and stage.name in per_component:
                seconds = [per_component[stage.name] / stage.repeat] * stage.repeat
            else:
                seconds = [total * stage.share / stage.repeat] * stage.repeat
            runs += [(stage.name, stage.unit, d) for d in seconds]
        return runs

    def _infer(
        self, obs: TimedObservation, nominal_start: float, inference_id: int, entered: simpy.Event
    ) -> Generator[simpy.Event, Any, None]:
        request = request_for(obs, self.env.observation(obs.snapshot), self.delay.ticks())
        wall0 = time.perf_counter()
        chunk = self.policy.predict_chunk(request)
        measured = time.perf_counter() - wall0
        # latency=host times the model's ONNX Runtime calls alone, as the board agent times its
        # session.run: the observation's preprocessing and the chunk's resampling are not in it.
        # A source that takes the per-graph times too (latency=host: MeasuredLatency.draw_measured)
        # gets them; SmolVLA's feed its vision, prefill and expert stages.
        own = getattr(self.policy, "last_inference_s", None)
        if own is not None:
            measured = float(own)
        draw_measured = getattr(self.latency, "draw_measured", None)
        if own is not None and draw_measured is not None:
            times = draw_measured(measured, getattr(self.policy, "last_component_s", None))
        else:
            times = self.latency.draw(self.rng, measured)
        runs = self._stage_durations(times)
        if self.transport is not None:
            # Serialization and the trips over the tether (scheduler.observation_trip/chunk_trip/serialize).
            assert self.transport_rng is not None
            up, down = self.transport.sample(self.transport_rng)
            runs = [("observation_trip", "link", up), *runs, ("chunk_trip", "link", down)]
        if self.s.capture_delay_s:
            runs.insert(0, ("capture", "link", self.s.capture_delay_s))
        # The inference began at the tick's nominal time; the loop processes ticks a hair later.
        t = nominal_start
        if not self.s.pipelined:
            entered.succeed()
            for name, unit, d in runs:
                self.rec.stage(inference_id, name, unit, t, t + d)
                t += d
            total_time = t - self.sim.now
            self.rec.latencies.append(t - nominal_start)
            self.delay.add(t - nominal_start)
            if total_time > 0:
                yield self.sim.timeout(total_time)
        else:
            for i, (name, unit, d) in enumerate(runs):
                with self.units[unit].request() as req:
                    yield req
                    # Logical time: a stage granted at once starts when its input was ready (the
                    # tick's nominal time, or the previous stage's end), not a hair later.
                    start = t if self.sim.now - t <= 1e-6 * self.s.dt else self.sim.now
                    end = t = start + d
                    yield self.sim.timeout(max(0.0, end - self.sim.now))
                    self.rec.stage(inference_id, name, unit, start, end)
                if i == 0:
                    entered.succeed()  # stage 1 is free: the next observation may enter
            self.rec.latencies.append(self.sim.now - nominal_start)
            self.delay.add(self.sim.now - nominal_start)
        self.link.deliver(chunk[: self.s.actions_per_chunk], obs.timestep, obs.time_s, inference_id)


def request_for(obs: TimedObservation, observation: dict[str, Any], delay_ticks: int) -> PolicyRequest:
    """The policy request for an observation the server took (the DES and the wall-clock runtime)."""
    leftover = obs.leftover if obs.leftover is not None else np.empty((0, len(obs.state)))
    return PolicyRequest(observation, obs.timestep, obs.executed, obs.executed_timestep, leftover, delay_ticks)
