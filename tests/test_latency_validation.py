"""The validation benchmark's deployed-size graphs: FLOPs against the published architectures' counts."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_resnet18_and_mobilenetv2_count_their_published_flops(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        from published_models import build
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    from simbench.latency.graph_cost import count_graph

    # ResNet-18: 1.82 GMAC at 224; MobileNetV2: 0.30 GMAC (their papers / torchvision's tables)
    for name, gmac in (("resnet18", 1.82), ("mobilenetv2", 0.30)):
        path, _ = build(name, tmp_path)["model"]
        assert count_graph(path).flops / 2e9 == pytest.approx(gmac, rel=0.03), name
        assert path.stat().st_size < 1_000_000  # shapes only: the weights (7-47 MB) are not written


@pytest.mark.slow
def test_validation_benchmark_writes_the_rows(tmp_path: Path) -> None:
    out = tmp_path / "v.json"
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "latency_model_validation.py"), "--json", str(out)],
                          check=False, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = json.loads(out.read_text())
    assert all(set(r) == {"name", "published_ms", "predicted_ms", "held_out"} for r in rows)
    held = {r["name"].split(" (")[0] for r in rows if r["held_out"]}
    assert {"i.MX95 ACT fp32", "i.MX95 SmolVLA fp32"} <= held
