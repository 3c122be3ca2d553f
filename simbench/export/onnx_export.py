"""Export a trained :class:`ACTPolicy` to one self-contained ONNX file.

The graph is "raw observation -> raw action chunk": uint8 images at the policy's resolution and the
float32 joint state go in, un-normalized joint targets come out, so a board needs nothing but ONNX
Runtime and a resize. Shapes are fixed at batch 1 (what the robot runs), which lets ONNX Runtime
fold more.

We use the TorchScript-based exporter (``dynamo=False``): its node names keep the module path
(``/model/backbone/...``, ``/model/encoder/...``, ``/model/action_head/...``), which is what the
per-component precision recipes select on. It needs the fused MHA fast path off (see
``/work/shared/reference/onnxruntime-notes.md``). Weights are saved inline: one file to ship.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import onnx
import torch

from simbench.policies.act import ACTExportModule, ACTPolicy

OPSET = 17
STATE_INPUT = "observation.state"
OUTPUT = "action"


def image_input(camera: str) -> str:
    return f"observation.images.{camera}"


def model_metadata(
    policy: Any, fps: float, precision: str = "fp32", extra: dict[str, Any] | None = None
) -> dict[str, str]:
    """What a runtime needs to feed and interpret the model, stored in the ONNX metadata_props
    (every architecture; ``extra`` adds the arch's own keys)."""
    cfg = policy.config
    meta = {
        "simbench.arch": policy.name,
        "simbench.precision": precision,
        "simbench.cameras": ",".join(cfg.cameras),
        "simbench.image_size": ",".join(str(v) for v in cfg.image_size),
        "simbench.state_dim": str(cfg.state_dim),
        "simbench.action_dim": str(cfg.action_dim),
        "simbench.chunk_size": str(cfg.chunk_size),
        "simbench.fps": str(fps),
        "simbench.config": json.dumps(cfg.to_dict()),
    }
    meta.update({f"simbench.{k}": str(v) for k, v in (extra or {}).items()})
    return meta


def set_metadata(model: onnx.ModelProto, meta: dict[str, str]) -> None:
    existing = {p.key: p for p in model.metadata_props}
    for key, value in meta.items():
        if key in existing:
            existing[key].value = value
        else:
            model.metadata_props.add(key=key, value=value)


def read_metadata(model: onnx.ModelProto) -> dict[str, str]:
    return {p.key: p.value for p in model.metadata_props}


def save_inline(model: onnx.ModelProto, path: str | Path) -> Path:
    """Save with every tensor inside the .onnx file (no external .onnx.data to lose)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save_model(model, str(path), save_as_external_data=False)
    return path


def torchscript_to_onnx(module: torch.nn.Module, args: tuple[torch.Tensor, ...], path: str | Path,
                        input_names: list[str], output_names: list[str], meta: dict[str, str]) -> Path:
    """Export ``module`` with the TorchScript exporter (node names keep the module path, which the
    precision recipes select on; MHA fast path off; opset ``OPSET``), set ``meta``, check it and save
    it with every tensor inline."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.onnx")
    fastpath = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(False)
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                module, args, str(tmp), input_names=input_names, output_names=output_names, opset_version=OPSET,
                dynamo=False, do_constant_folding=True,
            )
    finally:
        torch.backends.mha.set_fastpath_enabled(fastpath)
    model = onnx.load(str(tmp))
    for extra in tmp.parent.glob(tmp.name + "*"):  # the graph and any external-data file beside it
        extra.unlink()
    set_metadata(model, meta)
    onnx.checker.check_model(model)
    return save_inline(model, path)


def export_onnx(policy: ACTPolicy, path: str | Path, fps: int) -> Path:
    """Write ``policy`` as ONNX (fp32) to ``path``; returns the path."""
    cfg = policy.config
    policy = policy.eval().cpu()
    module = ACTExportModule(policy).eval()
    h, w = cfg.image_size
    args = (torch.zeros(1, cfg.state_dim), *[torch.zeros(1, h, w, 3, dtype=torch.uint8) for _ in cfg.cameras])
    return torchscript_to_onnx(module, args, path, [STATE_INPUT, *[image_input(c) for c in cfg.cameras]], [OUTPUT],
                               model_metadata(policy, fps))

__all__ = [
    "OPSET",
    "OUTPUT",
    "STATE_INPUT",
    "export_onnx",
    "image_input",
    "read_metadata",
    "save_inline",
    "set_metadata",
    "torchscript_to_onnx",
]
