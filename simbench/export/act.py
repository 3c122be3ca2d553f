"""ACT's exporter: a trained :class:`simbench.policies.act.ACTPolicy` -> one fp32 ONNX file, checked
against torch, and the precision variants of ``conf/export.yaml``'s ``variants``.

Prints, and returns for ``export_report.json``: the largest |ONNX Runtime - torch| action
difference of the fp32 export on held-out recorded frames, and for each variant its size and its
action error against fp32 ONNX on the same frames. Called by :func:`simbench.export.run.export`
(``python -m simbench export``), which stages and publishes the files.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np


def export_act(policy, fps: int, data, cfg: dict, out_dir: Path) -> dict:
    """ACT: export fp32, check parity, build every variant of ``cfg["variants"]``; returns the report dict."""
    from simbench.export.onnx_export import export_onnx
    from simbench.errors import ParityFailed
    from simbench.export.parity import action_error, make_feeds, max_abs_diff, run_onnx, run_torch
    from simbench.export.quantize import build_variant, recipes_from_config

    recipes = recipes_from_config(cfg["variants"] or {})

    rng = np.random.default_rng(int(cfg.get("seed", 0)))
    pool_eval = data.val_frames if len(data.val_frames) else data.train_frames
    eval_idx = np.sort(rng.choice(pool_eval, size=min(int(cfg["eval_frames"]), len(pool_eval)), replace=False))
    calib_idx = np.sort(
        rng.choice(data.train_frames, size=min(int(cfg["calibration_frames"]), len(data.train_frames)), replace=False)
    )
    cams = policy.config.cameras
    eval_feeds = make_feeds(data.state[eval_idx], data.images_of(eval_idx), cams)
    calib_feeds = make_feeds(data.state[calib_idx], data.images_of(calib_idx), cams)
    threads = int(cfg.get("threads", 1))
    prefix = str(cfg.get("prefix") or "act")

    out_dir.mkdir(parents=True, exist_ok=True)
    fp32_path = export_onnx(policy, out_dir / f"{prefix}_fp32.onnx", fps)
    torch_out = run_torch(policy, data.state[eval_idx], data.images_of(eval_idx))
    fp32_out = run_onnx(fp32_path, eval_feeds, threads)
    parity = max_abs_diff(fp32_out, torch_out)
    print(f"fp32 export: max |onnxruntime - torch| = {parity:.3g} over {len(eval_idx)} held-out frames")
    limit = float(cfg.get("max_parity", 1e-3))
    if not parity <= limit:  # NaN fails too
        raise ParityFailed(f"fp32 export parity max |onnxruntime - torch| = {parity} exceeds max_parity={limit:g}")
    report: dict = {"parity_max_abs_diff": parity, "eval_frames": len(eval_idx), "calibration_frames": len(calib_idx),
                    "fps": fps, "variants": {}}
    print(f"{'variant':<14}{'recipe':<52}{'size MB':>8}{'max|d|':>9}{'mean|d|':>9}{'rel sprd':>8}{'build s':>8}")
    for recipe in recipes:
        path = out_dir / f"{prefix}_{recipe.name}.onnx"
        t0 = time.time()
        if recipe.name != "fp32" or recipe.precision != "fp32":
            build_variant(fp32_path, path, recipe, calib_feeds)
        built = time.time() - t0
        err = action_error(run_onnx(path, eval_feeds, threads), fp32_out)
        size = path.stat().st_size / 1e6
        report["variants"][recipe.name] = {"path": str(path), "recipe": recipe.describe(), "size_mb": size,
                                           "error_vs_fp32": err, "build_s": built}
        print(f"{recipe.name:<14}{recipe.describe():<52}{size:>8.2f}{err['max_abs']:>9.4f}{err['mean_abs']:>9.4f}"
              f"{err['rel_spread']:>8.4f}{built:>8.1f}")
    sys.stdout.flush()
    return report


__all__ = ["export_act"]
