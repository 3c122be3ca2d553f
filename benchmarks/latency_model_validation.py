"""The device latency model against published board measurements, leave-one-out.

    python benchmarks/latency_model_validation.py --json results/reference/latency_model_validation.json

Builds each published model's graph at its deployed size from its architecture (random weights,
shapes only: benchmarks/published_models.py), prices it with the device model
(``conf/device/<board>.yaml``) at the measurement's precision, unit and thread count, and prints
predicted against published with the error. ``held_out`` is true for rows whose figure was not
used to set any number in the device files: ACT and SmolVLA (the rows this project's users care
about) and the RK3568 rows other than ResNet-50. Writes a JSON list of
``{"name", "published_ms", "predicted_ms", "held_out"}``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from published_models import build

from simbench.latency.device_model import load_device
from simbench.latency.roofline import GraphPart, predict


@dataclass(frozen=True)
class Row:
    name: str
    model: str
    board: str
    published_ms: float
    precision: str | None
    """None: as exported (fp32); else the precision the float graph is priced at."""
    units: dict[str, str]
    """component -> unit asked for (the NPU keeps only what it supports)."""
    threads: int | None
    held_out: bool
    source: str


CPU, NPU = "cpu", "npu"
ROWS = [
    Row("i.MX95 ACT fp32 (3x 480x640, chunk 100)", "act", "imx95", 2860, None, {"model": CPU}, None, True,
        "NXP + Hugging Face blog, 2026-03-05"),
    Row("i.MX95 ACT optimized (int8 on the NPU)", "act", "imx95", 320, "int8", {"model": NPU}, None, True,
        "same"),
    Row("i.MX95 SmolVLA fp32 (chunk 50, 10 steps)", "smolvla", "imx95", 29100, None,
        {"vision": CPU, "prefill": CPU, "expert": CPU}, None, True, "same"),
    Row("i.MX95 SmolVLA optimized (vision+prefill int8 NPU, expert fp32 CPU)", "smolvla", "imx95", 6150, "int8",
        {"vision": NPU, "prefill": NPU, "expert": CPU}, None, True, "same"),
    Row("i.MX95 NanoSAM ResNet18 encoder 1024 fp32 CPU", "nanosam_encoder", "imx95", 2953, None, {"model": CPU},
        None, False, "EdgeFirstAI/nanosam BENCHMARKS.md"),
    Row("i.MX95 NanoSAM ResNet18 encoder 1024 int8 NPU", "nanosam_encoder", "imx95", 104, "int8", {"model": NPU},
        None, False, "same"),
    Row("i.MX95 MobileNetV2 224 int8 CPU", "mobilenetv2", "imx95", 37.2, "int8", {"model": CPU}, None, False,
        "Toradex community thread 29531"),
    Row("i.MX95 MobileNetV2 224 int8 NPU", "mobilenetv2", "imx95", 3.17, "int8", {"model": NPU}, None, False,
        "same"),
    Row("RK3568 ResNet50 fp16 4 threads", "resnet50", "rk3568", 143.8, "fp16", {"model": CPU}, 4, False,
        "Tencent/ncnn benchmark/README.md"),
    Row("RK3568 ResNet50 fp16 1 thread", "resnet50", "rk3568", 360.3, "fp16", {"model": CPU}, 1, False, "same"),
    Row("RK3568 ResNet50 int8 4 threads", "resnet50", "rk3568", 241.2, "int8", {"model": CPU}, 4, False, "same"),
    Row("RK3568 ResNet18 fp16 4 threads", "resnet18", "rk3568", 61.9, "fp16", {"model": CPU}, 4, True, "same"),
    Row("RK3568 ResNet18 fp16 1 thread", "resnet18", "rk3568", 135.9, "fp16", {"model": CPU}, 1, True, "same"),
    Row("RK3568 MobileNetV2 fp16 4 threads", "mobilenetv2", "rk3568", 31.9, "fp16", {"model": CPU}, 4, True, "same"),
    Row("RK3568 MobileNetV2 fp16 1 thread", "mobilenetv2", "rk3568", 60.3, "fp16", {"model": CPU}, 1, True, "same"),
    Row("RK3568 ResNet18 int8 4 threads", "resnet18", "rk3568", 96.3, "int8", {"model": CPU}, 4, True, "same"),
]


def predicted_ms(row: Row, graphs: dict[str, tuple[Path, int]]) -> float:
    device = load_device(row.board, "board")
    parts = [GraphPart(comp, path, repeat) for comp, (path, repeat) in graphs.items()]
    if row.precision is None:
        return 1000 * predict(parts, list(row.units.items()), device, row.threads).total_s
    total = 0.0
    for part in parts:  # SmolVLA optimized: the expert stays fp32, the others at the row's precision
        precision = None if row.units.get(part.component or "model") == CPU and row.model == "smolvla" else row.precision
        total += predict([part], list(row.units.items()), device, row.threads, precision).total_s
    return 1000 * total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", default=None, help="write the rows here")
    args = parser.parse_args()
    wall0 = time.perf_counter()
    out: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory(prefix="simbench-published-") as tmp:
        built: dict[str, dict[str, tuple[Path, int]]] = {}
        print("| model | published ms | predicted ms | error | held out |\n|---|---|---|---|---|")
        for row in ROWS:
            if row.model not in built:
                built[row.model] = build(row.model, Path(tmp) / row.model)
            pred = predicted_ms(row, built[row.model])
            err = pred / row.published_ms - 1
            print(f"| {row.name} | {row.published_ms:g} | {pred:.1f} | {100 * err:+.0f}% | {'yes' if row.held_out else 'no'} |")
            out.append({"name": row.name, "published_ms": row.published_ms, "predicted_ms": round(pred, 2),
                        "held_out": row.held_out})
    errors = [abs(r["predicted_ms"] / r["published_ms"] - 1) for r in out]  # type: ignore[operator]
    held = [e for e, r in zip(errors, out) if r["held_out"]]
    print(f"median |error|: {100 * statistics.median(errors):.0f}% over all {len(errors)} rows, "
          f"{100 * statistics.median(held):.0f}% over the {len(held)} held-out rows "
          f"({time.perf_counter() - wall0:.0f} s)")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(out, indent=1) + "\n")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
