"""``python -m simbench predict`` and ``run ... latency=predicted``: the must-show commands, as written."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.test_run_cli import run_dir, simbench


def test_predict_act_int8_prints_components_classes_and_total() -> None:
    out = simbench("predict", "+policy=act_int8")
    assert out.returncode == 0, out.stderr
    text = out.stdout
    for needle in ("by component:", "backbone", "transformer", "by op class:", "conv", "matmul", "by unit:", "npu",
                   "total", "act_int8.onnx sha256", "published on the board (the full-size model): ACT optimized 0.32 s"):
        assert needle in text, needle
    total = float(next(line for line in text.splitlines() if line.strip().startswith("total")).split()[1])
    parts = [float(line.split()[1]) for line in text.split("by component:")[1].split("by op class:")[0].splitlines()
             if line.strip()]
    assert abs(sum(parts) - total) < 0.02 * total + 0.01


def test_predict_smolvla_mixed_has_three_components() -> None:
    out = simbench("predict", "+policy=smolvla_mixed")
    assert out.returncode == 0, out.stderr
    components = out.stdout.split("by component:")[1].split("by op class:")[0]
    assert all(c in components for c in ("vision", "prefill", "expert"))
    assert "expert_fp32.onnx" in out.stdout and "vision_int8.onnx" in out.stdout


def test_predict_without_policy_lists_every_variant_beside_its_profile() -> None:
    out = simbench("predict")
    assert out.returncode == 0, out.stderr
    rows = [line for line in out.stdout.splitlines() if line.startswith(("| act_", "| smolvla_"))]
    assert len(rows) == 11 and "assumed" not in out.stdout
    assert sum("| published |" in r for r in rows) == 4 and sum("predicted (" in r for r in rows) == 7


def test_predict_bad_input_is_one_line_and_exit_2() -> None:
    for args, needle in ((["+policy=act_int8", "latency.device=nope"], "latency.device='nope'"),
                         (["+policy=act_int8", "latency.threads=99"], "latency.threads=99"),
                         (["+policy=nope"], "nope"), (["--bogus"], "--bogus")):
        out = simbench("predict", *args)
        assert out.returncode == 2, args
        lines = out.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0], out.stderr


def test_run_with_predicted_latency_names_the_source_and_is_deterministic(tmp_path: Path) -> None:
    metrics = []
    for i in range(2):
        out = simbench("run", "+policy=act_int8", "latency=predicted", "env=timing", "env.duration_s=10",
                       "plots=false", f"results_dir={tmp_path / str(i)}")
        assert out.returncode == 0, out.stderr
        line = next(line for line in out.stdout.splitlines() if "latency from" in line)
        assert "predicted (device model imx95, graph sha256 " in line
        m = json.loads((run_dir(tmp_path / str(i)) / "metrics.json").read_text())
        assert m["latency_source"]["kind"] == "predicted"
        metrics.append({k: v for k, v in m.items() if "wall" not in k and "realtime" not in k and "versions" not in k})
    assert metrics[0] == metrics[1]


def test_run_with_predicted_latency_bad_value_writes_nothing(tmp_path: Path) -> None:
    out = simbench("run", "+policy=act_int8", "latency=predicted", "latency.unit=gpu", "env=timing",
                   f"results_dir={tmp_path / 'r'}")
    assert out.returncode == 2 and "latency.unit='gpu'" in out.stderr and not (tmp_path / "r").exists()
