"""What 335 bad inputs and faults found (issue #25): each bad value is one line naming the key,
exit 2 and nothing written; faults end in a record with the reason; runs never share a directory."""

from __future__ import annotations

import errno
import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from simbench.__main__ import main
from tests.cli.test_run_cli import simbench

TIMING = ("+policy=act_int8", "env=timing", "env.duration_s=5", "plots=false", "progress=false")


def _trace(tmp_path: Path, text: str) -> str:
    path = tmp_path / "trace.csv"
    path.write_text(text)
    return str(path)


def _onnx_with_wrong_metadata(tmp_path: Path) -> str:
    """The shipped int8 model whose metadata promises 64x64 images (its graph takes 96x128)."""
    import onnx

    from simbench.paths import MODELS_DIR

    model = onnx.load(str(MODELS_DIR / "act" / "act_int8.onnx"))
    for prop in model.metadata_props:
        if prop.key == "simbench.image_size":
            prop.value = "64,64"
    path = tmp_path / "mismatch.onnx"
    onnx.save(model, str(path))
    return str(path)


BAD = [
    # item 4: tracebacks on bad input
    (("latency=constant", "latency.value=abc"), "latency.value='abc'"),
    (("latency.scale=abc",), "latency.scale='abc'"),
    (("latency=normal", "latency.mean=abc"), "latency.mean='abc'"),
    (("env.duration_s=nan",), "env.duration_s=nan"),
    (("env.duration_s=abc",), "env.duration_s='abc'"),
    (("env.duration_s=inf",), "env.duration_s=inf"),
    (("policy.pipeline=5",), "policy.pipeline=5"),
    (("env.episodes=abc",), "env.episodes='abc'"),
    # item 7: silently accepted
    (("latency.scale=inf",), "latency.scale=inf"),
    (("scheduler.pipelined=maybe",), "scheduler.pipelined='maybe'"),
    (("policy.pipeline=[]",), "policy.pipeline=[]"),
    # item 8: the right key
    (("policy.pipeline=[{name:a,unit:cpu,latency:{name:constant,value:-1}}]",), "policy.pipeline[0].latency.value=-1"),
    (("policy.actions_per_chunk=abc",), "policy.actions_per_chunk='abc'"),
    # item 12: upper bounds
    (("env.duration_s=1e12",), "must be > 0 and <= 100,000"),
    (("env.duration_s=1e7",), "env.duration_s=10000000.0"),
    (("policy.chunk_size=1000000000",), "policy.chunk_size=1000000000"),
    (("latency=lognormal", "latency.sigma=1000"), "latency.sigma=1000"),
    # item 16
    (("latency=host",), "latency='host'"),
    (("latency.profiles=5",), "latency.profiles=5"),
    (("env.duration_s=100000", "env.episodes=11"), "env.episodes=11"),
    (("scheduler.fps=1000000", "env.duration_s=1000"), "scheduler.fps=1000000"),
    # item 5: checks made by the env and the model, now before anything is written
    (("policy.threads=0",), "policy.threads=0"),
]


@pytest.mark.parametrize(("args", "needle"), BAD)
def test_bad_value_is_one_line_exit_2_nothing_written(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                      args: tuple[str, ...], needle: str) -> None:
    results = tmp_path / "results"
    assert main(["run", *TIMING, *args, f"results_dir={results}"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and needle in err, err
    assert "${" not in err
    assert not results.exists()


@pytest.mark.parametrize(
    ("trace", "column", "needle"),
    [
        ("latency_s\n0.1\nslow\n", None, "column 'latency_s' is not numeric"),
        ("date,latency_s\n2026-01-01,0.1\n2026-01-02,0.2\n", "latency_z", "latency.column='latency_z'"),
        ("date,backbone\n2026-01-01,0.1\n", None, "column 'date' is not numeric"),
    ],
)
def test_bad_trace_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], trace: str, column: str | None, needle: str
) -> None:
    results = tmp_path / "results"
    extra = [f"latency.column={column}"] if column else []
    assert (
        main(
            [
                "run",
                *TIMING,
                "latency=trace",
                f"latency.path={_trace(tmp_path, trace)}",
                *extra,
                f"results_dir={results}",
            ]
        )
        == 2
    )
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and needle in err, err
    assert not results.exists()


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("env.time_limit_s=-1",), "env.time_limit_s=-1"),
        (("env.control_hz=7",), "env.control_hz=7"),
        (("env.cameras=[top,back]",), "env.cameras='back'"),
        (("policy.action_dim=7",), "policy.action_dim=7"),
        (("env.image_size=[5000,5000]",), "env.image_size"),
    ],
)
def test_scene_and_model_checks_run_before_anything_is_written(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                               args: tuple[str, ...], needle: str) -> None:
    results = tmp_path / "results"
    assert main(["run", "+policy=act_int8", "episodes=1", "env.time_limit_s=1", *args, f"results_dir={results}"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and needle in err, err
    assert not results.exists()


def test_an_onnx_file_whose_metadata_does_not_match_its_graph_is_refused_up_front(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    results = tmp_path / "results"
    model = _onnx_with_wrong_metadata(tmp_path)
    assert (
        main(
            [
                "run",
                "+policy=act_int8",
                "episodes=1",
                "env.time_limit_s=1",
                f"policy.model_path={model}",
                f"results_dir={results}",
            ]
        )
        == 2
    )
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "policy.model_path=" in err and "metadata" in err, err
    assert not results.exists()


@pytest.mark.parametrize("key", ["results_dir", "hydra.run.dir", "hydra.sweep.dir"])
def test_an_output_directory_under_a_file_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], key: str
) -> None:
    f = tmp_path / "file"
    f.write_text("x")
    sweep = ["-m"] if key == "hydra.sweep.dir" else []
    assert main(["run", *sweep, *TIMING, f"{key}={f / 'sub'}"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and f"{key}=" in err and "under a file" in err
    assert f.read_text() == "x"


def test_an_empty_results_dir_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", *TIMING, "results_dir=''"]) == 2
    assert "results_dir" in capsys.readouterr().err


def test_a_sweep_validates_every_job_before_starting(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    results = tmp_path / "results"
    assert main(["run", "-m", *TIMING, "latency=constant", "latency.value=0.1,abc", f"results_dir={results}"]) == 2
    assert "latency.value='abc'" in capsys.readouterr().err
    assert not results.exists()


# item 3: runs never share a directory
def _default_run(root: Path) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "simbench", "run", *TIMING, f"results_dir={root}"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_three_runs_started_at_once_keep_three_complete_result_sets(tmp_path: Path) -> None:
    procs = [_default_run(tmp_path) for _ in range(3)]
    for proc in procs:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
    dirs = sorted(p for p in (tmp_path / "runs").iterdir())
    assert len(dirs) == 3
    for d in dirs:
        assert json.loads((d / "status.json").read_text()) == {"status": "complete"}
        assert json.loads((d / "metrics.json").read_text())["ticks"] == 300
        assert (d / ".hydra" / "config.yaml").is_file() and (d / "episodes.csv").is_file()


def test_a_second_run_into_the_same_run_dir_gets_its_own(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run_dir = tmp_path / "mine"
    for seed in (1, 2):
        assert main(["run", *TIMING, f"seed={seed}", f"hydra.run.dir={run_dir}"]) == 0
    first, second = run_dir, tmp_path / "mine-2"
    assert json.loads((first / "metrics.json").read_text())["seed"] == 1
    assert json.loads((second / "metrics.json").read_text())["seed"] == 2
    assert "seed: 2" in (second / ".hydra" / "config.yaml").read_text()


def test_a_locked_sweep_job_is_not_touched(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from simbench.run_dir import RunDirBusy, locked

    sweep = tmp_path / "s"
    assert main(["run", "-m", *TIMING, f"hydra.sweep.dir={sweep}"]) == 0
    (job,) = [p.parent for p in sweep.glob("*/status.json")]
    (job / "status.json").unlink()
    with locked(job):  # another process would hold it like this while it writes
        with pytest.raises(RunDirBusy):
            with locked(job):
                pass
        assert main(["run", "-m", *TIMING, f"hydra.sweep.dir={sweep}"]) == 1
    assert not (job / "status.json").exists()
    assert "being written by another run" in capsys.readouterr().err


# item 9: Ctrl-C
def test_ctrl_c_writes_an_interrupted_status_one_line_exit_130(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "simbench",
            "run",
            "+policy=act_int8",
            "env=timing",
            "env.duration_s=100000",
            "env.episodes=10",
            "plots=false",
            "progress=false",
            f"results_dir={tmp_path}",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # as from a terminal: a background job (nohup, CI runners) inherits SIGINT ignored
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 120
    while not list(tmp_path.glob("runs/*/.hydra/config.yaml")) and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and err.strip().count("\n") == 0 and "interrupted" in err
    (run_dir,) = list((tmp_path / "runs").iterdir())
    assert json.loads((run_dir / "status.json").read_text())["status"] == "interrupted"


# item 10: permissions
def test_result_files_follow_the_umask(tmp_path: Path) -> None:
    proc = subprocess.run(
        ["sh", "-c", f"umask 022 && {sys.executable} -m simbench run {' '.join(TIMING)} results_dir={tmp_path}"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    (run_dir,) = list((tmp_path / "runs").iterdir())
    for name in ("metrics.json", "status.json", "episodes.csv", "timeline.parquet"):
        assert stat.S_IMODE((run_dir / name).stat().st_mode) == 0o644, name


# item 13: a full disk
def test_a_full_disk_is_recorded_or_said_and_the_sweep_goes_on(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    import simbench.atomic_io as atomic_io

    def full(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(atomic_io.tempfile, "mkstemp", full)  # every atomic result write
    monkeypatch.setattr(Path, "write_text", full)  # and the short fallback record
    sweep = tmp_path / "s"
    code = main(["run", "-m", *TIMING[:-1], "seed=1,2", f"hydra.sweep.dir={sweep}"])
    err = capsys.readouterr().err
    assert code == 1
    assert err.count("disk full") >= 2  # both jobs ran and said why they have no record
    monkeypatch.undo()
    again = main(["run", "-m", *TIMING[:-1], "seed=1,2", f"hydra.sweep.dir={sweep}"])
    assert again == 0  # space back: the sweep resumes both jobs
    assert len(list(sweep.glob("*/metrics.json"))) == 2


def test_a_run_on_a_full_tmpfs_leaves_a_failed_record_or_says_disk_full(tmp_path: Path) -> None:
    mnt = tmp_path / "small"
    mnt.mkdir()
    if (
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=48k", "tmpfs", str(mnt)], capture_output=True).returncode
        != 0
    ):
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        out = simbench(
            "run", "+policy=act_int8", "env=timing", "env.duration_s=600", "plots=true", f"hydra.run.dir={mnt / 'run'}"
        )
        assert out.returncode == 1, out.stderr
        assert "Traceback" not in out.stderr
        status = mnt / "run" / "status.json"
        if status.exists():
            record = json.loads(status.read_text())
            assert record["status"] == "failed" and "disk full" in record["error"]
        else:
            assert "disk full" in out.stderr
    finally:
        subprocess.run(["umount", str(mnt)], check=False)


def test_metrics_json_is_strict_json(tmp_path: Path) -> None:
    """Item 7: no NaN or Infinity in a result file, whatever a metric computes."""
    from simbench.atomic_io import write_json

    write_json(tmp_path / "m.json", {"ok": 0.5, "nan": float("nan"), "inf": [float("inf")]})
    assert json.loads(
        (tmp_path / "m.json").read_text(), parse_constant=lambda c: pytest.fail(f"non-JSON constant {c}")
    ) == {"ok": 0.5, "nan": None, "inf": [None]}


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["run", *TIMING, "progress=maybe"], "progress='maybe'"),
        (["run", *TIMING, "plots=abc"], "plots='abc'"),
        (["record", "seed=abc"], "seed='abc'"),
        (["record", "progress=maybe"], "progress='maybe'"),
        (["train", "steps=abc"], "train.steps='abc'"),
        (["train", "resume=maybe"], "resume='maybe'"),
        (["export", "eval_frames=abc"], "eval_frames='abc'"),
        (["export", "replace=maybe"], "replace='maybe'"),
    ],
)
def test_every_subcommand_checks_types_before_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], needle: str
) -> None:
    out = tmp_path / "out"
    key = {"run": "results_dir", "record": "output", "train": "out_dir", "export": "out_dir"}[argv[0]]
    assert main([*argv, f"{key}={out}"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and needle in err, err
    assert not out.exists()
