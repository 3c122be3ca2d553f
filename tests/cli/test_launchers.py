"""Sweeps on real engines: Hydra's submitit launcher (its local executor, the job code a SLURM
cluster runs) and simbench's Ray launcher against a Ray cluster started here on 127.0.0.1.

For each: a job that fails is recorded and the others complete, re-running the command resumes
(complete jobs are not run again, the missing one is), and ``report`` reads the result.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli.test_run_cli import simbench

# 4 jobs: with latency=board each job starts a loopback board agent that drops the connection at the
# first inference (a fault no up-front check can see), so those jobs fail at run time; latency=constant completes
FAILING_SWEEP = ("+policy=act_int8", "latency=constant,board", "board=loopback", "board.fault=drop:0", "env=teabag_mug",
                 "env.time_limit_s=2", "episodes=1", "plots=false", "progress=false", "seed=0,1")
FAULT = "BoardError"


def statuses(sweep: Path) -> dict[Path, dict]:
    return {p.parent: json.loads(p.read_text()) for p in sweep.glob("**/status.json") if ".submitit" not in p.parts}


def check_failure_resume_report(sweep: Path, launcher: list[str]) -> None:
    args = ("run", "-m", *FAILING_SWEEP, *launcher, f"hydra.sweep.dir={sweep}")
    out = simbench(*args)
    first = statuses(sweep)
    assert sorted(s["status"] for s in first.values()) == ["complete", "complete", "failed", "failed"], out.stderr[
        -2000:
    ]
    for job, s in first.items():
        assert (s["status"] == "failed") == ("latency=board" in job.name)
        if s["status"] == "failed":
            assert FAULT in s["error"]
    # an interrupted job: no status.json (written last); the other complete job must not run again
    redo, kept = sorted(j for j, s in first.items() if s["status"] == "complete")
    (redo / "status.json").unlink()
    (redo / "metrics.json").unlink()
    kept_stamp = (kept / "metrics.json").stat().st_mtime_ns
    simbench(*args)
    second = statuses(sweep)
    assert second.keys() == first.keys()
    assert [second[j]["status"] for j in sorted(second)] == [first[j]["status"] for j in sorted(first)]
    assert json.loads((redo / "metrics.json").read_text())["episodes"] == 1
    assert (kept / "metrics.json").stat().st_mtime_ns == kept_stamp
    report = simbench("report", str(sweep))
    assert report.returncode == 0, report.stderr
    summary = (sweep / "summary.csv").read_text().splitlines()
    assert len(summary) == 1 + 4 and sum(",failed," in line for line in summary) == 2
    assert FAULT in (sweep / "summary.md").read_text()


def test_issue_command_runs_four_jobs_on_submitit_local(tmp_path: Path) -> None:
    sweep = tmp_path / "s"
    out = simbench("run", "-m", "+policy=act_fp32,act_int8", "scheduler=sync,async", "env=timing", "env.duration_s=60",
                   "hydra/launcher=submitit_local", f"hydra.sweep.dir={sweep}")
    assert out.returncode == 0, out.stderr
    assert [s["status"] for s in statuses(sweep).values()] == ["complete"] * 4
    assert len(list((sweep / ".submitit").glob("*/*_result.pkl"))) == 4  # one submitit task (process) per job
    assert "hydra/sweeper: simbench_basic" in (sweep / "multirun.yaml").read_text()  # checked once, before Hydra


@pytest.mark.parametrize("launcher", [["hydra/launcher=submitit_local"],
                                      ["hydra/launcher=submitit_local_batched", "hydra.launcher.jobs_per_task=3"]],
                         ids=["submitit_local", "submitit_local_batched"])
def test_submitit_local_failure_resume_report(tmp_path: Path, launcher: list[str]) -> None:
    check_failure_resume_report(tmp_path / "s", launcher)


def test_batched_submitit_runs_several_jobs_per_task(tmp_path: Path) -> None:
    sweep = tmp_path / "s"
    out = simbench(
        "run",
        "-m",
        "+policy=act_int8",
        "seed=0,1,2,3,4",
        "env=timing",
        "env.duration_s=5",
        "plots=false",
        "hydra/launcher=submitit_local_batched",
        "hydra.launcher.jobs_per_task=2",
        f"hydra.sweep.dir={sweep}",
    )
    assert out.returncode == 0, out.stderr
    assert [s["status"] for s in statuses(sweep).values()] == ["complete"] * 5
    assert len(list((sweep / ".submitit").glob("*/*_result.pkl"))) == 3  # 2 + 2 + 1
    assert "5 jobs in 3 tasks" in out.stderr + out.stdout


@pytest.fixture(scope="module")
def ray_head() -> Iterator[str]:
    """A real Ray head on 127.0.0.1 (2 CPUs), stopped with everything it started."""
    pytest.importorskip("ray")
    from hydra_plugins.simbench_launchers.ray_head import ray_head as start_head

    with start_head(num_cpus=2) as address:
        yield address


def test_ray_failure_resume_report(tmp_path: Path, ray_head: str) -> None:
    check_failure_resume_report(
        tmp_path / "s", ["hydra/launcher=ray", f"hydra.launcher.address={ray_head}", "hydra.launcher.jobs_per_task=2"]
    )


def test_ray_runs_the_jobs_on_the_cluster(tmp_path: Path, ray_head: str) -> None:
    sweep = tmp_path / "s"
    out = simbench(
        "run",
        "-m",
        "+policy=act_fp32,act_int8",
        "scheduler=sync,async",
        "env=timing",
        "env.duration_s=20",
        "plots=false",
        "hydra/launcher=ray",
        f"hydra.launcher.address={ray_head}",
        f"hydra.sweep.dir={sweep}",
    )
    assert out.returncode == 0, out.stderr
    assert [s["status"] for s in statuses(sweep).values()] == ["complete"] * 4
    assert "4 jobs in 4 tasks" in out.stderr + out.stdout and "cluster CPUs 2" in out.stderr + out.stdout
    assert "(run_batch pid=" in out.stdout + out.stderr  # the jobs' output came back from Ray workers


@pytest.mark.slow
def test_ray_large_sweep_and_report(tmp_path: Path, ray_head: str) -> None:
    """200 timing-only jobs, 25 per Ray task; the report lists them all."""
    sweep = tmp_path / "s"
    out = simbench(
        "run",
        "-m",
        "+policy=act_fp32,act_int8",
        "scheduler.threshold=0.1,0.2,0.3,0.4,0.5",
        "policy.actions_per_chunk=20,40,60,80,100",
        "seed=0,1,2,3",
        "env=timing",
        "env.duration_s=5",
        "plots=false",
        "progress=false",
        "hydra/launcher=ray",
        f"hydra.launcher.address={ray_head}",
        "hydra.launcher.jobs_per_task=25",
        f"hydra.sweep.dir={sweep}",
    )
    assert out.returncode == 0, out.stderr
    assert len(statuses(sweep)) == 200
    assert simbench("report", str(sweep)).returncode == 0
    assert len((sweep / "summary.csv").read_text().splitlines()) == 201


def test_slurm_example_config_makes_the_sbatch_script(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """conf/hydra/launcher/slurm_example.yaml through submitit's own sbatch writer (nothing submitted:
    there is no SLURM here; submitit only looks for an ``srun`` executable on PATH)."""
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    from hydra_plugins.simbench_launchers.submitit_batched import SlurmBatchedLauncher
    from simbench.paths import CONF_DIR

    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "srun").write_text("#!/bin/sh\nexit 1\n")
    (tmp_path / "bin" / "srun").chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:{os.environ['PATH']}")
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base=None):
        cfg = compose(
            config_name="config",
            overrides=["+policy=act_int8", "hydra/launcher=slurm_example", f"hydra.sweep.dir={tmp_path}"],
            return_hydra_config=True,
        )
    params = OmegaConf.to_container(cfg.hydra.launcher, resolve=False)
    assert params.pop("_target_").endswith("SlurmBatchedLauncher")
    params.update(submitit_folder=str(tmp_path / ".submitit" / "%j"), name="simbench")  # Hydra resolves these at launch
    launcher = SlurmBatchedLauncher(**params)
    assert launcher.jobs_per_task == 25
    sbatch = launcher.executor()._executor._make_submission_file_text("python -u -m submitit.core._submit DIR", "uid")
    for line in ("#SBATCH --partition=cpu", "#SBATCH --cpus-per-task=1", "#SBATCH --mem=4GB", "#SBATCH --time=60",
                 "source ~/venvs/simbench/bin/activate"):
        assert line in sbatch
