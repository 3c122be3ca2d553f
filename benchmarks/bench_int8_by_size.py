"""How much faster is static int8 than fp32 in ONNX Runtime, as a function of the ACT's size?

The int8 speed-up of a network is a property of its shapes, not of its trained weights: int8
convolutions and GEMMs run ~2-3x faster than fp32 on CPUs with int8 dot-product instructions,
while the small per-token ops of a tiny transformer (softmax, layer norm, reshapes, Q/DQ pairs)
do not speed up at all. So this benchmark builds ACTs of several sizes with random weights,
exports each to ONNX, applies the shipped ``int8`` recipe (conf/export.yaml, calibrated on random
images), and times both on the same inputs, interleaved call by call, in one run. Sizes: the
default that ``+policy=act`` trains (conf/policy/act.yaml), that ACT with a backbone twice as wide
(the overfitting experiment in docs/2026-11-24-first-model-int8-recipes.md), the shipped ACT
(``+recipe=act_wide``: also 2 blocks per stage), the reference ACT (ResNet-18 widths, dim 512) at
the default image size, and the reference at 240x320.

    python benchmarks/bench_int8_by_size.py [--calls 100] [--threads 1] [--sizes standard|candidates] [--json \
        results/bench_int8_by_size.json]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

REFERENCE = {  # the reference ACT (conf/policy/act.yaml's header comment)
    "backbone_channels": [64, 128, 256, 512], "backbone_blocks_per_stage": 2, "dim_model": 512,
    "dim_feedforward": 3200, "n_encoder_layers": 4, "n_vae_encoder_layers": 4,
}


def sizes(default: dict[str, Any], which: str) -> dict[str, dict[str, Any]]:
    """``standard``: the table in docs/2026-11-25-speed-and-int8-by-size.md; ``candidates``: the
    backbones timed when choosing the shipped one (each against the default and the shipped size, in
    the same run)."""
    from simbench.config.compose import compose_dict as compose_config

    shipped = compose_config("train", ["+policy=act", "+recipe=act_wide"])["policy"]
    if which == "candidates":
        def bb(channels: list[int], blocks: int) -> dict[str, Any]:
            return {**default, "backbone_channels": channels, "backbone_blocks_per_stage": blocks}

        return {
            "default (conf/policy/act.yaml)": default,
            "backbone 32/64/128 x 2": bb([32, 64, 128], 2),
            "backbone 48/96/192 x 2": bb([48, 96, 192], 2),
            "backbone 96/192/384 x 1": bb([96, 192, 384], 1),
            "backbone 64/128/256/512 x 1 (4 stages)": bb([64, 128, 256, 512], 1),
            "shipped (+recipe=act_wide)": shipped,
        }
    return {
        "default (conf/policy/act.yaml)": default,
        "backbone 64/128/256": {**default, "backbone_channels": [64, 128, 256]},
        "shipped (+recipe=act_wide)": shipped,
        "reference widths, shipped images": {**default, **REFERENCE},
        "reference, 240x320 images": {**default, **REFERENCE, "image_size": [240, 320]},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=100)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--sizes", choices=("standard", "candidates"), default="standard")
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)

    import torch

    from simbench.config.build import load_option
    from simbench.export.onnx_export import export_onnx
    from simbench.export.parity import random_feeds
    from simbench.export.quantize import build_variant, configured_recipe
    from simbench.policies.act import ACTConfig, ACTPolicy
    from simbench.policies.onnx_model import load_session

    default = load_option("policy", "act")
    assert default is not None
    int8 = configured_recipe("int8")
    torch.manual_seed(0)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for label, node in sizes(default, args.sizes).items():
            cfg = ACTConfig.from_dict(node)
            policy = ACTPolicy(cfg)
            fp32 = export_onnx(policy, Path(tmp) / "fp32.onnx", fps=30)
            feeds = random_feeds(cfg.cameras, cfg.image_size, cfg.state_dim)
            q = build_variant(fp32, Path(tmp) / "int8.onnx", int8, feeds)
            sessions = {k: load_session(p, args.threads) for k, p in (("fp32", fp32), ("int8", q))}
            times: dict[str, list[float]] = {k: [] for k in sessions}
            for i in range(args.warmup + args.calls):  # interleaved: both see the same machine load
                for k, s in sessions.items():
                    t0 = time.perf_counter()
                    s.run(None, feeds[i % len(feeds)])
                    if i >= args.warmup:
                        times[k].append(time.perf_counter() - t0)
            med = {k: float(np.median(v) * 1e3) for k, v in times.items()}
            row = {"size": label, "params_m": sum(p.numel() for p in policy.parameters()) / 1e6,
                   "fp32_ms": med["fp32"], "int8_ms": med["int8"], "speedup": med["fp32"] / med["int8"],
                   "fp32_mb": fp32.stat().st_size / 1e6, "int8_mb": q.stat().st_size / 1e6}
            rows.append(row)
            print(
                f"{label:<36} {row['params_m']:6.1f} M params  fp32 {row['fp32_ms']:8.2f} ms  int8 "
                f"{row['int8_ms']:8.2f} ms"
                f"  int8 speed-up {row['speedup']:.2f}x  ({row['fp32_mb']:.1f} -> {row['int8_mb']:.1f} MB)",
                flush=True,
            )
    if args.json:
        from simbench.atomic_io import write_json

        write_json(Path(args.json), rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
