"""The tether in the DES: observation and chunk trips, serialization, loop rate, link profiles."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from simbench.__main__ import main
from simbench.config.build import build_run_spec
from simbench.config.compose import compose_run
from simbench.errors import ConfigError
from simbench.metrics import summarize
from simbench.registry import ENVS, POLICY_RUNTIMES, resolve
from simbench.scheduler.episode import simulate_episode
from simbench.scheduler.observation_filter import ObservationFilter
from simbench.scheduler.timed import TimedObservation
from simbench.scheduler.transport import PROFILE_KIND, EmpiricalLatency

BASE = ["+policy=act_int8", "env=timing", "env.duration_s=30", "latency=constant", "latency.value=0.4"]
LOGNORMAL = [
    "+policy=act_int8",
    "env=timing",
    "env.duration_s=30",
    "latency=lognormal",
    "latency.median=0.3",
    "latency.sigma=0.3",
]


def run(*overrides: str, base: list[str] = BASE) -> tuple[dict, list[float], object]:
    spec = build_run_spec(compose_run("config", [*base, *overrides]))
    env = resolve(ENVS, "env", spec.env.name).from_config(spec.env.config())
    policy = resolve(POLICY_RUNTIMES, "policy.runtime", spec.policy.runtime).from_config(
        spec.policy.runtime_config(), env
    )
    result = simulate_episode(spec.settings, env, policy, spec.latency, spec.seed, 0, env.episode_plan()[0])
    env.close()
    return summarize([result], spec.settings, False), list(result.recorder.latencies), result


def test_defaults_are_ideal() -> None:
    spec = build_run_spec(compose_run("config", BASE))
    assert spec.settings.transport is None and spec.settings.loop_fps is None and spec.settings.clock == "des"
    assert spec.settings.dt == 1 / 60


def test_trips_delay_every_chunk_like_a_capture_delay_of_their_sum() -> None:
    """0.4 s is 24 ticks: ideal chunks land on a tick; 2 + 1 ms of trips make each land just after it."""
    ideal, lat_ideal, _ = run()
    trips, lat_trips, res = run(
        "scheduler.observation_trip={name:constant,value:0.002}", "scheduler.chunk_trip={name:constant,value:0.001}"
    )
    capture, _, _ = run("scheduler.capture_delay_s=0.003")
    assert trips["stall_ticks"] == capture["stall_ticks"] > ideal["stall_ticks"]
    assert trips["inference_count"] == capture["inference_count"]
    np.testing.assert_allclose(lat_trips, 0.403)
    np.testing.assert_allclose(lat_ideal, 0.4)
    names = set(res.recorder.timeline.name)  # type: ignore[attr-defined]
    assert {"observation_trip", "chunk_trip"} <= names


def test_transport_has_its_own_stream_so_inference_latencies_are_drawn_alike() -> None:
    _, ideal, _ = run(base=LOGNORMAL)
    _, with_trips, _ = run("scheduler.observation_trip={name:lognormal,median:0.002,sigma:0.5}", base=LOGNORMAL)
    n = min(len(ideal), len(with_trips))
    extra = np.asarray(with_trips[:n]) - np.asarray(ideal[:n])
    assert np.all(extra > 0) and np.all(extra < 0.05)  # the same k-th draw, plus its trip
    _, again_lat, _ = run("scheduler.observation_trip={name:lognormal,median:0.002,sigma:0.5}", base=LOGNORMAL)
    assert again_lat == with_trips  # bit for bit


def test_serialization_is_a_function_of_payload_size() -> None:
    _, lat, _ = run("scheduler.serialize={fixed_s:0.001,per_byte_s:1e-6,observation_bytes:1000,chunk_bytes:2000}")
    np.testing.assert_allclose(lat, 0.4 + (0.001 + 0.001) + (0.001 + 0.002))


def test_serialization_defaults_to_the_policys_real_payloads() -> None:
    spec = build_run_spec(compose_run("config", [*BASE, "scheduler.serialize={per_byte_s:1e-9}"]))
    ser = spec.settings.transport.serialize
    assert ser.observation_bytes > 2 * 96 * 128 * 3  # two 96x128 RGB frames and the state
    assert 100 * 6 * 4 < ser.chunk_bytes < 100 * 6 * 4 + 200


def test_loop_fps_sets_the_tick_period() -> None:
    spec = build_run_spec(compose_run("config", [*BASE, "scheduler.loop_fps=50"]))
    assert spec.settings.dt == pytest.approx(1 / 50)
    assert spec.settings.max_ticks == 30 * 60  # the episode still has fps x duration ticks


def profile(tmp_path: Path, **extra: object) -> Path:
    record = {
        "kind": PROFILE_KIND,
        "observation_bytes": 1000,
        "chunk_bytes": 100,
        "observation_trip_s": {"samples": [0.001, 0.002]},
        "chunk_trip_s": {"samples": [0.0005]},
        "serialize": {"fixed_s": 0.0, "per_byte_s": 0.0},
        "loop": {"achieved_fps": 60.0},
        **extra,
    }
    path = tmp_path / "link.json"
    path.write_text(json.dumps(record))
    return path


def test_a_link_profile_gives_empirical_trips(tmp_path: Path) -> None:
    path = profile(tmp_path)
    spec = build_run_spec(compose_run("config", [*BASE, f"scheduler.transport_profile={path}"]))
    t = spec.settings.transport
    assert isinstance(t.observation_trip, EmpiricalLatency) and spec.settings.loop_fps == 60.0
    rng = np.random.default_rng(0)
    ups = {t.sample(rng)[0] for _ in range(50)}
    assert ups == {0.001, 0.002}
    _, lat, _ = run(f"scheduler.transport_profile={path}")
    assert set(np.round(np.asarray(lat) - 0.4, 6)) <= {0.0015, 0.0025}


def test_the_filter_is_lerobots() -> None:
    f = ObservationFilter(similarity_eps=0.5)
    obs = lambda t, s, must=False: TimedObservation(t, 0.0, must, np.array([s]), None)  # noqa: E731
    assert f.accepts(obs(3, 0.0))
    f.processed(obs(3, 0.0))
    assert not f.accepts(obs(3, 9.0))  # that timestep was predicted from
    assert not f.accepts(obs(4, 0.1))  # too similar
    assert f.accepts(obs(4, 0.1, must=True))
    assert f.accepts(obs(5, 1.0))


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("scheduler.clock=realtime",), "scheduler.clock='realtime'"),
        (
            ("scheduler.transport_profile=/nonexistent/link.json",),
            "scheduler.transport_profile='/nonexistent/link.json'",
        ),
        (("scheduler.observation_trip={name:constant,value:-1}",), "scheduler.observation_trip.value=-1"),
        (("scheduler.serialize={fixed_s:0.1,bogus:1}",), "scheduler.serialize='bogus'"),
        (("scheduler.loop_fps=0",), "scheduler.loop_fps=0"),
        (("scheduler.clock=wall", "scheduler=sync"), "scheduler.clock=wall runs scheduler=async"),
        (("scheduler.clock=wall", "latency=host"), "latency='host'"),
    ],
)
def test_bad_transport_keys_are_one_line_exit_2_nothing_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: tuple[str, ...], needle: str
) -> None:
    results = tmp_path / "results"
    base = [a for a in BASE if not a.startswith("latency")] if any(a.startswith("latency=") for a in args) else BASE
    assert main(["run", *base, *args, f"results_dir={results}"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("error: ") and needle in err, err
    assert not results.exists()


def test_a_file_that_is_not_a_link_profile_is_refused(tmp_path: Path) -> None:
    path = profile(tmp_path, kind="something else")
    with pytest.raises(ConfigError, match="is not a link profile"):
        build_run_spec(compose_run("config", [*BASE, f"scheduler.transport_profile={path}"]))
