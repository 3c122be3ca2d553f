"""``python -m simbench export``: checkpoint -> ONNX fp32 -> parity check -> precision variants -> published folder.

The checkpoint's architecture picks its exporter (``simbench.policies.factory.ARCHS``: ACT's is
:func:`simbench.export.act.export_act`, SmolVLA's :func:`simbench.export.smolvla.export_smolvla`); this
module checks the options, loads the checkpoint and its recorded frames, stages and publishes.

Prints, and writes to ``<out_dir>/export_report.json``: the largest |ONNX Runtime - torch| action
difference of the fp32 export on held-out recorded frames, and for each variant its size and its
action error against fp32 ONNX on the same frames.

Everything is built in a staging directory beside ``out_dir`` and moved there only once the fp32
parity is within ``max_parity``; a failed check (NaN included) writes nothing. An ``out_dir`` that
already holds files is left alone (the export goes to ``out_dir-2``, ``-3``...) unless
``replace=true``: the shipped models are replaced only when asked for.
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from simbench.errors import ConfigError, bad_value


def export(cfg: dict[str, Any]) -> Path:
    """Validate a composed ``conf/export.yaml``, export, check, build the variants and publish them;
    returns the directory written. Raises :class:`simbench.errors.ParityFailed` (nothing written)
    when the fp32 export does not match torch."""
    allowed = {"checkpoint", "dataset", "out_dir", "prefix", "calibration_frames", "eval_frames", "seed", "threads",
               "variants", "smolvla_variants", "frame_stride", "replace", "max_parity", "max_episodes"}
    unknown = sorted(set(cfg) - allowed)
    if unknown:
        raise ConfigError(f"unknown export option {unknown[0]!r}; valid: {', '.join(sorted(allowed))}")
    for key, minimum in (
        ("calibration_frames", 1),
        ("eval_frames", 1),
        ("seed", 0),
        ("threads", 1),
        ("frame_stride", 1),
    ):
        value = cfg.get(key, minimum)
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise bad_value(key, value, f"must be an integer >= {minimum}")
    max_parity = cfg.get("max_parity", 1e-3)
    if (isinstance(max_parity, bool) or not isinstance(max_parity, (int, float)) or not math.isfinite(max_parity)
            or max_parity <= 0):
        raise bad_value("max_parity", max_parity, "must be a finite number > 0 (largest allowed |onnxruntime - torch|)")
    replace = cfg.get("replace", False)
    if not isinstance(replace, bool):
        raise bad_value("replace", replace, "must be true or false")
    from simbench.atomic_io import write_json
    from simbench.export.quantize import recipes_from_config
    from simbench.policies.checkpoint import load_checkpoint
    from simbench.policies.factory import exporter
    from simbench.run_dir import check_dir_path

    # every variant table is checked before the checkpoint is read: a typo fails at once
    act_recipes = recipes_from_config(cfg.get("variants") or {})
    if cfg.get("smolvla_variants") is not None:
        from simbench.export.smolvla import parse_variants

        parse_variants(cfg["smolvla_variants"])
    if cfg.get("out_dir"):
        check_dir_path(Path(str(cfg["out_dir"])), "out_dir")
    policy, ckpt = load_checkpoint(cfg["checkpoint"])
    arch = str(ckpt["arch"])
    if arch == "act" and not act_recipes:
        raise ConfigError("export.variants is empty; name at least fp32")
    out_dir = Path(str(cfg.get("out_dir") or f"outputs/export/{arch}"))
    check_dir_path(out_dir, "out_dir")
    export_fn = exporter(arch)
    from simbench.training.data import load_training_data

    max_episodes = cfg.get("max_episodes")
    if max_episodes is not None and (isinstance(max_episodes, bool) or not isinstance(max_episodes, int)
                                     or max_episodes < 2):
        raise bad_value("max_episodes", max_episodes, "must be an integer >= 2 or null (all)")
    data = load_training_data(cfg["dataset"], policy.config.cameras, policy.config.image_size, seed=int(cfg["seed"]),
                              max_episodes=max_episodes, frame_stride=int(cfg.get("frame_stride", 3)),
                              state_dim=policy.config.state_dim)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.partial-", dir=out_dir.parent))
    try:
        report = export_fn(policy, int(ckpt.get("fps", data.fps)), data, cfg, staging)
        report["checkpoint"] = {
            "path": str(cfg["checkpoint"]),
            "step": ckpt.get("step"),
            "val_loss": ckpt.get("val_loss"),
            "success": ckpt.get("success"),
        }
        return _publish(staging, out_dir, replace, report, write_json)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _publish(staging: Path, out_dir: Path, replace: bool, report: dict, write_json) -> Path:
    """Move the staged files to ``out_dir`` (replace) or to a directory of their own; returns it."""
    from simbench.atomic_io import umask
    from simbench.run_dir import reserve

    if replace or not out_dir.exists() or not any(out_dir.iterdir()):
        final = out_dir
        final.mkdir(parents=True, exist_ok=True)
    else:
        final = reserve(out_dir, "out_dir")
        print(f"note: out_dir={str(out_dir)!r} holds files; writing to {final} (replace=true writes into {out_dir})")
    for variant in report["variants"].values():
        if "path" in variant:
            variant["path"] = str(final / Path(variant["path"]).name)
    write_json(staging / "export_report.json", report)  # atomic: never half a report next to the models
    for item in sorted(staging.iterdir()):
        os.chmod(item, 0o666 & ~umask())
        os.replace(item, final / item.name)
    return final


__all__ = ["export"]
