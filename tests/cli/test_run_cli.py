"""The ``run`` subcommand end to end, as a user calls it (subprocess, fresh interpreter)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from simbench.metrics import WALL_CLOCK_KEYS

REQUIRED = {
    "sim_time_s", "ticks", "actions_executed", "stall_ticks", "stall_fraction", "stall_events", "longest_stall_s",
    "inference_count", "observations_skipped", "latency_mean_s", "latency_p50_s", "latency_p95_s", "latency_max_s",
    "action_age_mean_s", "boundary_jump_mean", "within_chunk_jump_mean", "actions_per_s", "queue_mean",
    "realtime_factor",
}


def simbench(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "simbench", *args], capture_output=True, text=True, timeout=300)


def run_dir(root: Path) -> Path:
    (d,) = [p for p in (root / "runs").iterdir() if p.is_dir()]
    return d


def test_help_lists_subcommands() -> None:
    out = simbench("--help")
    assert out.returncode == 0
    for sub in ("run", "record", "train", "export", "report"):
        assert sub in out.stdout


def test_run_writes_metrics_timeline_and_summary(tmp_path: Path) -> None:
    out = simbench("run", "+policy=act_int8", "env=timing", "env.duration_s=20", f"results_dir={tmp_path}")
    assert out.returncode == 0, out.stderr
    d = run_dir(tmp_path)
    metrics = json.loads((d / "metrics.json").read_text())
    assert REQUIRED <= metrics.keys()
    assert metrics["ticks"] == 20 * 60 == metrics["actions_executed"] + metrics["stall_ticks"]
    # imx95 profile for act_int8: 0.32 s median with 5% jitter
    assert 0.28 < metrics["latency_p50_s"] < 0.36
    for name in ("timeline.parquet", "timeline.png", "episodes.csv", "status.json"):
        assert (d / name).stat().st_size > 0
    assert "stall share" in out.stdout
    # timeline.parquet describes its own columns, and they mean what they say
    import pyarrow.parquet as pq

    table = pq.read_table(d / "timeline.parquet")
    described = json.loads(table.schema.metadata[b"simbench.columns"])
    assert list(described) == table.column_names
    tl = table.to_pandas()
    assert tl[tl.kind == "stall"].value.sum() == metrics["stall_ticks"]
    merges = tl[tl.kind == "merge"]
    assert len(merges) > 0 and (merges.value2 >= 1).all() and (merges.end_s >= merges.start_s).all()


def test_same_config_and_seed_give_identical_metrics(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    for root in (a, b):
        assert (
            simbench(
                "run",
                "+policy=act_fp32",
                "env=timing",
                "env.duration_s=30",
                "seed=7",
                "plots=false",
                f"results_dir={root}",
            ).returncode
            == 0
        )
    ma = json.loads((run_dir(a) / "metrics.json").read_text())
    mb = json.loads((run_dir(b) / "metrics.json").read_text())
    strip = lambda m: {k: v for k, v in m.items() if k not in WALL_CLOCK_KEYS}  # noqa: E731
    assert strip(ma) == strip(mb)
    c = tmp_path / "c"
    assert (
        simbench(
            "run", "+policy=act_fp32", "env=timing", "env.duration_s=30", "seed=8", "plots=false", f"results_dir={c}"
        ).returncode
        == 0
    )
    assert strip(json.loads((run_dir(c) / "metrics.json").read_text())) != strip(ma)


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        ((), "+policy=NAME"),
        (("+policy=nope",), "policy='nope' is unknown"),
        (("+policy=act_int8", "latency=foo"), "latency='foo' is unknown"),
        (("+policy=act_int8", "scheduler.aggregate=median"), "scheduler.aggregate"),
        (("+policy=act_int8", "scheduler.threshold=1.5"), "scheduler.threshold=1.5"),
        (("+policy=act_int8", "scheduler.fps=0"), "scheduler.fps=0"),
        (("+policy=act_int8", "policy.actions_per_chunk=200"), "policy.actions_per_chunk=200"),
        (("+policy=act_int8", "latency=trace", "latency.path=/no/such/trace.csv"), "latency.path"),
        (("+policy=act_int8", "scheduler.nope=1"), "scheduler.nope"),
        (("+policy=act_int8", "policy.runtime=nope"), "policy.runtime='nope'"),
        (("-m", "+policy=act_int8,act_fp32", "scheduler.threshold=0.2,7"), "scheduler.threshold=7"),
        # training-only config: no actions_per_chunk, so not a run config
        (("+policy=act",), "policy=act is a training config"),
        # no model in a physics env: refused, not reported as 0% success
        (("+policy=act_int8", "policy.runtime=timing"), "policy=act_int8 has no model"),
        # a SmolVLA component at a precision that was not exported
        (("+policy=smolvla_mixed", "policy.component_precision.expert=int2"),
         "policy.component_precision.expert='int2' is not allowed"),
        # the board runs SmolVLA's three graphs, but only on the scene's observations
        (("+policy=smolvla_mixed", "latency=board", "env=timing"), "needs an env with cameras"),
        # a chunk size the model cannot honour, in the scene and in a timing sweep
        (("+policy=act_int8", "policy.chunk_size=25"),
         "policy.chunk_size=25 is not allowed; the model act_int8.onnx predicts 100"),
        (("-m", "+policy=act_int8", "env=timing", "policy.chunk_size=25,50,100"), "policy.chunk_size=25"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_writes_nothing(tmp_path: Path, args: tuple[str, ...], needle: str) -> None:
    out = simbench("run", *args, f"results_dir={tmp_path / 'results'}")
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0], out.stderr
    assert "Traceback" not in out.stderr
    assert not (tmp_path / "results").exists()


def test_run_help_lists_only_runnable_policies() -> None:
    out = simbench("run", "--help")
    listed = next(line for line in out.stdout.splitlines() if "+policy=NAME" in line and "one of:" in line).split(
        "one of:"
    )[1]
    names = [n.strip() for n in listed.split(",")]
    assert "act" not in names and {"act_int8", "act_fp32", "scripted", "smolvla_fp32"} <= set(names)
    assert "policy.actions_per_chunk" in out.stdout


def test_smolvla_runs_timing_only_where_there_is_no_physics(tmp_path: Path) -> None:
    out = simbench(
        "run", "+policy=smolvla_mixed", "env=timing", "env.duration_s=20", "plots=false", f"results_dir={tmp_path}"
    )
    assert out.returncode == 0, out.stderr
    metrics = json.loads((run_dir(tmp_path) / "metrics.json").read_text())
    assert metrics["success_rate"] is None
    assert metrics["latency_source"]["kind"] == "published" and "6.15 s" in metrics["latency_source"]["figure"]


@pytest.mark.parametrize(
    ("policy", "kind", "needle"),
    [
        ("act_int8", "published", "published figure: ACT optimized 0.32 s"),
        ("act_fp16", "predicted", "predicted (device model imx95, graph sha256 "),
        ("act_int4", "predicted", "= act_int8's published 0.32 s x "),
    ],
)
def test_latency_source_is_in_metrics_summary_and_summary_file(
    tmp_path: Path, policy: str, kind: str, needle: str
) -> None:
    out = simbench(
        "run", f"+policy={policy}", "env=timing", "env.duration_s=10", "plots=false", f"results_dir={tmp_path}"
    )
    assert out.returncode == 0, out.stderr
    d = run_dir(tmp_path)
    source = json.loads((d / "metrics.json").read_text())["latency_source"]
    assert source["kind"] == kind and source["policy"] == policy and source["jitter"] == 0.05
    line = next(line for line in out.stdout.splitlines() if "latency from" in line)
    assert needle in line
    # the terminal summary is saved in the run directory, word for word
    assert (d / "summary.txt").read_text().strip() in out.stdout
    assert "OpenGL" not in out.stdout + out.stderr


def test_latency_source_of_a_trace_and_a_distribution(tmp_path: Path) -> None:
    trace = tmp_path / "board.csv"
    trace.write_text("latency_s\n0.5\n0.4\n")
    out = simbench("run", "+policy=act_int8", "latency=trace", f"latency.path={trace}", "latency.scale=2", "env=timing",
                   "env.duration_s=5", "plots=false", f"results_dir={tmp_path / 't'}")
    assert out.returncode == 0, out.stderr
    source = json.loads((run_dir(tmp_path / "t") / "metrics.json").read_text())["latency_source"]
    assert source == {
        "kind": "trace",
        "path": str(trace),
        "rows": 2,
        "column": "latency_s",
        "components": [],
        "scale": 2.0,
    }
    out = simbench("run", "+policy=act_int8", "latency=lognormal", "env=timing", "env.duration_s=5", "plots=false",
                   f"results_dir={tmp_path / 'd'}")
    source = json.loads((run_dir(tmp_path / "d") / "metrics.json").read_text())["latency_source"]
    assert source == {"kind": "distribution", "name": "lognormal", "median": 0.3, "sigma": 0.1}
    assert "latency from  distribution: lognormal(median=0.3, sigma=0.1)" in out.stdout


def test_sweep_runs_every_combination_and_resumes(tmp_path: Path) -> None:
    sweep = tmp_path / "sweep"
    args = (
        "run",
        "-m",
        "+policy=act_fp32,act_int8",
        "scheduler=async,sync",
        "env=timing",
        "env.duration_s=5",
        "plots=false",
        f"hydra.sweep.dir={sweep}",
    )
    out = simbench(*args)
    assert out.returncode == 0, out.stderr
    done = sorted(p.parent.name for p in sweep.glob("*/status.json"))
    assert len(done) == 4
    again = simbench(*args)
    assert again.returncode == 0
    assert again.stdout.count("skip (complete)") == 4


def test_trace_latency_drives_the_run(tmp_path: Path) -> None:
    trace = tmp_path / "board.csv"
    trace.write_text("latency_s\n0.5\n0.5\n0.5\n")
    out = simbench(
        "run",
        "+policy=act_int8",
        "latency=trace",
        f"latency.path={trace}",
        "env=timing",
        "env.duration_s=10",
        "plots=false",
        f"results_dir={tmp_path / 'r'}",
    )
    assert out.returncode == 0, out.stderr
    metrics = json.loads((run_dir(tmp_path / "r") / "metrics.json").read_text())
    assert metrics["latency_max_s"] == pytest.approx(0.5)


def _scene_run(tmp_path: Path, *extra: str) -> dict:
    out = simbench("run", "+policy=act_int8", *extra, "progress=false", f"results_dir={tmp_path}")
    assert out.returncode == 0, out.stderr
    assert "| policy | format | latency | test | val | global |" in out.stdout
    return json.loads((run_dir(tmp_path) / "metrics.json").read_text())


def test_default_run_is_the_scene_protocol_with_the_shipped_int8_model(tmp_path: Path) -> None:
    """Small version of the default job: the first 2 episodes of the published protocol in the
    MuJoCo scene, the shipped ACT int8 ONNX model, the imx95 profile, one mp4 with the overlay."""
    m = _scene_run(tmp_path, "episodes=2", "video_episodes=1")
    assert m["episodes"] == 2 and m["success_test"] is not None and m["success_val"] is None
    assert 0.0 <= m["success_rate"] <= 1.0
    assert 0.28 < m["latency_p50_s"] < 0.36 and m["inference_count"] > 0
    assert (run_dir(tmp_path) / "videos" / "episode_000.mp4").stat().st_size > 0
    # run.log holds no PyOpenGL chatter; the summary is saved beside the metrics
    assert "OpenGL" not in (run_dir(tmp_path) / "run.log").read_text()
    assert "success" in (run_dir(tmp_path) / "summary.txt").read_text()


@pytest.mark.slow
def test_full_protocol_run(tmp_path: Path) -> None:
    m = _scene_run(tmp_path)
    assert m["episodes"] == 30 and m["success_val"] is not None


def test_smolvla_mixed_runs_in_the_scene_with_its_three_graphs(tmp_path: Path) -> None:
    """Small version of `python -m simbench run +policy=smolvla_mixed episodes=6`: the shipped
    SmolVLA graphs (vision and prefill int8, expert fp32) act in the scene on the i.MX95 profile,
    and the same seed gives the same metrics."""
    metrics = []
    for k in range(2):
        out = simbench("run", "+policy=smolvla_mixed", "episodes=1", "plots=false", "progress=false",
                       f"results_dir={tmp_path / str(k)}")
        assert out.returncode == 0, out.stderr
        metrics.append(json.loads((run_dir(tmp_path / str(k)) / "metrics.json").read_text()))
    m = metrics[0]
    assert m["episodes"] == 1 and m["success_rate"] in (0.0, 1.0) and m["inference_count"] > 0
    assert 5.5 < m["latency_p50_s"] < 6.8  # the published 6.15 s
    wall = {"wall_time_s", "realtime_factor"}
    assert {k: v for k, v in m.items() if k not in wall} == {k: v for k, v in metrics[1].items() if k not in wall}
