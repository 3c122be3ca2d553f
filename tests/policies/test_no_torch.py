"""The ONNX inference path (what a board runs) must work where torch is not installed.

``pip install -e .`` installs no torch (it is in the ``train`` extra). Each test runs a fresh
interpreter in which ``import torch`` fails, as it would in such an environment.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

# Setting sys.modules["torch"] = None makes every later `import torch` raise ImportError.
BLOCK_TORCH = "import sys; sys.modules['torch'] = None\n"


def _python(code: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", BLOCK_TORCH + code], capture_output=True, text=True, timeout=300,
                          cwd=cwd)


def test_onnx_policy_predicts_without_torch() -> None:
    code = """
import numpy as np
from simbench.policies.act.onnx_runtime import ACTOnnxPolicy
from simbench.policies.request import PolicyRequest
p = ACTOnnxPolicy("act/act_int8.onnx")
images = {f"observation.images.{c}": np.zeros((480, 640, 3), np.uint8) for c in p.cameras}
obs = {"observation.state": np.zeros(6), **images}
chunk = p.predict_chunk(PolicyRequest(obs))
print(chunk.shape, bool(np.all(np.isfinite(chunk))), sys.modules.get("torch"))
"""
    out = _python(code, Path(__file__).resolve().parents[2])
    assert out.returncode == 0, out.stderr
    assert out.stdout.split("\n")[0] == "(100, 6) True None"


def test_scene_run_of_an_onnx_policy_without_torch(tmp_path: Path) -> None:
    code = f"""
from simbench.__main__ import main
rc = main(["run", "+policy=act_int8", "episodes=1", "env.time_limit_s=3", "plots=false", "progress=false",
           "results_dir={tmp_path}"])
print("torch loaded:", sys.modules.get("torch") is not None)
sys.exit(rc)
"""
    out = _python(code, Path(__file__).resolve().parents[2])
    assert out.returncode == 0, out.stderr
    assert "torch loaded: False" in out.stdout
    (run,) = (tmp_path / "runs").iterdir()
    assert json.loads((run / "status.json").read_text())["status"] == "complete"
    assert json.loads((run / "metrics.json").read_text())["policy"] == "act_int8"


def test_smolvla_three_graphs_run_without_torch(tmp_path: Path) -> None:
    code = f"""
from simbench.__main__ import main
rc = main(["run", "+policy=smolvla_mixed", "episodes=1", "env.time_limit_s=3", "latency=constant",
           "latency.value=0.05", "plots=false", "progress=false", "results_dir={tmp_path}"])
print("torch loaded:", sys.modules.get("torch") is not None)
sys.exit(rc)
"""
    out = _python(code, Path(__file__).resolve().parents[2])
    assert out.returncode == 0, out.stderr
    assert "torch loaded: False" in out.stdout
    (run,) = (tmp_path / "runs").iterdir()
    assert json.loads((run / "metrics.json").read_text())["inference_count"] > 0


def test_torch_names_still_import_lazily_for_training() -> None:
    """``from simbench.policies.act import ACTPolicy`` keeps working where torch is installed."""
    from simbench.policies.act import ACTConfig, ACTPolicy

    from simbench.training.synthetic import tiny_config

    assert ACTPolicy(tiny_config()).config.chunk_size == tiny_config().chunk_size == 8
    assert ACTConfig is type(tiny_config())
