"""Issue 37, class 7: crafted transport profiles, traces and datasets are refused in one line
(a ConfigError naming the file and the field), never a traceback or a path outside the dataset."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from simbench.__main__ import main
from simbench.dataset import DatasetWriter, load_dataset
from simbench.errors import ConfigError
from simbench.latency.trace import TraceLatency
from simbench.scheduler.transport import make_transport
from tests.dataset.test_roundtrip import _episode

TIMING = ("+policy=act_int8", "env=timing", "env.duration_s=5", "plots=false", "progress=false")


def _profile(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "kind": "simbench.hil.link",
        "observation_trip_s": {"samples": [0.001, 0.002]},
        "chunk_trip_s": {"samples": [0.001, 0.002]},
        "serialize": {"fixed_s": 1e-5, "per_byte_s": 1e-9, "observation_bytes": 100, "chunk_bytes": 100},
        "loop": {"achieved_fps": 59.9},
    }
    base.update(changes)
    return base


def _deep(n: int) -> str:
    return '{"kind": "simbench.hil.link", "x": ' + "[" * n + "]" * n + "}"


@pytest.mark.parametrize(
    "content",
    [
        json.dumps(_profile(observation_trip_s={"samples": ["abc"]})),
        json.dumps(_profile(observation_trip_s={"samples": [[0.1, 0.2], [0.3]]})),
        json.dumps(_profile(observation_trip_s={"samples": [1e300]})),
        json.dumps(_profile(loop=[1, 2])),
        json.dumps(_profile(serialize="fast")),
        _deep(100_000),
    ],
    ids=["abc", "ragged", "1e300", "loop-list", "serialize-str", "deep"],
)
def test_a_crafted_transport_profile_is_one_config_error(tmp_path: Path, content: str) -> None:
    path = tmp_path / "link.json"
    path.write_text(content)
    with pytest.raises(ConfigError, match="scheduler.transport_profile|scheduler.loop_fps"):
        make_transport({"transport_profile": str(path)}, "act_int8")


def test_the_crafted_profile_through_the_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "link.json"
    path.write_text(json.dumps(_profile(observation_trip_s={"samples": ["abc"]})))
    assert main(["run", *TIMING, f"scheduler.transport_profile={path}", f"results_dir={tmp_path / 'r'}"]) == 2
    assert "scheduler.transport_profile" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize(
    ("csv", "needle"),
    [
        ("foo\n0.1\n", "latency.column='latency_s'"),
        ("latency_s\n1e300\n", "finite latencies in [0, 3600]"),
        ("a,b\n0.1,-1\n", "finite latencies"),
    ],
)
def test_a_crafted_trace_is_refused(tmp_path: Path, csv: str, needle: str) -> None:
    path = tmp_path / "t.csv"
    path.write_text(csv)
    with pytest.raises(ConfigError) as err:
        TraceLatency(path)
    assert needle in str(err.value)


def test_a_trace_record_with_a_wrong_type_is_refused_before_the_run(tmp_path: Path) -> None:
    path = tmp_path / "trace.csv"
    path.write_text("latency_s\n0.1\n")
    path.with_suffix(".json").write_text(json.dumps({"kind": "simbench.hil.measure", "board": "notadict"}))
    with pytest.raises(ConfigError, match="board='notadict'; expected dict"):
        TraceLatency(path)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("ds") / "set"
    writer = DatasetWriter(root, fps=30, cameras=("top",), image_shape=(32, 48, 3))
    ep = _episode(0, 6)
    ep.images.pop("gripper")
    writer.add_episode(ep)
    writer.finalize()
    return root


def _info(change: Callable[[dict[str, Any]], None]) -> Callable[[Path], None]:
    def apply(root: Path) -> None:
        info = json.loads((root / "meta/info.json").read_text())
        change(info)
        (root / "meta/info.json").write_text(json.dumps(info))

    return apply


def _truncate(pattern: str) -> Callable[[Path], None]:
    def apply(root: Path) -> None:
        for p in root.glob(pattern):
            p.write_bytes(p.read_bytes()[:50])

    return apply


CORRUPTIONS: dict[str, Callable[[Path], None]] = {
    "fps-str": _info(lambda i: i.update(fps="fast")),
    "info-list": lambda root: (root / "meta/info.json").write_text("[1, 2]"),
    "info-bad-json": lambda root: (root / "meta/info.json").write_text("{"),
    "video-path-etc": _info(lambda i: i.update(video_path="/etc/{video_key}.mp4")),
    "video-path-up": _info(lambda i: i.update(video_path="../../{video_key}.mp4")),
    "no-data": lambda root: shutil.rmtree(root / "data"),
    "truncated-parquet": _truncate("data/*/*.parquet"),
    "bad-footer": lambda root: [p.write_bytes(p.read_bytes()[:-8] + b"XXXXXXXX") for p in root.glob("data/*/*.parquet")],
}


@pytest.mark.parametrize("corruption", sorted(CORRUPTIONS))
def test_a_corrupt_dataset_is_one_config_error(dataset: Path, tmp_path: Path, corruption: str) -> None:
    root = tmp_path / "copy"
    shutil.copytree(dataset, root)
    CORRUPTIONS[corruption](root)
    with pytest.raises(ConfigError) as err:
        load_dataset(root)
    assert "\n" not in str(err.value)


def test_a_corrupt_video_is_one_config_error(dataset: Path, tmp_path: Path) -> None:
    root = tmp_path / "copy"
    shutil.copytree(dataset, root)
    for p in root.glob("videos/**/*.mp4"):
        p.write_bytes(b"\x00" * 100)
    ds = load_dataset(root)
    with pytest.raises(ConfigError, match="is unreadable"):
        ds.episode_frames("top", 0)


# -- class 8: a full disk is one line, exit 1 -------------------------------------------------------


def _enospc(*args: object, **kwargs: object) -> None:
    import errno
    import os

    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), "somewhere")


def test_report_on_a_full_disk_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    import simbench.atomic_io as atomic_io

    sweep = tmp_path / "s"
    assert main(["run", "-m", *TIMING, "seed=1", f"hydra.sweep.dir={sweep}"]) == 0
    capsys.readouterr()
    monkeypatch.setattr(atomic_io.tempfile, "mkstemp", _enospc)
    assert main(["report", str(sweep)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("error: ") and "disk full" in err, err


def test_hydra_writing_its_config_on_a_full_disk_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    import hydra.core.utils

    monkeypatch.setattr(hydra.core.utils, "_save_config", _enospc)
    assert main(["run", *TIMING, f"hydra.run.dir={tmp_path / 'run'}"]) == 1
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err and "disk full" in err.splitlines()[-1], err


def test_m_after_overrides_sweeps(tmp_path: Path) -> None:
    """Class 13: ``-m`` anywhere on the line is the sweep flag (Hydra's parser wants it first)."""
    sweep = tmp_path / "s"
    assert main(["run", *TIMING, "seed=1,2", "-m", f"hydra.sweep.dir={sweep}"]) == 0
    assert len(list(sweep.glob("*/metrics.json"))) == 2


def test_a_job_another_sweep_was_writing_is_not_reported_complete_here(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Class 13: two identical sweeps at once. The second found the job locked; by the time it sums
    up, the first has completed it. The second must not say "1 of 1 complete" and exit 1."""
    from simbench import run_job

    sweep = tmp_path / "s"
    assert main(["run", "-m", *TIMING, f"hydra.sweep.dir={sweep}"]) == 0
    (job,) = [p.parent for p in sweep.glob("*/status.json")]
    capsys.readouterr()
    run_job.outcome.clear()
    run_job.outcome.update(failed=True, busy=[job])  # what job() records when the lock is held
    try:
        assert run_job.sweep_summary(sweep, 1) == 1
    finally:
        run_job.outcome.clear()
    err = capsys.readouterr().err
    assert "0 of 1 jobs complete" in err and "another process was writing it" in err, err


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny ACT checkpoint (two training steps): export reads it before the dataset."""
    from simbench.training.synthetic import synthetic_data, tiny_config
    from simbench.training.trainer import TrainConfig, train

    tmp = tmp_path_factory.mktemp("ckpt")
    cfg = TrainConfig(out_dir=str(tmp / "run"), steps=2, batch_size=2, val_every=2, val_batches=1, save_every=2,
                      warmup_steps=1, progress=False, eval_every=0)
    return Path(train(tiny_config(cameras=("top",)), cfg, synthetic_data(cameras=("top",))).best_path)


CLI_CORRUPTIONS = ("bad-footer", "fps-str", "no-data")


@pytest.mark.parametrize("command", ["train", "export"])
@pytest.mark.parametrize("corruption", CLI_CORRUPTIONS)
def test_a_corrupt_dataset_through_the_cli_is_one_error_line(
    dataset: Path, checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str,
    corruption: str,
) -> None:
    """Class 7 as a user meets it: ``train`` and ``export`` on a corrupt dataset end in one
    ``error:`` line naming the problem, exit 2, no traceback, nothing written."""
    root = tmp_path / "copy"
    shutil.copytree(dataset, root)
    CORRUPTIONS[corruption](root)
    out = tmp_path / "out"
    args = {"train": ["train", f"dataset={root}", f"out_dir={out}", "steps=2", "progress=false"],
            "export": ["export", f"checkpoint={checkpoint}", f"dataset={root}", f"out_dir={out}"]}[command]
    assert main(args) == 2
    captured = capsys.readouterr()
    err = [ln for ln in captured.err.strip().splitlines() if ln.strip()]
    assert len(err) == 1 and err[0].startswith("error: ") and "Traceback" not in captured.err, captured.err
    assert not out.exists()


def test_two_identical_sweeps_at_once_agree_with_their_exit_codes(tmp_path: Path) -> None:
    """Class 13 end to end: two identical sweeps into one ``hydra.sweep.dir`` at once. Each says
    either "N jobs complete" and exits 0, or "K of N jobs complete, M not" (K < N, the jobs the other
    was writing named) and exits 1; never "N of N complete" with exit 1. A rerun then completes."""
    import os
    import re
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root / "hil" / "agent"), str(root),
                                                         os.environ.get("PYTHONPATH", "")])}
    sweep = tmp_path / "s"
    cmd = [sys.executable, "-m", "simbench", "run", "-m", *TIMING, "seed=1,2,3", f"hydra.sweep.dir={sweep}"]
    procs = [subprocess.Popen(cmd, cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert "Traceback" not in err, err
        if proc.returncode == 0:
            assert "3 jobs complete" in out and " not:" not in err, (out, err)
            continue
        assert proc.returncode == 1, err
        (counts,) = re.findall(r"(\d+) of (\d+) jobs complete, (\d+) not:", err)
        done, total, bad = map(int, counts)
        assert total == 3 and done < total and done + bad == total, err
        assert err.count("not run here: another process was writing it") == bad, err
    rerun = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0 and "3 jobs complete" in rerun.stdout, rerun.stderr
