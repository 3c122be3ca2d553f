"""A 1,000-job sweep's report stays readable: counts first, failures once per error, the best jobs."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import yaml

from simbench.reporting.sweep_report import TOP_N, failure_groups, rank, write_report


def fake_sweep(root: Path, n: int) -> None:
    """n job directories as a sweep writes them: every 10th failed (two errors), one interrupted."""
    for i in range(n):
        job = root / f"seed={i}"
        (job / ".hydra").mkdir(parents=True)
        cfg = {
            "policy": {"name": "act_int8", "actions_per_chunk": 50},
            "scheduler": {"name": "async", "threshold": 0.2},
        }
        (job / ".hydra" / "config.yaml").write_text(yaml.safe_dump(cfg))
        (job / ".hydra" / "hydra.yaml").write_text(yaml.safe_dump({"hydra": {"overrides": {"task": [f"seed={i}"]}}}))
        if i == 1:
            continue  # interrupted: no status.json
        if i % 10 == 0:
            error = "FileNotFoundError: no_model.onnx" if i % 20 else "ValueError: bad trace"
            (job / "status.json").write_text(json.dumps({"status": "failed", "error": error}))
            continue
        (job / "metrics.json").write_text(
            json.dumps({"success_rate": (i % 7) / 7, "stall_fraction": (i % 5) / 10, "episodes": 30})
        )
        (job / "status.json").write_text(json.dumps({"status": "complete"}))


def test_rank_puts_complete_best_success_then_least_stall_first() -> None:
    rows = [
        {"job": "a", "status": "failed"},
        {"job": "b", "status": "complete", "success_rate": 0.5, "stall_fraction": 0.2},
        {"job": "c", "status": "complete", "success_rate": 0.5, "stall_fraction": 0.1},
        {"job": "d", "status": "complete", "success_rate": None, "stall_fraction": 0.0},
        {"job": "e", "status": "complete", "success_rate": 0.9, "stall_fraction": 0.9},
    ]
    assert [r["job"] for r in rank(rows)] == ["e", "c", "b", "d", "a"]


def test_large_sweep_report_shows_counts_grouped_failures_and_the_best_jobs(tmp_path: Path) -> None:
    n = 1000
    fake_sweep(tmp_path, n)
    write_report(tmp_path)
    assert len(list(csv.DictReader((tmp_path / "summary.csv").open()))) == n  # every job in the CSV
    md = (tmp_path / "summary.md").read_text()
    assert md.splitlines()[0] == "1000 jobs: 899 complete, 100 failed, 1 incomplete. Every job: summary.csv."
    failures = [line for line in md.splitlines() if line.startswith("- ")]
    assert [f.split(":")[0] for f in failures] == ["- 50 × failed", "- 50 × failed", "- 1 × incomplete"]
    assert "and 47 more (summary.csv)" in failures[0]
    assert f"Best {TOP_N} of {n} jobs" in md
    table = [line for line in md.splitlines() if line.startswith("| seed=")]
    assert len(table) == TOP_N and all("| complete |" in line for line in table)
    assert all("| 0.857 |" in line for line in table)  # success 6/7, the best there is
    html = (tmp_path / "index.html").read_text()
    assert html.count("<tr>") == TOP_N + 1 and "50 × failed: FileNotFoundError" in html
    groups = failure_groups(list(csv.DictReader((tmp_path / "summary.csv").open())))
    assert sum(len(jobs) for _, jobs in groups) == 101


def test_a_fresh_process_resolves_the_configs_resolvers(tmp_path: Path) -> None:
    """``import simbench`` registers no resolvers, so the report registers the ones a job's saved
    config uses (``${min:...}``) before resolving it."""
    import subprocess
    import sys

    path = tmp_path / "config.yaml"
    path.write_text("policy:\n  chunk_size: 100\n  actions_per_chunk: ${.chunk_size}\n"
                    "  n_action_steps: ${min:50,${.actions_per_chunk}}\n")
    code = (f"from pathlib import Path; from simbench.reporting.sweep_report import _resolved; "
            f"print(_resolved(Path({str(path)!r}))['policy']['n_action_steps'])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "50"
