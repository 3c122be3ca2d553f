"""The client's rules (:class:`RobotClient`), on their own and as the runtimes drive them.

The DES's ControlLoop and the wall-clock runtime both hold a RobotClient and only schedule its
calls; the last test here drives one tick by tick with a plain loop (what the wall runtime does,
without threads) and gets the DES's episode exactly.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from simbench.scheduler.aggregate import make_aggregator
from simbench.scheduler.client import NO_QUEUE, RobotClient
from simbench.scheduler.observation_filter import ObservationFilter
from simbench.scheduler.policy_server import request_for
from simbench.scheduler.recorder import MERGE, EpisodeRecorder
from simbench.scheduler.settings import SchedulerSettings
from simbench.scheduler.timed import TimedChunk, TimedObservation
from tests.scheduler.helpers import TickEnv, TimestepPolicy, merges, settings, simulate


def make(mode: str = "async", H: int = 10, g: float = 0.3, **kw: Any) -> tuple[RobotClient, TickEnv, EpisodeRecorder]:
    s = settings(mode, H=H, seconds=10, threshold=g, **kw)
    env = TickEnv(s.action_dim)
    rec = EpisodeRecorder(s.dt)
    return RobotClient(s, env, make_aggregator(s.aggregate, s.temporal_ensemble_m, s.shift_ticks), rec), env, rec


def chunk(first: int, n: int, arrival_s: float = 0.0, inference_id: int = 0, dim: int = 2) -> TimedChunk:
    actions = np.repeat((first + np.arange(n, dtype=np.float64))[:, None], dim, axis=1)
    return TimedChunk(actions, first, 0.0, arrival_s, 0, inference_id)


def test_an_empty_queue_stalls_and_sends_one_must_go_then_plain_observations() -> None:
    client, env, rec = make()
    first = client.tick(0)
    assert first is not None and first.must_go and first.timestep == 0 and first.time_s == 0.0
    second = client.tick(1)
    assert second is not None and not second.must_go  # the event is cleared until the next merge
    assert env.applied == [None, None] and rec.stall_ticks == 2 and rec.obs_sent == 2


def test_a_merge_sets_must_go_and_the_trigger_decides_when_to_send() -> None:
    client, env, rec = make(H=10, g=0.3)  # trigger: post-pop queue <= 3
    client.tick(0)
    client.merge(chunk(0, 10, arrival_s=0.05, inference_id=7), 3)
    assert client.must_go and len(client.queue) == 10 and rec.merges == 1
    assert (rec.timeline.kind[-1], rec.timeline.value[-1], rec.timeline.value2[-1]) == (MERGE, 0.0, 10.0)
    assert rec.timeline.inference_id[-1] == 7 and rec.timeline.end_s[-1] == pytest.approx(3 * client.dt)
    assert client.ticks_above_trigger() == 6
    sent = [client.tick(k) for k in range(3, 13)]
    assert [o is not None for o in sent] == [False] * 6 + [True] * 4
    # stamped with the latest executed timestep; must-go only with the queue empty
    assert [o.timestep for o in sent[6:]] == [6, 7, 8, 9]  # type: ignore[union-attr]
    assert [o.must_go for o in sent[6:]] == [False, False, False, True]  # type: ignore[union-attr]
    assert env.applied[1:] == [float(t) for t in range(10)]
    assert not client.take_must_go(True)  # cleared by the must-go it sent


def test_a_late_chunk_drops_what_already_ran_and_the_server_reads_the_queue() -> None:
    client, _, _ = make(H=10, g=0.3)
    client.merge(chunk(0, 10), 0)
    for k in range(4):
        client.tick(k)
    assert client.queue.latest_executed == 3
    client.merge(chunk(2, 10), 4)  # timesteps 2..11: 2 and 3 already ran
    assert len(client.queue) == 8
    obs = TimedObservation(3, 0.0, False, np.zeros(2), None)
    client.queue_state().stamp(obs)
    assert obs.executed_timestep == 3 and obs.executed is not None and obs.executed[0] == 3.0
    assert obs.leftover is not None
    np.testing.assert_allclose(obs.leftover[:, 0], np.arange(4, 12))  # overlaps blended: equal up to rounding


def test_sync_captures_before_the_pop_and_waits_for_its_chunk() -> None:
    client, env, _ = make("sync", H=10, n_action_steps=4)
    obs = client.tick(0)
    assert obs is not None and obs.must_go and obs.timestep == 0 and env.applied == []  # the pop waits
    client.pop(0)
    assert client.tick(1) is None and env.applied == [None, None]  # in flight: no second observation
    client.merge(chunk(0, 10), 2)
    assert len(client.queue) == 4 and not client.in_flight
    for k in range(2, 6):
        assert client.tick(k) is None
    again = client.tick(6)
    assert again is not None and again.timestep == 4  # the next action's timestep
    assert client.queue_state() == NO_QUEUE


def drive(s: SchedulerSettings, latency_ticks: int) -> tuple[TickEnv, EpisodeRecorder]:
    """A RobotClient run tick by tick against a server of constant latency (in whole ticks): the
    wall runtime's control loop without the clock. Same-instant order: merges, the tick, the server."""
    env = TickEnv(s.action_dim)
    rec = EpisodeRecorder(s.dt)
    client = RobotClient(s, env, make_aggregator(s.aggregate, s.temporal_ensemble_m, s.shift_ticks), rec)
    policy = TimestepPolicy(s.actions_per_chunk, s.action_dim)
    server = ObservationFilter(s.similarity_eps)
    inbox: TimedObservation | None = None
    in_flight: list[TimedChunk] = []
    free_at = inferences = 0
    for k in range(s.max_ticks):
        for c in [c for c in in_flight if c.arrival_tick <= k]:
            in_flight.remove(c)
            client.merge(c, k)
        obs = client.tick(k)
        if obs is not None and server.accepts(obs):
            inbox = obs
        if inbox is not None and free_at <= k:
            taken, inbox = inbox, None
            server.processed(taken)
            client.queue_state().stamp(taken)
            actions = policy.predict_chunk(request_for(taken, {}, 0))
            arrival = k + latency_ticks
            in_flight.append(TimedChunk(actions, taken.timestep, taken.time_s, arrival * s.dt, arrival, inferences))
            free_at, inferences = arrival, inferences + 1
        if s.mode == "sync" and obs is not None:
            for c in [c for c in in_flight if c.arrival_tick <= k]:
                in_flight.remove(c)
                client.merge(c, k)
            client.pop(k)
    rec.finish(s.max_ticks)
    return env, rec


@pytest.mark.parametrize(
    ("mode", "H", "g", "m", "eps"),
    [("async", 10, 0.3, 4, None), ("async", 20, 0.6, 7, None), ("async", 12, 0.0, 3, 1e9), ("sync", 10, 0.2, 5, None)],
)
def test_the_des_runs_exactly_the_clients_rules(mode: str, H: int, g: float, m: int, eps: float | None) -> None:
    """ControlLoop (tick by tick, and settling spans in bulk) = RobotClient driven by a plain loop."""
    s = settings(mode, fps=10.0, H=H, seconds=20, threshold=g, similarity_eps=eps)
    env, rec = drive(s, m)
    assert rec.actions_executed > 2 * H and rec.merges > 2
    for physical in (True, False):
        result, des_env = simulate(s, m / s.fps, physical=physical)
        des = result.recorder
        assert merges(des) == merges(rec)
        assert (des.obs_sent, des.stall_ticks, des.stall_events) == (rec.obs_sent, rec.stall_ticks, rec.stall_events)
        assert [a[0] for a in des_env.executed] == [a for a in env.applied if a is not None]
        if physical:
            assert des_env.executed and len(des_env.executed) + des_env.holds == s.max_ticks
