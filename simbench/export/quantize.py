"""Precision variants of an fp32 ACT ONNX file, built with ONNX Runtime's quantization tools.

A *recipe* gives every component of the network a precision:

=============  ===================================================================
component      nodes (by the exporter's module-path names)
=============  ===================================================================
stem           ``/model/backbone/stem/...`` (the first conv, 3 input channels)
backbone       ``/model/backbone/...`` and ``/model/feature_proj/...`` (convolutions)
transformer    ``/model/encoder/...``, ``/model/decoder/...``, input projections
head           ``/model/action_head/...`` (the last linear layer)
=============  ===================================================================

Precisions per component:

* ``fp32``: untouched.
* ``int8``: static quantization in QDQ format (QuantizeLinear/DequantizeLinear pairs around
  Conv/MatMul/Gemm), activations calibrated on recorded observations, weights per channel.
  QDQ is the portable format: the i.MX95's Neutron NPU provider consumes it. ``int8_ops`` picks
  which op types of each component get Q/DQ (the shipped recipe keeps attention in float).
* ``int8_dynamic``: dynamic quantization of MatMul/Gemm (activation scales computed at run time).
  Not offered for convolutions: ConvInteger is slow in ONNX Runtime (reference notes).
* ``int4``: weight-only 4-bit MatMuls (``MatMulNBits``, block-wise); only MatMuls with constant
  weights qualify, so Gemm and attention products stay as they are.

A whole-model ``fp16`` recipe (``precision: fp16``) converts every float tensor with
onnxconverter_common, keeping fp32 inputs/outputs.

A component a recipe does not name stays fp32. The shipped int8 recipes leave the stem in fp32: with
3 input channels its int8 kernel cannot fill the int8 dot-product lanes: inside the int8 model it
costs 186 us quantized against 115 us in fp32 with the quantize after it (1 thread,
``benchmarks/profile_ops.py``).

Leaving the head in fp32 is the default in the shipped recipes: the reference notes measured it as the
largest single accuracy win for int8.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import onnx

from simbench.errors import ConfigError, bad_value
from simbench.export.onnx_export import read_metadata, save_inline, set_metadata

COMPONENTS: dict[str, tuple[str, ...]] = {  # first match wins: the stem before the rest of the backbone
    "stem": ("/model/backbone/stem/",),
    "backbone": ("/model/backbone/", "/model/feature_proj/"),
    "transformer": ("/model/encoder/", "/model/decoder/", "/model/latent_proj/", "/model/state_proj/"),
    "head": ("/model/action_head/",),
}
PRECISIONS = ("fp32", "int8", "int8_dynamic", "int4")
WEIGHT_OPS = ("Conv", "MatMul", "Gemm")


@dataclass
class Recipe:
    """One precision variant: whole-model ``precision`` or a per-component map."""

    name: str
    precision: str = "mixed"
    """fp32 | fp16 | mixed (use ``components``)."""
    components: dict[str, str] = field(default_factory=dict)
    per_channel: bool = True
    calibration_method: str = "minmax"
    """minmax | percentile | entropy (static int8 only)."""
    int8_ops: str | list[str] | dict[str, str | list[str]] = "all"
    """Static int8, which ops of a component get Q/DQ: ``all`` quantizes every quantizable op (Add,
    Relu, Softmax, ... too, so consecutive int8 ops need no float round trip: measured 1.8x vs 1.5x
    faster on this model's backbone); ``weights`` only Conv/MatMul/Gemm; a list names the op types.
    A mapping gives each component its own choice (components it omits use ``all``): the small
    transformer wants its MatMuls/Gemms in int8 but not its Softmax, whose QLinearSoftmax kernel is
    slower than the float one (benchmarks/profile_ops.py)."""
    keep_float: list[str] = field(default_factory=list)
    """Node-name prefixes (the exporter's module paths, e.g. ``/model/decoder/``) that stay float
    whatever their component's precision: for locating and sparing the layers quantization hurts."""
    int4_block_size: int = 32
    int4_accuracy_level: int = 4
    """MatMulNBits compute type: 4 = int8 activations (fastest on CPU), 0 = float."""

    def __post_init__(self) -> None:
        if self.precision not in ("fp32", "fp16", "mixed"):
            raise bad_value(f"variants.{self.name}.precision", self.precision, "choose fp32, fp16 or mixed")
        for comp, prec in self.components.items():
            if comp not in COMPONENTS:
                raise bad_value(f"variants.{self.name}.components", comp, f"components are {', '.join(COMPONENTS)}")
            if prec not in PRECISIONS:
                raise bad_value(
                    f"variants.{self.name}.components.{comp}", prec, f"choose one of {', '.join(PRECISIONS)}"
                )
        used = set(self.components.values())
        if {"int8", "int8_dynamic"} <= used:
            raise ConfigError(
                f"variants.{self.name}: int8 (static QDQ) and int8_dynamic cannot be mixed in one model; pick one"
            )
        spec = self.int8_ops if isinstance(self.int8_ops, dict) else {c: self.int8_ops for c in COMPONENTS}
        for comp, ops in spec.items():
            key = f"variants.{self.name}.int8_ops" + (f".{comp}" if isinstance(self.int8_ops, dict) else "")
            if comp not in COMPONENTS:
                raise bad_value(f"variants.{self.name}.int8_ops", comp, f"components are {', '.join(COMPONENTS)}")
            if isinstance(ops, str) and ops not in ("all", "weights"):
                raise bad_value(key, ops, "choose all, weights or a list of ONNX op types")
            if not isinstance(ops, str) and (not ops or not all(isinstance(o, str) and o[:1].isupper() for o in ops)):
                raise bad_value(key, ops, "a list of ONNX op types such as [Conv, MatMul, Gemm]")
        for prefix in self.keep_float:
            if not isinstance(prefix, str) or not prefix.startswith("/model/"):
                raise bad_value(
                    f"variants.{self.name}.keep_float", prefix, "node-name prefixes such as /model/decoder/"
                )
        if self.calibration_method not in ("minmax", "percentile", "entropy"):
            raise bad_value(
                f"variants.{self.name}.calibration_method", self.calibration_method, "minmax, percentile or entropy"
            )

    @classmethod
    def from_dict(cls, name: str, data: dict[str, Any]) -> Recipe:
        allowed = {
            "precision",
            "components",
            "per_channel",
            "calibration_method",
            "int8_ops",
            "keep_float",
            "int4_block_size",
            "int4_accuracy_level",
        }
        unknown = sorted(set(data) - allowed)
        if unknown:
            raise ConfigError(f"variants.{name}.{unknown[0]} is unknown; valid keys: {', '.join(sorted(allowed))}")
        return cls(name=name, **data)

    def int8_op_types(self, component: str) -> tuple[str, ...] | None:
        """Op types of ``component`` that static int8 quantizes (None: every quantizable type)."""
        ops = self.int8_ops.get(component, "all") if isinstance(self.int8_ops, dict) else self.int8_ops
        if ops == "all":
            return None
        return WEIGHT_OPS if ops == "weights" else tuple(ops)

    def describe(self) -> str:
        if self.precision != "mixed":
            return self.precision

        def one(c: str) -> str:
            prec = self.components.get(c, "fp32")
            ops = self.int8_op_types(c)
            return f"{c} {prec}" + (f" ({'/'.join(ops)})" if prec == "int8" and ops is not None else "")

        spared = f"; float: {', '.join(self.keep_float)}" if self.keep_float else ""
        return ", ".join(one(c) for c in COMPONENTS) + spared


def component_of(node_name: str) -> str | None:
    for comp, prefixes in COMPONENTS.items():
        if any(node_name.startswith(p) for p in prefixes):
            return comp
    return None


def nodes_for(
    model: onnx.ModelProto,
    components: set[str],
    op_types: tuple[str, ...] | None,
    keep_float: tuple[str, ...] | list[str] = (),
) -> list[str]:
    """Names of the nodes of ``components`` (of ``op_types``, or of any type when None), less those
    under a ``keep_float`` prefix."""
    return [
        n.name
        for n in model.graph.node
        if (op_types is None or n.op_type in op_types)
        and component_of(n.name) in components
        and not any(n.name.startswith(p) for p in keep_float)
    ]


class FeedReader:
    """A CalibrationDataReader over recorded observations (batch-1 feeds)."""

    def __init__(self, feeds: list[dict[str, np.ndarray]]) -> None:
        self._feeds = feeds
        self._it: Iterator[dict[str, np.ndarray]] = iter(feeds)

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._it, None)

    def rewind(self) -> None:
        self._it = iter(self._feeds)


@contextmanager
def working_directory(path: Path) -> Iterator[None]:
    """Run ONNX Runtime's quantization tools in ``path``: its symbolic shape inference writes
    ``sym_shape_infer_temp.onnx`` and a ``<uuid>.data`` into the working directory and may leave them."""
    previous = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(previous)


def preprocess(fp32_path: Path, out_path: Path, optimize: bool) -> Path:
    """ONNX Runtime's quantization pre-processing (shape inference).

    Graph optimisation (``optimize``) fuses MatMul+Add into Gemm, which makes static QDQ faster, but
    it would hide the MatMuls from dynamic quantization (no dynamic Gemm kernel) and from MatMulNBits,
    so recipes using those skip it. BatchNorm is already folded into the convs by the exporter.
    """
    from onnxruntime.quantization import quant_pre_process

    quant_pre_process(str(fp32_path), str(out_path), skip_optimization=not optimize, skip_symbolic_shape=False)
    return out_path


def build_variant(
    fp32_path: str | Path, out_path: str | Path, recipe: Recipe, calib_feeds: list[dict[str, np.ndarray]]
) -> Path:
    """Write the variant ``recipe`` of the fp32 model at ``fp32_path`` to ``out_path`` (inline weights)."""
    fp32_path, out_path = Path(fp32_path), Path(out_path)
    meta = read_metadata(onnx.load(str(fp32_path), load_external_data=False))
    meta["simbench.precision"] = recipe.name
    meta["simbench.recipe"] = recipe.describe()
    if recipe.precision == "fp32":
        model = onnx.load(str(fp32_path))
    elif recipe.precision == "fp16":
        model = _fp16(onnx.load(str(fp32_path)))
    else:
        model = _mixed(fp32_path, recipe, calib_feeds)
    set_metadata(model, meta)
    return save_inline(model, out_path)


def _fp16(model: onnx.ModelProto) -> onnx.ModelProto:
    from onnxconverter_common import float16

    model = float16.convert_float_to_float16(model, keep_io_types=True)
    # The converter retypes the outputs of the uint8 -> float image Casts to float16 but leaves their
    # 'to' attribute at float, which ONNX Runtime refuses: point those Casts at float16.
    fp16_values = {v.name for v in model.graph.value_info if v.type.tensor_type.elem_type == onnx.TensorProto.FLOAT16}
    for node in model.graph.node:
        if node.op_type == "Cast" and node.output[0] in fp16_values:
            for attr in node.attribute:
                if attr.name == "to" and attr.i == onnx.TensorProto.FLOAT:
                    attr.i = onnx.TensorProto.FLOAT16
    return model


def _mixed(fp32_path: Path, recipe: Recipe, calib_feeds: list[dict[str, np.ndarray]]) -> onnx.ModelProto:
    from onnxruntime.quantization import (
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_dynamic,
        quantize_static,
    )

    by_prec: dict[str, set[str]] = {}
    for comp, prec in recipe.components.items():
        by_prec.setdefault(prec, set()).add(comp)
    fp32_path = Path(fp32_path).resolve()
    with tempfile.TemporaryDirectory() as tmpdir, working_directory(Path(tmpdir)):
        tmp = Path(tmpdir)
        optimize = not ({"int8_dynamic", "int4"} & set(by_prec))
        current = preprocess(fp32_path, tmp / "pre.onnx", optimize)
        if "int8" in by_prec:
            model = onnx.load(str(current))
            nodes = [
                n
                for comp in sorted(by_prec["int8"])
                for n in nodes_for(model, {comp}, recipe.int8_op_types(comp), recipe.keep_float)
            ]
            if not calib_feeds:
                raise ConfigError(f"variant {recipe.name}: static int8 needs calibration observations (a dataset)")
            method = {
                "minmax": CalibrationMethod.MinMax,
                "percentile": CalibrationMethod.Percentile,
                "entropy": CalibrationMethod.Entropy,
            }[recipe.calibration_method]
            out = tmp / "int8.onnx"
            quantize_static(
                str(current),
                str(out),
                FeedReader(calib_feeds),
                quant_format=QuantFormat.QDQ,
                op_types_to_quantize=None,
                nodes_to_quantize=nodes,
                per_channel=recipe.per_channel,
                activation_type=QuantType.QUInt8,
                weight_type=QuantType.QInt8,
                calibrate_method=method,
                extra_options={"CalibTensorRangeSymmetric": False, "WeightSymmetric": True},
            )
            current = out
        if "int8_dynamic" in by_prec:
            model = onnx.load(str(current))
            nodes = nodes_for(model, by_prec["int8_dynamic"], ("MatMul", "Gemm"), recipe.keep_float)
            out = tmp / "dyn.onnx"
            quantize_dynamic(
                str(current),
                str(out),
                op_types_to_quantize=["MatMul", "Gemm"],
                nodes_to_quantize=nodes,
                per_channel=recipe.per_channel,
                weight_type=QuantType.QInt8,
            )
            current = out
        model = onnx.load(str(current))
        if "int4" in by_prec:
            from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer

            include = nodes_for(model, by_prec["int4"], ("MatMul",), recipe.keep_float)
            quant = MatMulNBitsQuantizer(
                model,
                bits=4,
                block_size=recipe.int4_block_size,
                is_symmetric=True,
                accuracy_level=recipe.int4_accuracy_level,
                nodes_to_include=include,
            )
            quant.process()
            model = quant.model.model
        return model


def recipes_from_config(variants: dict[str, dict[str, Any]]) -> list[Recipe]:
    return [Recipe.from_dict(name, dict(spec or {})) for name, spec in variants.items()]


def configured_recipe(name: str) -> Recipe:
    """The variant ``name`` as ``conf/export.yaml`` defines it (for benchmarks that rebuild a shipped
    recipe on other weights or sizes, so they measure what is configured, not a copy of it)."""
    from omegaconf import OmegaConf

    from simbench.paths import CONF_DIR

    variants = OmegaConf.to_container(OmegaConf.load(CONF_DIR / "export.yaml"), resolve=True)["variants"]  # type: ignore[index]
    if name not in variants:
        raise bad_value("variant", name, f"conf/export.yaml defines {', '.join(variants)}")
    return Recipe.from_dict(name, dict(variants[name] or {}))


__all__ = [
    "COMPONENTS",
    "PRECISIONS",
    "FeedReader",
    "Recipe",
    "build_variant",
    "component_of",
    "configured_recipe",
    "recipes_from_config",
]
