"""The wall-clock runtime, the agent's stub op and ``hil link``, against a real loopback agent."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from simbench_agent.protocol import pack
from simbench_agent.server import Agent, AgentConfig, Connection

from simbench.__main__ import main
from simbench.config.build import build_run_spec, load_option
from simbench.config.compose import compose_run
from simbench.hil.board import BoardConnection
from simbench.hil.client import BoardError
from simbench.hil.link import LinkSettings, measure_link, write_link
from simbench.hil.payload import observation_tensors, stub_request, wire_sizes
from simbench.hil.wallclock import WallSetup, close_connections
from simbench.latency.distributions import ConstantLatency
from simbench.metrics import summarize
from simbench.registry import ENVS, POLICY_RUNTIMES, resolve
from simbench.scheduler.episode import simulate_episode
from simbench.scheduler.transport import EmpiricalLatency
from tests.hil.helpers import loopback
from tests.scheduler.helpers import TickEnv, TimestepPolicy, merges, settings

ACT = load_option("policy", "act_int8") | {"actions_per_chunk": 100}


def replies(conn: Connection, message: dict) -> list[dict]:
    return list(conn.handle(pack(message)))


@pytest.fixture
def authed(tmp_path: Path) -> Connection:
    conn = Connection(Agent(AgentConfig(token="t" * 32, cache_dir=tmp_path, slowdown=1.0)))
    from simbench_agent.protocol import PROTOCOL_VERSION

    assert replies(conn, {"op": "hello", "token": "t" * 32, "version": PROTOCOL_VERSION})[0]["ok"]
    return conn


def test_stub_sleeps_and_returns_a_zero_chunk_of_the_asked_shape(authed: Connection) -> None:
    obs = {"observation.state": np.ones((1, 6), np.float32)}
    (reply,) = replies(authed, stub_request(obs, (50, 6), 0.02))
    assert reply["ok"] and reply["chunk"]["shape"] == [50, 6] and reply["chunk"]["dtype"] == "float32"
    assert reply["chunk"]["data"] == bytes(50 * 6 * 4)
    assert reply["latency_s"] >= 0.02


@pytest.mark.parametrize(
    ("field", "value", "needle"),
    [
        ("chunk", [0, 6], "'chunk' must be"),
        ("chunk", [10], "'chunk' must be"),
        ("chunk", [100_000, 100], "more than 1000000"),
        ("sleep_s", -1.0, "'sleep_s'=-1.0"),
        ("sleep_s", "1", "'sleep_s' must be float"),
    ],
)
def test_a_bad_stub_request_is_refused_in_one_line(authed: Connection, field: str, value: object, needle: str) -> None:
    message = {**stub_request({}, (10, 6), 0.0), field: value}
    (reply,) = replies(authed, message)
    assert not reply["ok"] and reply["code"] == "protocol" and needle in reply["error"]


def test_the_slowdown_fault_stretches_the_stub(tmp_path: Path) -> None:
    from simbench_agent.protocol import PROTOCOL_VERSION

    conn = Connection(Agent(AgentConfig(token="t" * 32, cache_dir=tmp_path, slowdown=3.0)))
    replies(conn, {"op": "hello", "token": "t" * 32, "version": PROTOCOL_VERSION})
    (reply,) = replies(conn, stub_request({}, (1, 1), 0.01))
    assert reply["latency_s"] >= 0.03


def test_payloads_are_the_policys_model_inputs_and_chunk() -> None:
    obs = observation_tensors(ACT)
    assert {k: (v.dtype.name, v.shape) for k, v in obs.items()} == {
        "observation.state": ("float32", (1, 6)),
        "observation.images.top": ("uint8", (1, 96, 128, 3)),
        "observation.images.gripper": ("uint8", (1, 96, 128, 3)),
    }
    up, down = wire_sizes(ACT)
    assert up == len(pack(stub_request(obs, (100, 6), 0.0)))
    assert 2 * 96 * 128 * 3 + 24 < up < 2 * 96 * 128 * 3 + 24 + 400
    assert 2400 < down < 2600
    assert observation_tensors({"action_dim": 6, "actions_per_chunk": 10}).keys() == {"observation.state"}


@pytest.fixture(scope="module")
def link(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[dict, Path]]:
    out = tmp_path_factory.mktemp("link")
    record = measure_link(loopback(), ACT, LinkSettings(20, 2, 0.2, 60.0, out), "test")
    yield record, write_link(record, out)


def test_link_writes_a_profile_with_distributions_and_a_serialization_fit(link: tuple[dict, Path]) -> None:
    record, path = link
    assert path.name == "link.json" and json.loads(path.read_text()) == record
    assert record["versions"]["onnxruntime"] and record["versions"]["agent"] and "git_commit" in record["versions"]
    assert record["kind"] == "simbench.hil.link" and record["policy"] == "act_int8"
    assert record["observation_bytes"] > record["chunk_bytes"] > 2400
    for key in ("observation_trip_s", "chunk_trip_s", "round_trip_empty_s"):
        d = record[key]
        assert d["n"] == len(d["samples"]) == 20 and d["p50"] <= d["p99"] <= d["max"] and min(d["samples"]) >= 0
    assert record["serialize"]["per_byte_s"] >= 0 and len(record["serialize"]["points"]) == 6
    assert record["loop"]["fps"] == 60.0 and record["loop"]["ticks"] == 12


def test_the_des_loads_the_link_profile(link: tuple[dict, Path]) -> None:
    record, path = link
    spec = build_run_spec(
        compose_run("config", ["+policy=act_int8", "env=timing", f"scheduler.transport_profile={path}"])
    )
    t = spec.settings.transport
    assert isinstance(t.observation_trip, EmpiricalLatency)
    assert t.serialize.observation_bytes == record["observation_bytes"]
    assert spec.settings.loop_fps == record["loop"]["achieved_fps"]


def test_hil_link_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "l.json"
    assert main(["hil", "link", "board=loopback", f"out={out}", "hil.link.count=10", "hil.link.loop_seconds=0.1"]) == 0
    text = capsys.readouterr().out
    assert "observation" in text and f"scheduler.transport_profile={out}" in text
    assert json.loads(out.read_text())["observation_trip_s"]["n"] == 10


def test_hil_link_bad_count_is_one_line_exit_2_nothing_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "l.json"
    assert main(["hil", "link", "board=loopback", f"out={out}", "hil.link.count=3"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "hil.link.count=3" in err
    assert not out.exists()


def wall_run(*overrides: str) -> dict:
    spec = build_run_spec(
        compose_run(
            "config",
            [
                "+policy=act_int8",
                "env=timing",
                "env.duration_s=2",
                "scheduler.clock=wall",
                "board=loopback",
                *overrides,
            ],
        )
    )
    env = resolve(ENVS, "env", spec.env.name).from_config(spec.env.config())
    policy = resolve(POLICY_RUNTIMES, "policy.runtime", spec.policy.runtime).from_config(
        spec.policy.runtime_config(), env
    )
    try:
        result = simulate_episode(spec.settings, env, policy, spec.latency, spec.seed, 0, env.episode_plan()[0])
    finally:
        env.close()
        close_connections()
    return summarize([result], spec.settings, False)


def test_the_wall_clock_runtime_runs_the_async_client_against_the_agent() -> None:
    m = wall_run("latency=constant", "latency.value=0.1")
    assert m["ticks"] == 120 and m["clock"] == "wall"
    # 0.1 s inferences, a chunk of 100 and g=0.2: the first chunk is one inference, the next ones overlap
    assert 1 <= m["inference_count"] <= 4 and m["stall_ticks"] >= 6  # at least the first 0.1 s stall
    assert 0.09 < m["latency_p50_s"] < 0.5
    assert m["loop_fps"] == pytest.approx(60, rel=0.1)
    for key in ("tick_jitter_p50_ms", "tick_jitter_p99_ms", "transport_p50_ms", "serialize_p50_ms"):
        assert m[key] is not None and m[key] >= 0


def test_the_wall_runtime_runs_the_des_client_on_the_clock() -> None:
    """Both runtimes drive the same RobotClient. Observations only when the queue runs dry (g=0) and a
    constant latency of 2.5 ticks put every arrival half a tick (50 ms at 10 Hz) from a tick, so the
    wall-clock episode executes the DES's actions at the DES's ticks and merges the same chunks at
    the same ticks, and the server takes the same observations."""
    s = settings("async", fps=10.0, H=10, seconds=3, threshold=0.0)
    wall = WallSetup(loopback(), {"observation.state": np.zeros((1, 2), np.float32)}, (10, 2), False)
    runs = {}
    for clock in ("des", "wall"):
        env = TickEnv(s.action_dim)
        try:
            result = simulate_episode(
                replace(s, clock=clock, wall=wall if clock == "wall" else None),
                env,
                TimestepPolicy(s.actions_per_chunk, s.action_dim),
                ConstantLatency(0.25),
                0,
            )
        finally:
            close_connections()
        rec = result.recorder
        runs[clock] = (env.applied, merges(rec), rec.obs_sent, result.inference_count)
    assert runs["des"][1] == [(3, 0, 10, 0), (15, 0, 9, 1), (26, 0, 9, 2)]
    assert runs["wall"] == runs["des"]


def test_a_board_fault_in_the_wall_runtime_is_a_one_line_board_error() -> None:
    with pytest.raises(BoardError, match="closed the connection|connection failed"):
        wall_run("latency=constant", "latency.value=0.05", "board.fault=drop:1")


def test_stub_over_a_real_connection_is_timed() -> None:
    with BoardConnection(loopback()) as conn:
        reply = conn.client.stub(stub_request(observation_tensors(ACT), (100, 6), 0.01))
    assert reply.chunk.shape == (100, 6) and reply.agent_s >= 0.01
    assert reply.round_trip_s >= reply.agent_s and reply.transport_s >= 0 and reply.serialize_s > 0
    assert reply.request_bytes > 70_000 and reply.reply_bytes > 2400


@pytest.mark.slow
def test_the_scene_steps_in_real_time_while_the_board_computes_the_actions(tmp_path: Path) -> None:
    """scheduler.clock=wall latency=board: MuJoCo stepped by the loop thread at 60 Hz, every chunk computed
    by the loopback agent on the rendered observation (one episode, up to 20 s of wall time)."""
    assert (
        main(
            [
                "run",
                "+policy=act_int8",
                "scheduler.clock=wall",
                "latency=board",
                "board=loopback",
                "episodes=1",
                f"results_dir={tmp_path}",
                "plots=false",
                "progress=false",
            ]
        )
        == 0
    )
    m = json.loads(next(tmp_path.glob("runs/*/metrics.json")).read_text())
    assert m["clock"] == "wall" and m["episodes"] == 1 and m["inference_count"] >= 5
    assert m["loop_fps"] == pytest.approx(60, rel=0.05) and m["stall_fraction"] < 0.05
    assert m["latency_source"]["kind"] == "board"
