"""The shipped SmolVLA graphs and the benchmark commands that study them (small versions)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

import numpy as np

ROOT = Path(__file__).resolve().parents[2]


def bench(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_shipped_variants_hold_every_component_they_name() -> None:
    from simbench.config.options import load_option
    from simbench.policies.smolvla.onnx_runtime import SmolVLAOnnxPolicy

    for name in ("smolvla_fp32", "smolvla_mixed", "smolvla_int8", "smolvla_expert_int8", "smolvla_expert_int4"):
        policy = SmolVLAOnnxPolicy.from_config(load_option("policy", name) or {})
        assert policy.precision == load_option("policy", name)["component_precision"], name
        assert policy.chunk_size == 50 and policy.num_steps == 10 and policy.cameras == ("top", "gripper", "left")


def test_flow_precision_small(tmp_path: Path) -> None:
    """`benchmarks/flow_precision.py` on 2 observations: every recipe has an error per step for 10, 5
    and 3 steps; fp32 against itself is exactly 0; the 4-bit expert ends further off than the int8 one."""
    out = tmp_path / "f.json"
    assert bench("flow_precision").main(["--episodes", "1", "--frames", "2", "--latency-repeats", "1",
                                         "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert len(report["recipes"]) >= 4 and out.with_suffix(".png").stat().st_size > 0
    for name, entry in report["recipes"].items():
        for n in ("10", "5", "3"):
            errors = entry["steps"][n]
            assert len(errors["velocity_error"]) == len(errors["accumulated_error"]) == int(n), name
            assert all(np.isfinite(errors["velocity_error"])) and min(errors["velocity_error"]) >= 0
    assert report["recipes"]["fp32"]["steps"]["10"]["chunk_error_max"] == 0.0
    chunk = {k: v["steps"]["10"]["chunk_error_mean"] for k, v in report["recipes"].items()}
    assert chunk["expert_int4"] > chunk["expert_int8"] > 0


def test_smolvla_speed_small(tmp_path: Path) -> None:
    out = tmp_path / "s.json"
    assert bench("smolvla_speed").main(["--repeats", "2", "--episodes", "0", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    for name, row in report["per_chunk_ms"].items():
        assert all(row[c] > 0 for c in ("vision", "prefill", "expert", "total")), name
    assert set(report["per_chunk_ms"]) == {"smolvla_fp32", "smolvla_mixed", "smolvla_int8", "smolvla_expert_int8"}
    assert set(report["kv_reuse"]) == {"10", "5", "3"}
