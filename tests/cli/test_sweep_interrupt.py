"""Stopping a joblib sweep (Ctrl-C to the process group, SIGTERM to the parent) leaves every started
job with a status: its worker records it, or the sweep does for a worker killed with it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest


@pytest.mark.parametrize(("sig", "group", "code"), [(signal.SIGINT, True, 130), (signal.SIGTERM, False, 143)])
def test_a_stopped_sweep_leaves_no_started_job_without_a_status(tmp_path: Path, sig: int, group: bool,
                                                                 code: int) -> None:
    sweep = tmp_path / "sweep"
    proc = subprocess.Popen(
        [sys.executable, "-m", "simbench", "run", "-m", "+policy=act_int8", "seed=0,1,2,3", "plots=false",
         "hydra/launcher=joblib", "hydra.launcher.n_jobs=2", f"hydra.sweep.dir={sweep}"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True, cwd=tmp_path,
        env={**os.environ, "MUJOCO_GL": "egl"},
        # as from a terminal: a background job (nohup, CI runners) inherits SIGINT ignored
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 120
    while not list(sweep.glob("*/.hydra/config.yaml")) and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(1.0)  # the jobs are running (30 scene episodes each take ~10 s)
    os.killpg(proc.pid, sig) if group else proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err[-2000:]
    assert "Traceback" not in err and "leaked semaphore" not in err, err[-2000:]
    started = [p.parent.parent for p in sweep.glob("*/.hydra/config.yaml")]
    assert started
    statuses = {d.name: json.loads((d / "status.json").read_text())["status"] for d in started}
    assert set(statuses.values()) <= {"interrupted", "complete"} and "interrupted" in statuses.values(), statuses
