"""LeRobot ACT checkpoint -> a self-contained ONNX chunk policy, its parity and precision variants.

``python -m simbench import-lerobot PATH out=DIR`` (:mod:`simbench.cli.import_lerobot`):

1. read the folder (:mod:`simbench.byo.lerobot_checkpoint`) and load its weights strictly into
   LeRobot's ACT (:mod:`simbench.byo.lerobot_act`), with the pre/post-processors' normalization folded
   in: the graph takes what the robot gives and returns actions in robot units;
2. export ``DIR/model.onnx`` (fp32, weights inline, batch 1) with the contract's metadata
   (:mod:`simbench.policies.chunk_contract`; docs/byo-policy.md) and check it against the torch module on
   random robot-side observations (``max_parity``, default 1e-4, else nothing is written);
3. build the precision variants with the export pipeline's recipes (:func:`simbench.export.quantize.build_variant`):
   ``DIR/model_<variant>.onnx``, each with its action error against fp32;
4. write ``DIR/import_report.json``.

Everything is staged beside ``DIR`` and moved in at the end: a failure leaves no half import.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from simbench.errors import bad_value
from simbench.policies import chunk_contract as contract

DEFAULT_VARIANTS = ("fp32", "fp16", "int8_dynamic")
"""Variants built without calibration data; static ``int8`` needs recorded observations (``dataset=``)."""
STATIC_VARIANTS = ("int8", "mixed", "int4")


@dataclass(frozen=True)
class ImportSettings:
    out: Path
    variants: tuple[str, ...] = DEFAULT_VARIANTS
    max_parity: float = 1e-4
    parity_frames: int = 8
    seed: int = 0
    threads: int = 1
    fps: float | None = None
    action_names: tuple[str, ...] | None = None
    dataset: Path | None = None
    calibration_frames: int = 64
    replace: bool = False


def random_observations(module: Any, n: int, seed: int) -> list[dict[str, np.ndarray]]:
    """``n`` robot-side observations: images uniform uint8, state around the preprocessor's statistics."""
    rng = np.random.default_rng(seed)
    feeds = []
    for _ in range(n):
        feed = {}
        for f in module.input_features:
            if f.type == "VISUAL":
                feed[f.key] = rng.integers(0, 256, (1, f.shape[1], f.shape[2], 3), dtype=np.uint8)
            else:
                norm = module.norms[f.key.replace(".", "__")]
                centre, spread = _robot_scale(norm, f.shape[0])
                feed[f.key] = (centre + spread * rng.normal(0, 1, (1, f.shape[0]))).astype(np.float32)
        feeds.append(feed)
    return feeds


def _robot_scale(norm: Any, n: int) -> tuple[np.ndarray, np.ndarray]:
    if norm.mode == "MEAN_STD":
        return norm.a.numpy(), norm.b.numpy()
    if norm.mode != "IDENTITY":
        return (norm.a.numpy() + norm.b.numpy()) / 2, np.abs(norm.b.numpy() - norm.a.numpy()) / 2
    return np.zeros(n, np.float32), np.ones(n, np.float32)


def _export(module: Any, path: Path, meta: dict[str, str]) -> Path:
    """The shipped models' exporter (:func:`simbench.export.onnx_export.torchscript_to_onnx`) on the module's
    own input names, traced on one random observation."""
    import torch

    from simbench.export.onnx_export import torchscript_to_onnx

    feeds = random_observations(module, 1, 0)[0]
    args = tuple(torch.from_numpy(feeds[k]) for k in module.input_keys)
    return torchscript_to_onnx(module, args, path, list(module.input_keys), ["action"], meta)


def _dataset_facts(path: Path) -> tuple[float | None, list[str] | None]:
    """fps and the action's names from a LeRobotDataset's ``meta/info.json``."""
    info_path = path / "meta" / "info.json"
    try:
        info = json.loads(info_path.read_text())
    except (OSError, ValueError) as err:
        raise bad_value("dataset", str(path), f"has no readable meta/info.json ({err})") from None
    names = (info.get("features", {}).get("action", {}) or {}).get("names")
    if isinstance(names, dict):  # LeRobot sometimes nests names: {"motors": [...]}
        names = next(iter(names.values()), None)
    return (
        float(info["fps"]) if info.get("fps") else None,
        [str(n) for n in names] if isinstance(names, list) else None,
    )


def metadata(
    module: Any, ckpt: Any, settings: ImportSettings, action_names: list[str], fps: float | None
) -> dict[str, str]:
    """The contract's keys for an imported LeRobot ACT (docs/byo-policy.md)."""
    cfg = ckpt.config
    inputs = []
    for f in module.input_features:
        if f.type == "VISUAL":
            inputs.append(
                {
                    "name": f.key,
                    "key": f.key,
                    "kind": "image",
                    "shape": [1, f.shape[1], f.shape[2], 3],
                    "dtype": "uint8",
                    "layout": "NHWC",
                }
            )
        else:
            kind = "state" if f.key == "observation.state" else "env_state"
            inputs.append({"name": f.key, "key": f.key, "kind": kind, "shape": [1, f.shape[0]], "dtype": "float32"})
    images = [f for f in module.input_features if f.type == "VISUAL"]
    sizes = {(f.shape[1], f.shape[2]) for f in images}
    state = module.policy.state
    meta = {
        contract.CONTRACT_KEY: contract.CONTRACT_VERSION,
        "simbench.arch": "lerobot_act",
        "simbench.precision": "fp32",
        "simbench.inputs": json.dumps(inputs),
        "simbench.output": "action",
        "simbench.chunk_size": str(int(cfg["chunk_size"])),
        "simbench.action_dim": str(ckpt.action.shape[0]),
        "simbench.action_names": json.dumps(action_names),
        "simbench.state_dim": str(state.shape[0] if state is not None else 0),
        "simbench.cameras": ",".join(f.key[len("observation.images.") :] for f in images),
        "simbench.source": "lerobot",
        "simbench.source_type": ckpt.policy_type,
        "simbench.source_sha256": ckpt.sha256,
        "simbench.source_files": json.dumps(ckpt.files_sha256, sort_keys=True),
        "simbench.normalization": json.dumps(module.modes()),
        "simbench.config": json.dumps(cfg, sort_keys=True),
    }
    if len(sizes) == 1:  # the shipped models' key, for tools that read one size
        meta["simbench.image_size"] = ",".join(map(str, next(iter(sizes))))
    if fps is not None:
        meta["simbench.fps"] = repr(float(fps))
    return meta


def import_checkpoint(path: str | Path, settings: ImportSettings) -> dict[str, Any]:
    """Import, check, build variants and publish to ``settings.out``; returns the report."""
    import torch

    from simbench.byo.lerobot_act import ImportedACT
    from simbench.byo.lerobot_checkpoint import load_checkpoint
    from simbench.errors import ParityFailed
    from simbench.export.parity import action_error, max_abs_diff, run_onnx
    from simbench.export.quantize import build_variant, configured_recipe

    recipes = []
    for name in settings.variants:
        if name in STATIC_VARIANTS and settings.dataset is None:
            raise bad_value(
                "variants",
                name,
                "is static int8 and needs calibration observations: give dataset=PATH "
                "(a LeRobotDataset with the policy's features), or use fp32, fp16, int8_dynamic",
            )
        recipes.append(configured_recipe(name))
    ckpt = load_checkpoint(path)
    torch.set_num_threads(settings.threads)
    module = ImportedACT(ckpt)
    fps, names = settings.fps, list(settings.action_names) if settings.action_names else None
    if settings.dataset is not None:
        ds_fps, ds_names = _dataset_facts(settings.dataset)
        fps = fps if fps is not None else ds_fps
        names = names or ds_names
    action_dim = ckpt.action.shape[0]
    if names is not None and len(names) != action_dim:
        raise bad_value("action_names", names, f"gives {len(names)} names for {action_dim} actions")
    names = names or [f"action_{i}" for i in range(action_dim)]
    meta = metadata(module, ckpt, settings, names, fps)

    out = settings.out
    if out.exists() and any(out.iterdir()) and not settings.replace:
        raise bad_value("out", str(out), "holds files; choose an empty folder or add replace=true")
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    try:
        fp32 = _export(module, staging / "model.onnx", meta)
        contract.read_contract(fp32)  # what the importer writes keeps the contract it documents
        feeds = random_observations(module, settings.parity_frames, settings.seed + 1)
        with torch.no_grad():
            ref = np.concatenate([module(*[torch.from_numpy(f[k]) for k in module.input_keys]).numpy() for f in feeds])
        fp32_out = run_onnx(fp32, feeds, settings.threads)
        parity = max_abs_diff(fp32_out, ref)
        print(f"fp32: max |onnxruntime - torch| = {parity:.3g} over {len(feeds)} random observations")
        if not parity <= settings.max_parity:
            raise ParityFailed(
                f"the fp32 ONNX export differs from LeRobot's ACT by {parity:.3g} > max_parity={settings.max_parity:g}"
            )
        calib = _calibration(settings, module) if any(r.name in STATIC_VARIANTS for r in recipes) else []
        report: dict[str, Any] = {
            "kind": "simbench.import_lerobot",
            "source": str(ckpt.path),
            "source_sha256": ckpt.sha256,
            "policy_type": ckpt.policy_type,
            "inputs": module.input_keys,
            "normalization": module.modes(),
            "chunk_size": int(ckpt.config["chunk_size"]),
            "action_dim": action_dim,
            "fps": fps,
            "parameters": int(sum(p.numel() for p in module.parameters())),
            "parity_max_abs_diff": parity,
            "parity_frames": len(feeds),
            "variants": {},
        }
        print(f"{'variant':<14}{'file':<26}{'size MB':>8}{'max|d|':>10}{'mean|d|':>10}{'build s':>8}")
        for recipe in recipes:
            file = "model.onnx" if recipe.name == "fp32" else f"model_{recipe.name}.onnx"
            t0 = time.time()
            if recipe.name != "fp32":
                with warnings.catch_warnings():  # the fp16 converter warns once per tiny weight it rounds
                    warnings.simplefilter("ignore", UserWarning)
                    build_variant(fp32, staging / file, recipe, calib)
            err = action_error(run_onnx(staging / file, feeds, settings.threads), fp32_out)
            size = (staging / file).stat().st_size / 1e6
            report["variants"][recipe.name] = {
                "file": file,
                "recipe": recipe.describe(),
                "size_mb": size,
                "error_vs_fp32": err,
                "build_s": time.time() - t0,
            }
            print(
                f"{recipe.name:<14}{file:<26}{size:>8.2f}{err['max_abs']:>10.3g}{err['mean_abs']:>10.3g}"
                f"{time.time() - t0:>8.1f}"
            )
        from simbench.atomic_io import write_json

        write_json(staging / "import_report.json", report)
        out.mkdir(parents=True, exist_ok=True)
        for item in sorted(staging.iterdir()):
            os.replace(item, out / item.name)
        return report
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _calibration(settings: ImportSettings, module: Any) -> list[dict[str, np.ndarray]]:
    """Static int8 calibration feeds: the dataset's frames as the robot gave them."""
    from simbench.byo.replay import DatasetFrames

    assert settings.dataset is not None
    frames = DatasetFrames.open(settings.dataset, module.input_features)
    return frames.feeds(settings.calibration_frames, settings.seed)


__all__ = ["DEFAULT_VARIANTS", "ImportSettings", "import_checkpoint", "metadata", "random_observations"]
