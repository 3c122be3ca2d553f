"""One episode: wire the control loop and the policy server into a SimPy environment and run it."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import simpy

from simbench.envs.base import EpisodeOutcome, SchedulerEnv
from simbench.latency.base import LatencySource
from simbench.policies.base import ChunkPolicy
from simbench.scheduler.aggregate import make_aggregator
from simbench.scheduler.control_loop import ControlLoop
from simbench.scheduler.link import Link
from simbench.scheduler.policy_server import PolicyServer
from simbench.scheduler.recorder import EpisodeRecorder
from simbench.scheduler.settings import SchedulerSettings


@dataclass
class EpisodeResult:
    recorder: EpisodeRecorder
    outcome: EpisodeOutcome
    sim_time_s: float
    wall_time_s: float
    inference_count: int
    options: dict[str, Any]


def episode_seeds(seed: int, episode: int) -> tuple[int, np.random.Generator]:
    """Independent, reproducible streams per episode: (env/policy seed, latency generator)."""
    env_seq, latency_seq = np.random.SeedSequence([seed, episode]).spawn(2)
    return int(env_seq.generate_state(1)[0]), np.random.default_rng(latency_seq)


def transport_rng(seed: int, episode: int) -> np.random.Generator:
    """A third stream for transport times (``spawn(3)[:2]`` are :func:`episode_seeds`' two, unchanged)."""
    return np.random.default_rng(np.random.SeedSequence([seed, episode]).spawn(3)[2])


def simulate_episode(
    settings: SchedulerSettings,
    env: SchedulerEnv,
    policy: ChunkPolicy,
    latency: LatencySource,
    seed: int,
    episode: int = 0,
    options: dict[str, Any] | None = None,
    tick_observer: Callable[[int, int, bool], None] | None = None,
) -> EpisodeResult:
    """Run one episode to ``settings.max_ticks`` or until the env is done.

    ``settings.clock == "wall"`` runs it in real time against a board agent instead
    (:mod:`simbench.hil.wallclock`)."""
    if settings.clock == "wall":  # the runtime comes with the settings: the scheduler knows no board
        assert settings.wall is not None
        return settings.wall.run_episode(settings, env, policy, latency, seed, episode, options, tick_observer)
    env_seed, latency_rng = episode_seeds(seed, episode)
    env.reset(env_seed, options)
    policy.reset(env_seed)
    sim = simpy.Environment()
    recorder = EpisodeRecorder(settings.dt, settings.actuation_delay_s)
    recorder.tick_observer = tick_observer
    link = Link(sim, settings.dt, settings.similarity_eps)
    client = ControlLoop(
        sim, settings, env, make_aggregator(settings.aggregate, settings.temporal_ensemble_m, settings.shift_ticks), recorder, link
    )
    t_rng = transport_rng(seed, episode) if settings.transport is not None else None
    server = PolicyServer(sim, settings, link, env, policy, latency, latency_rng, recorder, t_rng)
    wall0 = time.perf_counter()
    loop = sim.process(client.run())
    sim.process(server.run())
    sim.run(until=loop)
    wall = time.perf_counter() - wall0
    return EpisodeResult(
        recorder, env.outcome(), client.tick * settings.dt, wall, server.inference_count, dict(options or {})
    )
