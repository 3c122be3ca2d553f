"""Where the time goes inside the shipped ACT, per quantization component, from ONNX Runtime's profiler.

Profiles, on the same random observations and one intra-op thread: the shipped fp32 model as
simbench runs it and as ONNX Runtime's default graph runs it (``fp32_fused``: with
SkipLayerNormFusion, see ``simbench.policies.onnx_model.DISABLED_ORT_OPTIMIZERS``), the shipped ``int8`` recipe
(conf/export.yaml), the same recipe with the stem quantized too, and with
every op quantized (``int8_ops: all``: attention MatMuls and Softmax in int8 as well). The
int8 models are rebuilt here from the shipped fp32 file with random calibration data, which moves
the quantization ranges but not the kernels that run, so the timings are those of the shipped
variants. These are the measurements behind keeping the stem (first conv, 3 input channels) and the
attention products in float.

    python benchmarks/profile_ops.py [--runs 300] [--top 8]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections import Counter
from dataclasses import replace
from pathlib import Path

import numpy as np

from simbench.paths import MODELS_DIR


def profile(path: Path, feeds: list[dict[str, np.ndarray]], runs: int, prefix: str,
            disabled_optimizers: tuple[str, ...]) -> Counter[tuple[str, str]]:
    """Mean kernel time (us per call) by (component, op type); ``disabled_optimizers`` as in ``load_session``."""
    from simbench.export.quantize import component_of
    from simbench.policies.onnx_model import load_session

    session = load_session(path, 1, profile_prefix=prefix, disabled_optimizers=disabled_optimizers)
    for i in range(runs):
        session.run(None, feeds[i % len(feeds)])
    trace = session.end_profiling()
    per: Counter[tuple[str, str]] = Counter()
    for event in json.loads(Path(trace).read_text()):
        if event.get("cat") == "Node" and event["name"].endswith("_kernel_time"):
            per[(component_of(event["name"]) or "other", event["args"]["op_name"])] += event["dur"] / runs
    os.remove(trace)
    return per


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models-dir", default=str(MODELS_DIR / "act"))
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--top", type=int, default=8)
    args = parser.parse_args(argv)

    from simbench.export.parity import random_feeds
    from simbench.export.quantize import build_variant, configured_recipe
    from simbench.policies.act.onnx_runtime import ACTOnnxPolicy
    from simbench.policies.onnx_model import DISABLED_ORT_OPTIMIZERS

    fp32 = Path(args.models_dir) / "act_fp32.onnx"
    if not fp32.is_file():
        print(f"error: no act_fp32.onnx in {args.models_dir}; run 'python -m simbench export' first", file=sys.stderr)
        return 2
    probe = ACTOnnxPolicy(fp32)
    feeds = random_feeds(probe.cameras, probe.image_size, probe.state_dim)
    int8 = configured_recipe("int8")
    int8_stem = replace(int8, name="int8_stem_int8", components={**int8.components, "stem": "int8"})
    int8_all = replace(int8, name="int8_all_ops", int8_ops="all")  # attention and Softmax quantized too
    with tempfile.TemporaryDirectory() as tmp:
        # name -> (model, graph rewrites ORT must skip): simbench's graph, and ORT's default for fp32
        models = {"fp32_fused": (fp32, ()), "fp32": (fp32, DISABLED_ORT_OPTIMIZERS)}
        for recipe in (int8, int8_stem, int8_all):
            models[recipe.name] = (
                build_variant(fp32, Path(tmp) / f"{recipe.name}.onnx", recipe, feeds),
                DISABLED_ORT_OPTIMIZERS,
            )
        for name, (path, disabled) in models.items():
            per = profile(path, feeds, args.runs, str(Path(tmp) / name), disabled)
            stem = sum(v for (comp, _), v in per.items() if comp == "stem")
            print(f"{name:<16} total {sum(per.values()):7.0f} us/call   stem {stem:6.0f} us   by component: "
                  + ", ".join(f"{c} {sum(v for (k, _), v in per.items() if k == c):.0f}"
                              for c in sorted({k for k, _ in per})))
            for (comp, op), us in per.most_common(args.top):
                print(f"    {comp:<12}{op:<26}{us:8.1f} us")
    return 0


if __name__ == "__main__":
    sys.exit(main())
