"""Sweeps keep going past a failed job, resume after an interruption, and summarise into a report."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from simbench.reporting.sweep_report import pareto_front, pool_seeds
from tests.cli.test_run_cli import simbench


def _fail_for(monkeypatch: pytest.MonkeyPatch, policy: str, exc: BaseException) -> None:
    """Make every run of ``policy`` fail once it has started (a fault the up-front checks cannot see)."""
    import simbench.runner as runner

    real = runner.simulate_episode

    def simulate(settings, env, pol, *args, **kwargs):  # type: ignore[no-untyped-def]
        if pol.name == policy:
            raise exc
        return real(settings, env, pol, *args, **kwargs)

    monkeypatch.setattr(runner, "simulate_episode", simulate)


def test_failed_job_is_recorded_the_others_finish_and_the_sweep_exits_1(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                         capsys: pytest.CaptureFixture[str]) -> None:
    from simbench.__main__ import main

    sweep = tmp_path / "s"
    _fail_for(monkeypatch, "act_fp32", RuntimeError("board fell over"))
    code = main(
        [
            "run",
            "-m",
            "+policy=act_int8,act_fp32",
            "env=timing",
            "env.duration_s=2",
            "plots=false",
            "progress=false",
            f"hydra.sweep.dir={sweep}",
        ]
    )
    captured = capsys.readouterr()
    err = captured.err
    assert code == 1
    # a sweep's console holds one line per finished job, no per-job tables or progress bars
    done = [line for line in captured.out.splitlines() if line.startswith("done ")]
    assert len(done) == 1 and "stall share" in done[0]
    assert "scheduler    async" not in captured.out
    status = {p.parent.name: json.loads(p.read_text()) for p in sweep.glob("*/status.json")}
    assert sorted(s["status"] for s in status.values()) == ["complete", "failed"]
    failed_job = next(j for j, s in status.items() if s["status"] == "failed")
    assert "board fell over" in status[failed_job]["error"]
    assert "1 of 2 jobs complete" in err and f"{failed_job}: failed: RuntimeError: board fell over" in err
    report = simbench("report", str(sweep))
    assert report.returncode == 0, report.stderr
    assert "failed" in (sweep / "summary.md").read_text()


def test_interrupted_sweep_resumes_only_the_missing_runs(tmp_path: Path) -> None:
    sweep = tmp_path / "s"
    args = (
        "run",
        "-m",
        "+policy=act_int8",
        "policy.actions_per_chunk=25,50,100",
        "env=timing",
        "env.duration_s=5",
        "plots=false",
        f"hydra.sweep.dir={sweep}",
    )
    assert simbench(*args).returncode == 0
    jobs = sorted(p.parent for p in sweep.glob("*/status.json"))
    assert len(jobs) == 3
    # a job killed mid-way has no status.json (written last, atomically) and maybe a partial file
    (jobs[1] / "status.json").unlink()
    (jobs[1] / "metrics.json").write_text("{trunc")
    again = simbench(*args)
    assert again.returncode == 0, again.stderr
    assert again.stdout.count("skip (complete)") == 2
    assert json.loads((jobs[1] / "metrics.json").read_text())["ticks"] == 300


def test_report_table_and_plots(tmp_path: Path) -> None:
    sweep = tmp_path / "s"
    out = simbench(
        "run",
        "-m",
        "+policy=act_fp32,act_int8",
        "policy.actions_per_chunk=50,100",
        "scheduler.threshold=0.2,0.5",
        "env=timing",
        "env.duration_s=30",
        "plots=false",
        f"hydra.sweep.dir={sweep}",
    )
    assert out.returncode == 0, out.stderr
    assert simbench("report", str(sweep)).returncode == 0
    rows = list(csv.DictReader((sweep / "summary.csv").open()))
    assert len(rows) == 8 and {r["policy"] for r in rows} == {"act_fp32", "act_int8"}
    assert {r["actions_per_chunk"] for r in rows} == {"50", "100"}
    assert {r["latency_source"] for r in rows} == {"published"}  # act_fp32 and act_int8 have published figures
    fp32 = [float(r["stall_fraction"]) for r in rows if r["policy"] == "act_fp32"]
    int8 = [float(r["stall_fraction"]) for r in rows if r["policy"] == "act_int8"]
    assert min(fp32) > max(int8)  # 2.86 s stalls far more than 0.32 s
    assert (sweep / "stall_vs_chunk_threshold.png").stat().st_size > 0
    assert "summary.csv" in (sweep / "index.html").read_text()
    assert simbench("report", str(tmp_path / "missing")).returncode == 2


def test_job_folders_are_flat_bounded_and_hold_their_overrides(tmp_path: Path) -> None:
    """A value with "/" or "../" stays inside the sweep folder; a long override cannot exceed NAME_MAX."""
    sweep = tmp_path / "s"
    long_pipeline = "[" + ",".join(f"{{name:stage_with_a_long_name_{i},unit:cpu,share:0.25}}" for i in range(4)) + "]"
    out = simbench(
        "run",
        "-m",
        "+policy=act_int8",
        "policy.model_path=act/act_int8.onnx,act/../act/act_fp32.onnx",
        "env=timing",
        f"policy.pipeline={long_pipeline}",
        "env.duration_s=5",
        "plots=false",
        f"hydra.sweep.dir={sweep}",
    )
    assert out.returncode == 0, out.stderr
    jobs = sorted(p.parent for p in sweep.glob("*/status.json"))
    assert len(jobs) == 2 and all(len(j.name) < 200 and "/" not in j.name for j in jobs)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s"]  # nothing outside the sweep folder
    for job in jobs:
        overrides = (job / ".hydra" / "overrides.yaml").read_text()
        assert "policy.model_path=act/" in overrides and "stage_with_a_long_name_3" in overrides
    assert simbench("report", str(sweep)).returncode == 0
    rows = list(csv.DictReader((sweep / "summary.csv").open()))
    assert {r["status"] for r in rows} == {"complete"} and len(rows) == 2


def test_pool_seeds_weights_rates_by_episodes_and_orders_seeds_numerically() -> None:
    def row(seed: int, success: float, episodes: int, stall: float, model: str = "a") -> dict:
        return {"status": "complete", "overrides": ["+policy=act_int8", f"seed={seed}", f"policy.model_path={model}"],
                "success_rate": success, "lifted_rate": 1.0, "episodes": episodes, "stall_fraction": stall}

    rows = [row(10, 0.5, 10, 0.2), row(2, 0.8, 30, 0.4), row(0, 0.9, 30, 0.1, model="b"),
            {**row(3, 0.0, 30, 0.9), "status": "failed"}]
    (pooled,) = pool_seeds(rows)  # model b has one seed and the failed job does not count: nothing to pool
    assert (
        pooled["jobs"] == "+policy=act_int8,policy.model_path=a" and pooled["seeds"] == 2 and pooled["episodes"] == 40
    )
    assert pooled["success_rate"] == pytest.approx((0.5 * 10 + 0.8 * 30) / 40)
    assert pooled["success_per_seed"] == "0.800 0.500"  # seed 2 before seed 10
    assert pooled["stall_fraction"] == pytest.approx(0.3)


def test_report_pools_seeds_of_a_sweep(tmp_path: Path) -> None:
    sweep = tmp_path / "s"
    out = simbench(
        "run",
        "-m",
        "+policy=act_int8",
        "seed=0,1",
        "env=timing",
        "env.duration_s=5",
        "plots=false",
        f"hydra.sweep.dir={sweep}",
    )
    assert out.returncode == 0, out.stderr
    assert simbench("report", str(sweep)).returncode == 0
    jobs = list(csv.DictReader((sweep / "summary.csv").open()))
    (pooled,) = list(csv.DictReader((sweep / "summary_by_seed.csv").open()))
    assert (
        pooled["jobs"].startswith("+policy=act_int8,env=timing,")
        and "seed=" not in pooled["jobs"]
        and pooled["seeds"] == "2"
    )
    assert float(pooled["stall_fraction"]) == pytest.approx(sum(float(j["stall_fraction"]) for j in jobs) / 2)
    assert "Pooled over seeds" in (sweep / "summary.md").read_text()


def test_pareto_front() -> None:
    pts = [(0.3, 0.8), (2.8, 0.96), (0.5, 0.7), (1.0, 0.9), (3.0, 0.9)]
    assert pareto_front(pts) == [(0.3, 0.8), (1.0, 0.9), (2.8, 0.96)]


def test_binomial_interval_is_wilsons() -> None:
    from simbench.reporting.sweep_report import binomial_interval

    lo, hi = binomial_interval(27, 30)
    assert lo == pytest.approx(0.7438, abs=1e-3) and hi == pytest.approx(0.9654, abs=1e-3)
    assert binomial_interval(0, 30)[0] == 0.0 and binomial_interval(30, 30)[1] == 1.0
    lo, hi = binomial_interval(15, 30)
    assert hi - lo == pytest.approx(0.33, abs=0.01)  # at 0.5 and 30 episodes: +-17 points


def test_stall_plot_draws_only_what_varied() -> None:
    from simbench.reporting.sweep_report import stall_panels

    row = lambda h, g: {"actions_per_chunk": h, "threshold": g}  # noqa: E731
    assert stall_panels([row(25, 0.2), row(50, 0.2), row(100, 0.2)]) == [("threshold", "actions_per_chunk")]
    assert stall_panels([row(100, 0.2), row(100, 0.5)]) == [("actions_per_chunk", "threshold")]
    assert len(stall_panels([row(50, 0.2), row(100, 0.5)])) == 2
    assert stall_panels([row(100, 0.2), row(100, 0.2)]) == []


def test_report_flags_unreadable_jobs_and_reports_the_rest(tmp_path: Path) -> None:
    """Issue #25 items 6 and 15: a truncated metrics.json, "complete" without metrics and a corrupt
    config are flagged; the other jobs are reported as usual."""
    sweep = tmp_path / "s"
    out = simbench(
        "run",
        "-m",
        "+policy=act_int8",
        "seed=1,2,3,4",
        "env=timing",
        "env.duration_s=5",
        "plots=false",
        f"hydra.sweep.dir={sweep}",
    )
    assert out.returncode == 0, out.stderr
    jobs = sorted(p.parent for p in sweep.glob("*/status.json"))
    (jobs[0] / "metrics.json").write_text('{"ticks": 3')  # truncated
    (jobs[1] / "metrics.json").unlink()  # complete without metrics
    (jobs[2] / ".hydra" / "config.yaml").write_text("policy: [unclosed\n")  # corrupt
    report = simbench("report", str(sweep))
    assert report.returncode == 0, report.stderr
    rows = {r["job"]: r for r in csv.DictReader((sweep / "summary.csv").open())}
    assert rows[jobs[0].name]["status"] == "unreadable" and "metrics.json unreadable" in rows[jobs[0].name]["error"]
    assert rows[jobs[1].name]["status"] == "unreadable" and "metrics.json missing" in rows[jobs[1].name]["error"]
    assert rows[jobs[2].name]["status"] == "unreadable" and "config.yaml unreadable" in rows[jobs[2].name]["error"]
    assert rows[jobs[3].name]["status"] == "complete" and float(rows[jobs[3].name]["stall_fraction"]) >= 0
    assert "unreadable" in (sweep / "summary.md").read_text()
