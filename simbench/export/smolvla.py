"""SmolVLA -> three ONNX graphs (vision, prefill, expert), each checked against torch, each built at
the precisions the variants name.

Files: ``<out_dir>/<component>_<precision>.onnx`` (weights inline). A runtime variant
(``conf/policy/smolvla_*.yaml``) picks one file per component, so any per-component mix runs without
re-exporting. Calibration inputs are recorded observations for the vision graph, the fp32 vision
graph's outputs for the prefill, and the (x_t, t, keys/values) of the fp32 Euler path at every
denoising step for the expert (pooled over the steps: one set of ranges serves every step).
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import torch
from numpy.typing import NDArray

from simbench.errors import ConfigError, bad_value
from simbench.export.onnx_export import OPSET, image_input, model_metadata, save_inline, set_metadata
from simbench.policies.smolvla.modeling_smolvla import DenoiseExport, PrefillExport, SmolVLAPolicy, VisionExport
from simbench.policies.smolvla.onnx_runtime import COMPONENTS, INPUTS, OUTPUTS
from simbench.policies.smolvla.tokenizer import encode

PRECISIONS = ("fp32", "fp16", "int8", "int8_dynamic", "int4")


def graph_metadata(policy: SmolVLAPolicy, fps: float, component: str, precision: str) -> dict[str, str]:
    """The shared model metadata plus what the three-graph runtime needs (the same in all three)."""
    cfg = policy.config
    return model_metadata(policy, fps, precision, extra={
        "component": component,
        "num_steps": cfg.num_steps,
        "instruction": cfg.instruction,
        "action_mean": json.dumps([float(v) for v in policy.action_mean.tolist()]),
        "action_std": json.dumps([float(v) for v in policy.action_std.tolist()]),
    })


def export_graphs(policy: SmolVLAPolicy, out_dir: Path, fps: float) -> dict[str, Path]:
    """The three fp32 graphs, batch 1, with the metadata a runtime needs; -> {component: path}."""
    cfg = policy.config
    policy = policy.eval().cpu()
    h, w = cfg.image_size
    images = [torch.zeros(1, h, w, 3, dtype=torch.uint8) for _ in cfg.cameras]
    with torch.no_grad():
        visual = policy.visual_tokens(torch.stack(images, dim=1))
        tokens = torch.tensor([encode(cfg.instruction)])
        kv = policy.prefill(visual, tokens, torch.zeros(1, cfg.state_dim))
    specs: dict[str, tuple[torch.nn.Module, tuple, dict[str, dict[int, str]]]] = {
        "vision": (VisionExport(policy), tuple(images), {}),
        "prefill": (PrefillExport(policy), (visual, tokens, torch.zeros(1, cfg.state_dim)),
                    {INPUTS["prefill"][1]: {1: "text"}, OUTPUTS["prefill"]: {3: "prefix"}}),
        "expert": (DenoiseExport(policy), (torch.zeros(1, cfg.chunk_size, cfg.action_dim), torch.ones(1), kv),
                   {INPUTS["expert"][2]: {3: "prefix"}}),
    }
    input_names = {"vision": [image_input(c) for c in cfg.cameras], **{k: list(INPUTS[k]) for k in ("prefill", "expert")}}
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {}
    for comp, (module, args, axes) in specs.items():
        path = out_dir / f"{comp}_fp32.onnx"
        tmp = path.with_suffix(".tmp.onnx")
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(module.eval(), args, str(tmp), input_names=input_names[comp],
                              output_names=[OUTPUTS[comp]], opset_version=OPSET, dynamo=False,
                              do_constant_folding=True, dynamic_axes=axes or None)
        model = onnx.load(str(tmp))
        tmp.unlink()
        set_metadata(model, graph_metadata(policy, fps, comp, "fp32"))
        onnx.checker.check_model(model)
        paths[comp] = save_inline(model, path)
    return paths


@torch.no_grad()
def torch_path(policy: SmolVLAPolicy, state: NDArray[np.float32], images: NDArray[np.uint8],
               noise: NDArray[np.float32], num_steps: int) -> dict[str, list[NDArray[np.float32]]]:
    """Per observation: visual tokens, keys/values, the velocities and the final chunk of the
    Euler path from ``noise`` (normalized units), in torch: the reference every graph is checked
    against."""
    cfg = policy.config
    out: dict[str, list] = {"visual": [], "kv": [], "v": [], "chunk": []}
    for i in range(len(state)):
        visual = policy.visual_tokens(torch.from_numpy(images[i : i + 1]))
        kv = policy.prefill(visual, torch.tensor([encode(cfg.instruction)]), torch.from_numpy(state[i : i + 1]))
        x = torch.from_numpy(noise[i : i + 1])
        vs = []
        for k in range(num_steps):
            v = policy.expert(x, torch.tensor([1.0 - k / num_steps]), kv)
            vs.append(v.numpy())
            x = x - v / num_steps
        out["visual"].append(visual.numpy())
        out["kv"].append(kv.numpy())
        out["v"].append(np.stack(vs))
        out["chunk"].append(x.numpy())
    return out


def expert_feeds(kv: list[NDArray], noise: NDArray, v: list[NDArray]) -> list[dict[str, NDArray]]:
    """(x_t, t, kv) at every step of each reference path: the expert's calibration inputs."""
    feeds = []
    for i, (kv_i, v_i) in enumerate(zip(kv, v)):
        n = len(v_i)
        x = noise[i : i + 1].astype(np.float32)
        for k in range(n):
            feeds.append({INPUTS["expert"][0]: x, INPUTS["expert"][1]: np.array([1.0 - k / n], np.float32),
                          INPUTS["expert"][2]: kv_i})
            x = (x - v_i[k] / n).astype(np.float32)
    return feeds


def weight_nodes(model: onnx.ModelProto) -> list[str]:
    """Conv/Gemm nodes and MatMuls with a constant operand: what int8 quantizes. Attention's
    activation-by-activation MatMuls and Softmax stay float (QDQ around them makes ONNX Runtime
    pick slow QLinear kernels, as measured on ACT)."""
    consts = {i.name for i in model.graph.initializer}
    consts |= {o for n in model.graph.node if n.op_type == "Constant" for o in n.output}
    return [n.name for n in model.graph.node
            if n.op_type in ("Conv", "Gemm") or (n.op_type == "MatMul" and any(i in consts for i in n.input))]


def build_component(fp32_path: Path, out_path: Path, precision: str, calib: list[dict[str, NDArray]]) -> Path:
    """``fp32_path`` at ``precision`` -> ``out_path`` (inline weights, metadata kept)."""
    from onnxruntime.quantization import (
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quant_pre_process,
        quantize_dynamic,
        quantize_static,
    )

    from simbench.export.onnx_export import read_metadata
    from simbench.export.quantize import FeedReader, _fp16, working_directory

    meta = read_metadata(onnx.load(str(fp32_path), load_external_data=False))
    meta["simbench.precision"] = precision
    if precision == "fp32":
        if Path(out_path).resolve() != Path(fp32_path).resolve():
            shutil.copyfile(fp32_path, out_path)
        return out_path
    if precision == "fp16":
        model = _fp16(onnx.load(str(fp32_path)))
    else:
        fp32_path = Path(fp32_path).resolve()
        with tempfile.TemporaryDirectory() as tmpdir, working_directory(Path(tmpdir)):
            tmp = Path(tmpdir)
            pre = tmp / "pre.onnx"
            # ONNX shape inference only: the symbolic pass cannot follow the dynamic text/prefix axes
            quant_pre_process(str(fp32_path), str(pre), skip_optimization=precision != "int8", skip_symbolic_shape=True)
            if precision == "int8":
                quantize_static(str(pre), str(tmp / "q.onnx"), FeedReader(calib), quant_format=QuantFormat.QDQ,
                                nodes_to_quantize=weight_nodes(onnx.load(str(pre))), per_channel=True,
                                activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                                calibrate_method=CalibrationMethod.MinMax,
                                extra_options={"CalibTensorRangeSymmetric": False, "WeightSymmetric": True})
                model = onnx.load(str(tmp / "q.onnx"))
            elif precision == "int8_dynamic":
                quantize_dynamic(str(pre), str(tmp / "q.onnx"), op_types_to_quantize=["MatMul", "Gemm"],
                                 nodes_to_quantize=weight_nodes(onnx.load(str(pre))), per_channel=True,
                                 weight_type=QuantType.QInt8)
                model = onnx.load(str(tmp / "q.onnx"))
            elif precision == "int4":
                from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer

                model = onnx.load(str(pre))
                quant = MatMulNBitsQuantizer(model, bits=4, block_size=32, is_symmetric=True, accuracy_level=4,
                                             nodes_to_include=[n for n in weight_nodes(model) if "MatMul" in n])
                quant.process()
                model = quant.model.model
            else:
                raise bad_value("precision", precision, f"choose one of {', '.join(PRECISIONS)}")
    set_metadata(model, meta)
    return save_inline(model, out_path)


def parse_variants(node: dict[str, Any] | None) -> dict[str, dict[str, str]]:
    """``smolvla_variants`` -> {variant: {component: precision}} (unnamed components fp32)."""
    variants: dict[str, dict[str, str]] = {}
    for name, spec in (node or {}).items():
        comps = dict(spec or {})
        for comp, prec in comps.items():
            if comp not in COMPONENTS:
                raise bad_value(f"smolvla_variants.{name}", comp, f"components are {', '.join(COMPONENTS)}")
            if prec not in PRECISIONS:
                raise bad_value(f"smolvla_variants.{name}.{comp}", prec, f"choose one of {', '.join(PRECISIONS)}")
        variants[name] = {c: comps.get(c, "fp32") for c in COMPONENTS}
    if not variants:
        raise ConfigError("export.smolvla_variants is empty; name at least fp32")
    return variants


def export_smolvla(policy: SmolVLAPolicy, fps: float, data: Any, cfg: dict[str, Any], out_dir: Path) -> dict[str, Any]:
    """fp32 graphs -> parity against torch on held-out frames -> every component at every precision
    the variants use -> per-variant chunk error against fp32. Returns the report."""
    from simbench.policies.smolvla.onnx_runtime import SmolVLAOnnxPolicy

    variants = parse_variants(cfg.get("smolvla_variants"))
    pc = policy.config
    rng = np.random.default_rng(int(cfg.get("seed", 0)))
    pool = data.val_frames if len(data.val_frames) else data.train_frames
    eval_idx = np.sort(rng.choice(pool, size=min(int(cfg["eval_frames"]), len(pool)), replace=False))
    n_cal = min(int(cfg["calibration_frames"]), len(data.train_frames))
    calib_idx = np.sort(rng.choice(data.train_frames, size=n_cal, replace=False))
    paths = export_graphs(policy, out_dir, fps)
    threads = int(cfg.get("threads", 1))

    def path_of(idx: NDArray[np.int64], scale: float) -> tuple[NDArray, NDArray, dict]:
        state, images = data.state[idx].astype(np.float32), data.images_of(idx)
        noise = (scale * rng.standard_normal((len(idx), pc.chunk_size, pc.action_dim))).astype(np.float32)
        return state, images, torch_path(policy, state, images, noise, pc.num_steps) | {"noise": noise}

    # parity on unit noise (the graphs' general inputs); calibration and errors on the paths the
    # runtime takes (its noise_scale: 0 starts every path at the noise's mean)
    e_state, e_images, ref = path_of(eval_idx, 1.0)
    fp32 = SmolVLAOnnxPolicy.from_paths(paths, threads=threads)
    onnx_out = [fp32.trace(e_state[i : i + 1], e_images[i : i + 1], ref["noise"][i : i + 1]) for i in range(len(eval_idx))]
    parity = {
        "vision": max(float(np.abs(o["visual"] - r).max()) for o, r in zip(onnx_out, ref["visual"])),
        "prefill": max(float(np.abs(o["kv"] - r).max()) for o, r in zip(onnx_out, ref["kv"])),
        "expert": max(float(np.abs(o["v"] - r).max()) for o, r in zip(onnx_out, ref["v"])),
        "chunk": max(float(np.abs(o["chunk_normalized"] - r).max()) for o, r in zip(onnx_out, ref["chunk"])),
    }
    print("fp32 export parity, max |onnxruntime - torch| over "
          f"{len(eval_idx)} held-out frames: " + ", ".join(f"{k} {v:.2g}" for k, v in parity.items()))
    limit = float(cfg.get("max_parity", 1e-3))
    if not all(v <= limit for v in parity.values()):
        from simbench.errors import ParityFailed

        raise ParityFailed(f"fp32 export parity {parity} exceeds max_parity={limit:g}")

    c_state, c_images, cal = path_of(calib_idx, pc.noise_scale)
    calib = {
        "vision": [{image_input(c): c_images[i : i + 1, j] for j, c in enumerate(pc.cameras)} for i in range(n_cal)],
        "prefill": [{INPUTS["prefill"][0]: cal["visual"][i], INPUTS["prefill"][1]: np.array([encode(pc.instruction)]),
                     INPUTS["prefill"][2]: c_state[i : i + 1]} for i in range(n_cal)],
        "expert": expert_feeds(cal["kv"], cal["noise"], cal["v"]),
    }
    built: dict[str, float] = {}
    for comp in COMPONENTS:
        for prec in sorted({v[comp] for v in variants.values()}):
            t0 = time.time()
            build_component(paths[comp], out_dir / f"{comp}_{prec}.onnx", prec, calib[comp])
            built[f"{comp}_{prec}"] = time.time() - t0
    report: dict[str, Any] = {"arch": "smolvla", "parity_max_abs_diff": parity, "eval_frames": len(eval_idx),
                              "calibration_frames": n_cal, "fps": fps, "build_s": built, "variants": {}}
    deployed = (pc.noise_scale * rng.standard_normal(ref["noise"].shape)).astype(np.float32)
    ref_chunks = np.concatenate([fp32.trace(e_state[i : i + 1], e_images[i : i + 1], deployed[i : i + 1])["chunk"]
                                 for i in range(len(eval_idx))])
    print(f"{'variant':<16}{'vision':<8}{'prefill':<8}{'expert':<8}{'MB':>6}{'max|d|':>9}{'mean|d|':>9}")
    for name, comps in variants.items():
        runtime = SmolVLAOnnxPolicy.from_paths({c: out_dir / f"{c}_{p}.onnx" for c, p in comps.items()}, threads)
        chunks = np.concatenate([runtime.trace(e_state[i : i + 1], e_images[i : i + 1], deployed[i : i + 1])["chunk"]
                                 for i in range(len(eval_idx))])
        d = np.abs(chunks.astype(np.float64) - ref_chunks)
        size = sum((out_dir / f"{c}_{p}.onnx").stat().st_size for c, p in comps.items()) / 1e6
        report["variants"][name] = {"components": comps, "size_mb": size,
                                    "error_vs_fp32": {"max_abs": float(d.max()), "mean_abs": float(d.mean())}}
        print(f"{name:<16}{comps['vision']:<8}{comps['prefill']:<8}{comps['expert']:<8}{size:>6.2f}"
              f"{d.max():>9.4f}{d.mean():>9.4f}")
    return report


__all__ = ["PRECISIONS", "build_component", "export_graphs", "export_smolvla", "parse_variants", "torch_path", "weight_nodes"]
