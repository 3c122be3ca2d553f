"""``python -m simbench import-lerobot CHECKPOINT out=DIR [key=value ...]``: a LeRobot ACT checkpoint
as an ONNX chunk policy.

CHECKPOINT is a LeRobot ``pretrained_model/`` folder (or the checkpoint folder holding one): its
config.json, model.safetensors and processor files, read locally (nothing is downloaded). Options:
conf/import_lerobot.yaml. Writes DIR/model.onnx (fp32, robot units in and out), one file per variant
(DIR/model_<variant>.onnx) and DIR/import_report.json; then runs as
``python -m simbench run +policy=onnx policy.model_path=DIR/model.onnx``. Bad input: one line, exit 2,
nothing written; an fp32 export that misses ``max_parity``: exit 1, nothing written. Needs torch
(``pip install -e ".[train]"``), not LeRobot. Pipeline: :mod:`simbench.byo.import_lerobot`.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    if not argv or any(a in ("-h", "--help") for a in argv):
        print(__doc__.strip())
        return 0
    from simbench import bounds
    from simbench.config.compose import compose_dict
    from simbench.errors import ConfigError, bad_value

    positional = [a for a in argv if "=" not in a]
    if len(positional) != 1 or positional[0].startswith("-"):
        raise ConfigError(
            "give one checkpoint folder: python -m simbench import-lerobot CHECKPOINT out=DIR "
            f"[key=value ...] (got {positional or 'none'})"
        )
    cfg = compose_dict("import_lerobot", [a for a in argv if "=" in a])
    try:
        import torch  # noqa: F401
    except ImportError:
        raise ConfigError('import-lerobot needs torch: pip install -e ".[train]"') from None
    from simbench.byo.import_lerobot import ImportSettings, import_checkpoint
    from simbench.errors import ParityFailed
    from simbench.run_dir import check_dir_path

    if not cfg.get("out"):
        raise bad_value("out", cfg.get("out"), "give the folder to write: out=DIR")
    out = Path(str(cfg["out"])).expanduser()
    check_dir_path(out, "out")
    variants = cfg.get("variants") or []
    if not isinstance(variants, list) or not variants or not all(isinstance(v, str) for v in variants):
        raise bad_value("variants", variants, "give a list of conf/export.yaml variant names, e.g. [fp32,int8_dynamic]")
    if "fp32" not in variants:
        variants = ["fp32", *variants]
    max_parity = cfg.get("max_parity")
    if (
        isinstance(max_parity, bool)
        or not isinstance(max_parity, (int, float))
        or not math.isfinite(max_parity)
        or max_parity <= 0
    ):
        raise bad_value("max_parity", max_parity, "must be a finite number > 0")
    fps = cfg.get("fps")
    if fps is not None:
        fps = bounds.rate(fps, "fps")
    names = cfg.get("action_names")
    if names is not None and (not isinstance(names, list) or not all(isinstance(n, str) for n in names)):
        raise bad_value("action_names", names, "give a list of names")
    dataset = cfg.get("dataset")
    if dataset is not None and not Path(str(dataset)).is_dir():
        raise bad_value("dataset", dataset, "must be a LeRobotDataset folder (meta/info.json, data/)")
    if not isinstance(cfg.get("replace"), bool):
        raise bad_value("replace", cfg.get("replace"), "must be true or false")
    settings = ImportSettings(
        out=out,
        variants=tuple(variants),
        max_parity=float(max_parity),
        parity_frames=bounds.integer(cfg.get("parity_frames"), "parity_frames", 1, 10_000),
        seed=bounds.integer(cfg.get("seed"), "seed", 0, 2**31),
        threads=bounds.integer(cfg.get("threads"), "threads", 1, 256),
        fps=fps,
        action_names=tuple(names) if names else None,
        dataset=Path(str(dataset)) if dataset is not None else None,
        calibration_frames=bounds.integer(cfg.get("calibration_frames"), "calibration_frames", 1, 100_000),
        replace=bool(cfg["replace"]),
    )
    try:
        report = import_checkpoint(positional[0], settings)
    except ParityFailed as err:
        print(f"error: {err}; nothing written", file=sys.stderr)
        return 1
    print(
        f"imported {report['source']} (sha256 {report['source_sha256'][:16]}..., {report['parameters']:,} parameters)"
    )
    print(f"  inputs      {', '.join(report['inputs'])}")
    print(f"  chunk       {report['chunk_size']} x {report['action_dim']} actions{fps_text(report['fps'])}")
    print(f"  report      {out / 'import_report.json'}")
    print(
        f"  run         python -m simbench run +policy=onnx policy.model_path={out / 'model.onnx'} env=timing latency=host"
    )
    return 0


def fps_text(fps: float | None) -> str:
    return " (fps unknown: taken at the control rate)" if fps is None else f" at {fps:g} fps"
