"""simbench.run_dir: exclusive run directories and safe, stable job folder names (issue #25, items 3 and 11)."""

from __future__ import annotations

import multiprocessing as mp
from pathlib import Path

import pytest

from simbench.errors import ConfigError
from simbench.run_dir import PREFIX_CHARS, job_dirname, reserve


def _reserve(path: str) -> str:
    return str(reserve(Path(path)))


def test_reserve_never_gives_two_processes_the_same_directory(tmp_path: Path) -> None:
    with mp.get_context("spawn").Pool(4) as pool:
        got = pool.map(_reserve, [str(tmp_path / "run")] * 8)
    assert len(set(got)) == 8
    assert sorted(Path(g).name for g in got) == sorted(["run", *[f"run-{i}" for i in range(2, 9)]])


def test_reserve_refuses_a_path_under_a_file(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    with pytest.raises(ConfigError, match="results_dir=.*under a file"):
        reserve(tmp_path / "f" / "runs" / "a", "results_dir")


@pytest.mark.parametrize(
    "overrides",
    [
        "policy.model_path=../../../etc/passwd",
        "policy.pipeline=" + "[{name:stage,unit:cpu,share:0.25}]" * 20,
        "",
        "a/b=c/d",
    ],
)
def test_job_dirname_is_one_bounded_safe_path_component(overrides: str) -> None:
    name = job_dirname(overrides)
    assert "/" not in name and ".." not in name and not name.startswith(".")
    assert len(name) <= PREFIX_CHARS + 11 < 255
    assert job_dirname(overrides) == name  # the same overrides -> the same folder: sweeps resume


def test_job_dirname_keeps_apart_what_truncation_would_merge() -> None:
    common = "policy.pipeline=" + "x" * 200
    assert job_dirname(common + ",seed=1") != job_dirname(common + ",seed=2")
    assert job_dirname("+policy=act_int8,policy.chunk_size=25").startswith("policy=act_int8,chunk_size=25-")
