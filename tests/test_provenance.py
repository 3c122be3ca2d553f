"""Every result says what produced it: versions, commit, CPU and model hash; report warns on a mix."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import mujoco
import numpy as np
import onnxruntime

from simbench.paths import MODELS_DIR
from simbench.provenance import describe, mixed_versions, model_sha256, versions
from simbench.reporting.sweep_report import version_warning


def test_versions_name_the_installed_libraries_and_the_model() -> None:
    model = MODELS_DIR / "act" / "act_int8.onnx"
    v = versions({"model": model})
    assert v["mujoco"] == mujoco.__version__ and v["onnxruntime"] == onnxruntime.__version__
    assert v["numpy"] == np.__version__ and v["python"].count(".") == 2 and v["cpu"]
    assert v["model_sha256"] == hashlib.sha256(model.read_bytes()).hexdigest()
    assert f"mujoco {mujoco.__version__}" in describe(v)
    two = model_sha256({"a": model, "b": MODELS_DIR / "act" / "act_fp32.onnx"})
    assert isinstance(two, dict) and two["a"] == v["model_sha256"] and two["a"] != two["b"]


def test_a_run_prints_and_writes_its_versions(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "simbench", "run", "+policy=act_int8", "episodes=1", "plots=false",
                          "progress=false", f"results_dir={tmp_path}"],
                         capture_output=True, text=True, timeout=300, check=False)
    assert out.returncode == 0, out.stderr
    assert "versions: simbench" in out.stdout and f"mujoco {mujoco.__version__}" in out.stdout
    (d,) = (tmp_path / "runs").iterdir()
    v = json.loads((d / "metrics.json").read_text())["versions"]
    model = MODELS_DIR / "act" / "act_int8.onnx"
    assert v["onnxruntime"] == onnxruntime.__version__ and v["model_sha256"] == hashlib.sha256(model.read_bytes()).hexdigest()
    assert "git_dirty" in v and "versions" in (d / "summary.txt").read_text()


def test_report_warns_when_a_sweep_mixes_versions() -> None:
    a = {"mujoco": "4.0.1", "onnxruntime": "1.32.0", "numpy": "2.4.6", "python": "3.11.7", "cpu": "X"}
    rows = [{"status": "complete", "versions": a}, {"status": "complete", "versions": {**a, "mujoco": "4.0.0"}},
            {"status": "failed", "versions": None}]
    assert mixed_versions(r["versions"] for r in rows[:2]) == {"mujoco": ["4.0.0", "4.0.1"]}
    warning = version_warning(rows)
    assert warning.startswith("warning: this sweep mixes versions (mujoco: 4.0.0, 4.0.1)")
    assert version_warning(rows[:1]) == ""
    assert "unrecorded" in version_warning([rows[0], {"status": "complete", "versions": None}])
