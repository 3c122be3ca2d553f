"""``scheduler.clock=wall``: the same client/server semantics in real time, against a board agent.

The control loop ticks at ``fps`` on the wall clock (absolute deadlines ``t0 + k / fps`` on
``time.perf_counter``, so a late tick does not shift the ones after it). The client's rules are the
DES's own, not a copy: each tick drives :class:`simbench.scheduler.client.RobotClient` (merge every
chunk that has arrived, pop one action or stall, and, while ``queue / chunk <= g``, capture an
observation stamped with the latest executed timestep, must-go when due). The observation goes into
the server's one-slot mailbox if the server's filter accepts it (:class:`ObservationFilter`, the
DES's very filter; the newest accepted observation replaces an unread one). A server thread takes
the mailbox's observation with the client's queue state of that moment
(:meth:`RobotClient.queue_state`, RTC's inputs), sends it over the real protocol to the agent and
puts the chunk it gets back where the next tick merges it: chunks come back asynchronously, as in
LeRobot's RobotClient and PolicyServer. This module owns only the clock, the threads and what they
share.

What the agent runs: with ``latency=board`` the policy's model runs on the board on the real
observation (with the scene, physics steps in real time while the board computes the actions).
Otherwise the agent's ``stub`` op sleeps a latency the host drew from the run's latency source with
the episode's seeded generator (the DES draws the same sequence), with the policy's real
observation payload on the wire and a chunk of the right shape back; the actions merged are the
host policy's (a timing policy's plan with env=timing: microseconds, computed on the server thread
before the request, so a host ONNX policy's compute would add to the latency: use latency=board
for the scene), so only time is borrowed from the stub.

Threads, not ``simpy.rt.RealtimeEnvironment``: the server's network call blocks for the whole
inference, and a RealtimeEnvironment is one thread that can only wait between events: a blocking
socket read inside it stalls the control loop (the thing measured), and making the I/O
non-blocking would mean an event loop of our own with SimPy only pacing it. With a thread per
side, the control loop sleeps to its deadlines while the server thread blocks on the socket, as
LeRobot's client (a control thread and a receiver thread around gRPC) does. The shared state is
small and behind one condition variable: the mailbox, the filter, the queue state and the list of
arrived chunks.

Extra metrics (all wall-clock): ``loop_fps`` (achieved tick rate), ``tick_jitter_p50_ms`` /
``tick_jitter_p99_ms`` (tick start after its deadline), per message ``transport_*_ms`` (round trip
minus the agent's own time) and ``serialize_*_ms`` (host packing and unpacking). Not reproducible
bit for bit: this is a real run.
"""

from __future__ import annotations

import atexit
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from simbench.envs.base import SchedulerEnv
from simbench.errors import ConfigError
from simbench.latency.base import LatencySource
from simbench.policies.base import ChunkPolicy
from simbench.policies.request import DelayEstimate, PolicyRequest
from simbench.scheduler.aggregate import make_aggregator
from simbench.scheduler.client import QueueState, RobotClient
from simbench.scheduler.episode import EpisodeResult, episode_seeds
from simbench.scheduler.link import tick_of
from simbench.scheduler.observation_filter import ObservationFilter
from simbench.scheduler.policy_server import request_for
from simbench.scheduler.recorder import EpisodeRecorder
from simbench.scheduler.settings import SchedulerSettings
from simbench.scheduler.timed import TimedChunk, TimedObservation


@dataclass(frozen=True)
class WallSetup:
    """What the wall-clock runtime needs beyond the DES's settings."""

    board: Any
    """:class:`simbench.hil.board.BoardConfig`."""
    observation: Mapping[str, np.ndarray]
    """The observation payload sent with each stub request (the policy's real input tensors)."""
    chunk: tuple[int, int]
    on_board: bool
    """latency=board: the policy runs on the board; otherwise the agent's stub op."""

    def run_episode(self, *args: Any, **kwargs: Any) -> EpisodeResult:
        """:func:`run_wall_episode`; the scheduler calls it through ``settings.wall`` (it imports no board code)."""
        return run_wall_episode(*args, **kwargs)


_CONNECTIONS: dict[Any, Any] = {}


def connection(board: Any) -> Any:
    """One connection per board config for the whole process (a loopback agent starts once)."""
    from simbench.hil.board import BoardConnection

    conn = _CONNECTIONS.get(board)
    if conn is None:
        conn = _CONNECTIONS[board] = BoardConnection(board)
        atexit.register(close_connections)
    return conn


def close_connections() -> None:
    while _CONNECTIONS:
        _, conn = _CONNECTIONS.popitem()
        conn.close()


class WallRuntime:
    """One episode in real time: the control loop on the calling thread, the server on its own."""

    def __init__(
        self,
        settings: SchedulerSettings,
        env: SchedulerEnv,
        policy: ChunkPolicy,
        latency: LatencySource,
        rng: np.random.Generator,
        recorder: EpisodeRecorder,
        board: Any,
    ) -> None:
        self.s = settings
        self.setup: WallSetup = settings.wall
        self.env = env
        self.policy = policy
        self.latency = latency
        self.rng = rng
        self.rec = recorder
        self.board = board
        """The agent's client for the stub op (None with latency=board: the policy calls the board)."""
        aggregate = make_aggregator(settings.aggregate, settings.temporal_ensemble_m, settings.shift_ticks)
        self.client = RobotClient(settings, env, aggregate, recorder)
        """The client's rules (the DES's ControlLoop drives the same class); touched by this thread only."""
        self.filter = ObservationFilter(settings.similarity_eps)
        self.cv = threading.Condition()
        self.mailbox: tuple[TimedObservation, dict[str, Any]] | None = None
        self.arrived: list[tuple[float, TimedChunk]] = []
        """(inference start, chunk) for each chunk back from the server, not merged yet."""
        self.stopping = False
        self.error: BaseException | None = None
        self.tick = 0
        self.inference_count = 0
        self.delay = DelayEstimate(settings.dt, settings.delay_window)
        self.queue_state: QueueState = self.client.queue_state()
        """The client's queue after the latest tick's pop: what the server reads when it takes an observation."""
        self.t0 = 0.0
        self.stats: dict[str, list[float]] = {
            k: [] for k in ("tick_s", "jitter_s", "transport_s", "serialize_s", "agent_s")
        }

    # --- control loop (this thread) ----------------------------------------------------------
    def run(self) -> None:
        s = self.s
        dt = s.dt
        server = threading.Thread(target=self._serve, name="simbench-wall-server", daemon=True)
        self.t0 = time.perf_counter() + 0.005
        server.start()
        try:
            for k in range(s.max_ticks):
                if self.env.done or self.error is not None:
                    break
                deadline = self.t0 + k * dt
                wait = deadline - time.perf_counter()
                if wait > 0:
                    time.sleep(wait)
                now = time.perf_counter()
                self.stats["tick_s"].append(now - self.t0)
                self.stats["jitter_s"].append(now - deadline)
                self._tick(k)
        finally:
            with self.cv:
                self.stopping = True
                self.cv.notify_all()
            server.join(self.setup.board.timeout_s + 60.0)
        if self.error is not None:
            raise self.error
        self.rec.finish(self.tick)
        self.rec.wall = self.stats

    def _tick(self, k: int) -> None:
        self.tick = k + 1
        with self.cv:
            arrived, self.arrived = self.arrived, []
        for start_s, chunk in arrived:
            self.rec.stage(chunk.inference_id, "model", "board", start_s, chunk.arrival_s)
            self.rec.latencies.append(chunk.arrival_s - chunk.obs_time_s)
            self.client.merge(chunk, k)
        obs = self.client.tick(k)
        with self.cv:
            self.queue_state = self.client.queue_state()
        if obs is not None:
            self._send(obs)

    def _send(self, obs: TimedObservation) -> None:
        """Into the server's mailbox if its filter accepts ``obs``."""
        with self.cv:
            accepted = self.filter.accepts(obs)
        if not accepted:
            return
        # Rendered here, on the thread that steps the physics (MuJoCo is not thread-safe).
        observation = self.env.observation(obs.snapshot)
        with self.cv:
            self.mailbox = (obs, observation)
            self.cv.notify_all()

    # --- server (its own thread) -------------------------------------------------------------
    def _serve(self) -> None:
        try:
            while True:
                with self.cv:
                    while self.mailbox is None and not self.stopping:
                        self.cv.wait()
                    if self.stopping:
                        return
                    assert self.mailbox is not None
                    (obs, observation), self.mailbox = self.mailbox, None
                    self.filter.processed(obs)
                    self.queue_state.stamp(obs)
                start = time.perf_counter() - self.t0
                chunk = self._infer(request_for(obs, observation, self.delay.ticks()))
                end = time.perf_counter() - self.t0
                self.delay.add(end - obs.time_s)
                actions = np.asarray(chunk[: self.s.actions_per_chunk], dtype=np.float64)
                arrived = TimedChunk(
                    actions, obs.timestep, obs.time_s, end, tick_of(end, self.s.dt), self.inference_count
                )
                with self.cv:
                    self.arrived.append((start, arrived))
                self.inference_count += 1
        except BaseException as err:  # noqa: BLE001 - handed to the control thread, which re-raises it
            self.error = err

    def _infer(self, request: PolicyRequest) -> NDArray[Any]:
        if self.setup.on_board:
            t = time.perf_counter()
            chunk = self.policy.predict_chunk(request)  # runs on the board (latency=board)
            rtt = time.perf_counter() - t
            agent_s = self.latency.draw(self.rng, rtt).total  # the board-measured seconds of that call
            self.stats["agent_s"].append(agent_s)
            self.stats["transport_s"].append(max(0.0, rtt - agent_s))
            return chunk
        from simbench.hil.payload import stub_request

        seconds = self.latency.draw(self.rng, 0.0).total
        chunk = self.policy.predict_chunk(request)
        reply = self.board.stub(stub_request(self.setup.observation, self.setup.chunk, seconds))
        self.stats["agent_s"].append(reply.agent_s)
        self.stats["transport_s"].append(reply.transport_s)
        self.stats["serialize_s"].append(reply.serialize_s)
        return chunk


def run_wall_episode(
    settings: SchedulerSettings,
    env: SchedulerEnv,
    policy: ChunkPolicy,
    latency: LatencySource,
    seed: int,
    episode: int = 0,
    options: dict[str, Any] | None = None,
    tick_observer: Callable[[int, int, bool], None] | None = None,
) -> EpisodeResult:
    """One episode on the wall clock; the result is shaped like a DES episode's."""
    env_seed, latency_rng = episode_seeds(seed, episode)
    env.reset(env_seed, options)
    policy.reset(env_seed)
    recorder = EpisodeRecorder(settings.dt, settings.actuation_delay_s)
    recorder.tick_observer = tick_observer
    board = None if settings.wall.on_board else connection(settings.wall.board).client
    runtime = WallRuntime(settings, env, policy, latency, latency_rng, recorder, board)
    wall0 = time.perf_counter()
    runtime.run()
    wall = time.perf_counter() - wall0
    return EpisodeResult(
        recorder, env.outcome(), runtime.tick * settings.dt, wall, runtime.inference_count, dict(options or {})
    )


def wall_setup(
    cfg: Any, sched: Mapping[str, Any], policy: Mapping[str, Any], latency_cfg: Mapping[str, Any]
) -> WallSetup:
    """Validate what ``scheduler.clock=wall`` needs (one-line ConfigError) and build its payload."""
    from omegaconf import OmegaConf

    from simbench.hil.board import parse_board
    from simbench.hil.payload import chunk_shape, observation_tensors

    if sched.get("name") != "async":
        raise ConfigError(
            f"scheduler.clock=wall runs scheduler=async (LeRobot's runtime); scheduler={sched.get('name')}"
        )
    if latency_cfg.get("name") == "host":
        raise ConfigError(
            "scheduler.clock=wall takes its latencies from the latency source or the board; latency=host is not one"
        )
    if "board" not in cfg or cfg.board is None:
        raise ConfigError("scheduler.clock=wall needs board=NAME (loopback or lab; conf/board/)")
    board = parse_board(OmegaConf.to_container(cfg.board, resolve=True))  # type: ignore[arg-type]
    return WallSetup(board, observation_tensors(policy), chunk_shape(policy), latency_cfg.get("name") == "board")


__all__ = ["WallRuntime", "WallSetup", "close_connections", "connection", "run_wall_episode", "wall_setup"]
