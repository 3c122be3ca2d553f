"""Recording never deletes what is not a dataset, and replaces a dataset only once the new one is
complete (issue #25, item 1)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from simbench.__main__ import main
from simbench.dataset import DatasetWriter, load_dataset
from simbench.dataset.writer import check_output
from simbench.errors import ConfigError
from tests.dataset.test_roundtrip import _episode

WRITER_ARGS = dict(fps=30, cameras=("top", "gripper"), image_shape=(32, 48, 3))


def _dataset(root: Path, episodes: int) -> Path:
    with DatasetWriter(root, **WRITER_ARGS) as writer:  # type: ignore[arg-type]
        for e in range(episodes):
            writer.add_episode(_episode(e, 10))
        writer.finalize()
    return root


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_record_refuses_a_non_empty_directory_that_is_not_a_dataset(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "home"
    (home / "docs").mkdir(parents=True)
    (home / "notes.txt").write_text("keep me")
    (home / "docs" / "thesis.tex").write_text("keep me too")
    before = _tree(home)
    assert main(["record", f"output={home}", "clusters=[4]", "episodes_per_cluster=1"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "output=" in err and "not a dataset" in err
    assert _tree(home) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["home"]  # no staging directory either


def test_bad_takeover_model_leaves_the_existing_dataset(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = _dataset(tmp_path / "set", 2)
    before = _tree(root)
    assert main(["record", f"output={root}", "takeover.policy=act_fp32", "takeover.episodes_per_cluster=1",
                 "takeover.model_path=/no/such/model.onnx"]) == 2
    assert "/no/such/model.onnx" in capsys.readouterr().err
    assert _tree(root) == before


@pytest.mark.parametrize("target", ["file", "under_file"])
def test_record_output_that_is_or_is_under_a_file_is_refused(
    tmp_path: Path, target: str, capsys: pytest.CaptureFixture[str]
) -> None:
    f = tmp_path / "f.txt"
    f.write_text("x")
    out = f if target == "file" else f / "set"
    assert main(["record", f"output={out}"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "output=" in err and "file" in err
    assert f.read_text() == "x"


def test_check_output_allows_new_empty_and_dataset_directories(tmp_path: Path) -> None:
    check_output(tmp_path / "new")
    (tmp_path / "empty").mkdir()
    check_output(tmp_path / "empty")
    check_output(_dataset(tmp_path / "set", 1))
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / "meta").mkdir()  # an old-style interrupted recording: not recognisably ours
    with pytest.raises(ConfigError, match="not a dataset"):
        check_output(tmp_path / "half")


def test_interrupted_rerecording_keeps_the_old_dataset(tmp_path: Path) -> None:
    root = _dataset(tmp_path / "set", 2)
    before = _tree(root)
    with pytest.raises(KeyboardInterrupt):
        with DatasetWriter(root, **WRITER_ARGS) as writer:  # type: ignore[arg-type]
            writer.add_episode(_episode(5, 10))
            raise KeyboardInterrupt
    assert _tree(root) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["set"]


def test_finalize_replaces_a_dataset_with_the_new_one(tmp_path: Path) -> None:
    root = _dataset(tmp_path / "set", 2)
    os.umask(0o022)
    _dataset(root, 3)
    assert load_dataset(root).num_episodes == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["set"]
    assert (root.stat().st_mode & 0o777) == 0o755


@pytest.mark.slow
def test_sigint_during_rerecording_keeps_the_old_dataset(tmp_path: Path) -> None:
    root = _dataset(tmp_path / "set", 2)
    before = _tree(root)
    cmd = [sys.executable, "-m", "simbench", "record", f"output={root}", "clusters=[4]", "episodes_per_cluster=40",
           "image_size=[32,48]", "workers=1", "progress=false"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # not inherited as ignored
    deadline = time.monotonic() + 60
    while not list(tmp_path.glob(".set.partial-*/videos")) and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(1.0)  # episodes are being written into the staging directory
    assert proc.poll() is None
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert _tree(root) == before
    assert json.loads((root / "meta/info.json").read_text())["total_episodes"] == 2
