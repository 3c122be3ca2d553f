"""``+search=stall_budget``: Hydra's Optuna sweeper maximizes the constrained objective, and resumes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from simbench.metrics import constrained_objective
from tests.cli.test_run_cli import simbench


def test_constrained_objective_ranks_every_run_over_the_stall_budget_below_the_others() -> None:
    within = constrained_objective({"success_rate": 0.1, "stall_fraction": 0.049}, "success_rate", 0.05)
    over = [
        constrained_objective({"success_rate": 1.0, "stall_fraction": s}, "success_rate", 0.05) for s in (0.05, 0.3)
    ]
    assert within == 0.1 and over == [-0.05, -0.3]
    assert constrained_objective({"stall_fraction": 0.0}, "success_rate", 0.05) is None  # timing-only env: no success
    assert constrained_objective({"success_rate": 0.5, "stall_fraction": 0.9}, "success_rate", None) == 0.5


def test_optuna_search_finds_the_best_trial_and_resumes(tmp_path: Path) -> None:
    pytest.importorskip("hydra_plugins.hydra_optuna_sweeper")
    sweep = tmp_path / "s"
    # timing-only: maximize executed actions per second among runs stalling < 5%
    args = ("run", "-m", "+search=stall_budget", "env=timing", "env.duration_s=30", "objective.metric=actions_per_s",
            "hydra.sweeper.n_trials=6", "hydra.sweeper.sampler.n_startup_trials=4", f"hydra.sweep.dir={sweep}")
    out = simbench(*args)
    assert out.returncode == 0, out.stderr
    jobs = [p.parent for p in sweep.glob("**/metrics.json")]
    assert 1 <= len(jobs) <= 6 and all(
        json.loads((j / "status.json").read_text())["status"] == "complete" for j in jobs
    )
    values = {
        j: constrained_objective(json.loads((j / "metrics.json").read_text()), "actions_per_s", 0.05) for j in jobs
    }
    best = yaml.safe_load((sweep / "optimization_results.yaml").read_text())
    best_job = max(values, key=lambda j: values[j])
    assert best["best_value"] == pytest.approx(values[best_job])
    job_overrides = {o.lstrip("+") for o in yaml.safe_load((best_job / ".hydra" / "overrides.yaml").read_text())}
    for key, value in best["best_params"].items():
        assert f"{key}={value}" in job_overrides
    # resume: the seeded sampler proposes the same trials; each is skipped and returns its stored value
    stamps = {j: (j / "metrics.json").stat().st_mtime_ns for j in jobs}
    again = simbench(*args)
    assert again.returncode == 0, again.stderr
    assert again.stdout.count("skip (complete)") == 6
    assert {j: (j / "metrics.json").stat().st_mtime_ns for j in jobs} == stamps
    assert yaml.safe_load((sweep / "optimization_results.yaml").read_text()) == best
    assert simbench("report", str(sweep)).returncode == 0
