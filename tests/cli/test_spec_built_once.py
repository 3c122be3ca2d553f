"""``run`` checks every run before Hydra starts; each job then uses the spec its check built, so a run's
config is validated and its latency source built once per job, not twice."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from simbench import run_job
from simbench.__main__ import main


@pytest.mark.parametrize("sweep", [False, True])
def test_each_job_builds_its_spec_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sweep: bool) -> None:
    built: list[int] = []
    real = run_job.build_run_spec

    def counted(cfg):  # type: ignore[no-untyped-def]
        built.append(1)
        return real(cfg)

    monkeypatch.setattr(run_job, "build_run_spec", counted)
    args = ["+policy=act_int8", "env=timing", "env.duration_s=5", "progress=false", "plots=false"]
    if sweep:
        args = ["-m", *args, "seed=0,1", f"hydra.sweep.dir={tmp_path}/sweep"]
    else:
        args = [*args, f"hydra.run.dir={tmp_path}/run"]
    assert main(["run", *args]) == 0
    jobs = sorted(tmp_path.rglob("metrics.json"))
    assert len(jobs) == (2 if sweep else 1) and len(built) == len(jobs)
    assert all(json.loads(p.read_text())["inference_count"] > 0 for p in jobs)
    assert not run_job._checked  # nothing kept past the command
