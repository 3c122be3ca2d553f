"""FLOPs and bytes per node of an ONNX graph, by operator class and precision (``latency=predicted``).

Shapes come from ONNX Runtime's symbolic shape inference (it knows the contrib ops the shipped
variants use: ``MatMulNBits``, ``QLinear*``); FLOPs and bytes come from the formulas here, one per
operator family. onnx-tool 1.0.1 was the maintained counter to use, but it raises
``NotImplementedError`` on ``MatMulNBits`` (every int4 variant), so the counts are simbench's own
and checked against hand-computed cases in the tests (and against onnx-tool's MACs on
``act_fp32.onnx``: docs/2026-12-06-device-latency-model.md).

What ONNX Runtime does at session start is mirrored, so the count is what runs per inference:
constant sub-graphs (weights' DequantizeLinear, shape arithmetic) cost nothing, and an activation or
BatchNormalization right after a Conv/MatMul/Gemm, or a bias Add after a MatMul, is fused into it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import onnx
from onnx import TensorProto

from simbench.errors import ConfigError, bad_value
from simbench.hashing import file_sha256

OP_CLASSES = ("conv", "matmul", "attention", "elementwise", "normalization", "data_movement")
"""What a device file gives a throughput for: convolutions; matrix products with a weight operand
(MatMul, Gemm and their int8/int4 forms); attention (products of two activations, Softmax);
elementwise and pooling; normalization; data movement (Transpose, Concat, Gather, Slice...)."""
PRECISIONS = ("fp32", "fp16", "int8", "int4")

_CONV = {"Conv", "ConvInteger", "QLinearConv", "ConvTranspose"}
_MATMUL = {"MatMul", "Gemm", "MatMulInteger", "QLinearMatMul", "MatMulNBits", "FusedMatMul", "QGemm"}
_NORM = {"LayerNormalization", "BatchNormalization", "InstanceNormalization", "GroupNormalization",
         "SimplifiedLayerNormalization", "SkipLayerNormalization", "LpNormalization"}
_FREE = {"Reshape", "Squeeze", "Unsqueeze", "Flatten", "Identity", "Shape", "Constant", "ConstantOfShape",
         "Size", "Dropout"}
"""Metadata-only ops: ONNX Runtime reshapes in place and folds shapes; no data moves."""
_MOVE = {"Transpose", "Concat", "Slice", "Gather", "GatherElements", "GatherND", "Expand", "Tile", "Split",
         "Pad", "Resize", "DepthToSpace", "SpaceToDepth", "Upsample", "ScatterND", "Where", "Range", "Trilu"}
_TRANSCENDENTAL = {"Exp", "Log", "Tanh", "Sigmoid", "Erf", "Gelu", "FastGelu", "Sin", "Cos", "Pow", "Sqrt",
                   "Reciprocal", "HardSigmoid", "HardSwish", "Softplus", "Mish", "QuickGelu", "BiasGelu"}
_FUSABLE_AFTER = {"Relu", "Clip", "LeakyRelu", "Sigmoid", "HardSigmoid", "HardSwish", "BatchNormalization", "Tanh"}
_QUANT = {"QuantizeLinear", "DequantizeLinear", "DynamicQuantizeLinear"}
_FLOPS_PER_ELEMENT = {"normalization": 8.0, "attention": 5.0}  # Softmax: max, sub, exp, sum, div
_ELEMENT_SIZE = {TensorProto.FLOAT: 4, TensorProto.FLOAT16: 2, TensorProto.BFLOAT16: 2, TensorProto.DOUBLE: 8,
                 TensorProto.INT8: 1, TensorProto.UINT8: 1, TensorProto.INT4: 0.5, TensorProto.UINT4: 0.5,
                 TensorProto.INT16: 2, TensorProto.UINT16: 2, TensorProto.INT32: 4, TensorProto.INT64: 8,
                 TensorProto.BOOL: 1}
_PRECISION_SIZE = {"fp32": 4.0, "fp16": 2.0, "int8": 1.0, "int4": 0.5}


@dataclass(frozen=True)
class NodeCost:
    """What one node of the graph costs per inference."""

    name: str
    op_type: str
    op_class: str
    precision: str
    flops: float
    """Floating-point (or integer) operations; a multiply-accumulate is two."""
    bytes: float
    """Bytes read and written: inputs (weights included) and outputs."""
    fallback_key: str
    """What a device's NPU fallback list matches: the op type, ``MatMul@attention`` for an
    activation-by-activation product."""
    inputs: tuple[tuple[str, float], ...] = ()
    """Activation inputs (not weights) and their bytes: what crosses when the producer ran on another unit."""
    outputs: tuple[str, ...] = ()


@dataclass(frozen=True)
class GraphCost:
    """A graph's nodes with their costs, and the file they came from."""

    path: str
    sha256: str
    nodes: tuple[NodeCost, ...]

    @property
    def flops(self) -> float:
        return sum(n.flops for n in self.nodes)


def _fix_dims(model: onnx.ModelProto, dims: Mapping[str, int], path: str) -> None:
    """Give every symbolic input dimension its value from ``dims``; a name missing there is an error."""
    for value in model.graph.input:
        for dim in value.type.tensor_type.shape.dim:
            if dim.dim_param:
                if dim.dim_param not in dims:
                    raise bad_value(f"graph {Path(path).name} input {value.name} dimension", dim.dim_param,
                                    f"needs a value; known: {', '.join(sorted(dims)) or 'none'}")
                dim.dim_value = int(dims[dim.dim_param])


def _infer(model: onnx.ModelProto, path: str) -> onnx.ModelProto:
    """Shapes of every tensor: ONNX Runtime's symbolic inference (it knows the contrib ops), after
    onnx's own inference with data propagation (it folds exporters' Shape->Gather->Concat chains);
    when ORT's pass fails, onnx's result alone, if it typed every node output."""
    from onnxruntime.tools.symbolic_shape_infer import SymbolicShapeInference

    try:
        model = onnx.shape_inference.infer_shapes(model, data_prop=True)
    except Exception:  # noqa: BLE001, S110 - contrib ops onnx does not know: ORT's pass below still types them
        pass
    try:
        out = SymbolicShapeInference.infer_shapes(model, auto_merge=True)
        if out is not None:
            return out
        err: Exception | None = None
    except Exception as caught:  # noqa: BLE001 - any failure is reported as the user's graph, in one line
        err = caught
    typed = {v.name for v in [*model.graph.value_info, *model.graph.output]}
    if all(o in typed for n in model.graph.node for o in n.output if o and n.op_type != "Constant"):
        return model
    why = f" ({type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''})" if err else ""
    raise ConfigError(f"graph {path}: shape inference failed{why}")


def _shapes(model: onnx.ModelProto) -> dict[str, tuple[tuple[int, ...], int]]:
    """tensor name -> (shape, element type) for every typed value, initializer and graph input."""
    out: dict[str, tuple[tuple[int, ...], int]] = {}
    for init in model.graph.initializer:
        out[init.name] = (tuple(int(d) for d in init.dims), init.data_type)
    for value in [*model.graph.input, *model.graph.value_info, *model.graph.output]:
        tt = value.type.tensor_type
        if not tt.HasField("shape"):
            continue
        shape = tuple(int(d.dim_value) if d.HasField("dim_value") else -1 for d in tt.shape.dim)
        out.setdefault(value.name, (shape, tt.elem_type))
    for node in model.graph.node:  # Constant nodes: their attribute tensor
        if node.op_type == "Constant":
            for attr in node.attribute:
                if attr.type == onnx.AttributeProto.TENSOR:
                    out[node.output[0]] = (tuple(int(d) for d in attr.t.dims), attr.t.data_type)
    return out


def _numel(shape: Iterable[int]) -> int:
    return int(math.prod(max(d, 1) for d in shape))


def _attr(node: onnx.NodeProto, name: str, default: Any) -> Any:
    for a in node.attribute:
        if a.name == name:
            return onnx.helper.get_attribute_value(a)
    return default


class _Graph:
    """The typed graph and the facts the per-node formulas need about each tensor."""

    def __init__(self, model: onnx.ModelProto) -> None:
        self.model = model
        self.shapes = _shapes(model)
        self.initializers = {i.name for i in model.graph.initializer}
        self.producer = {o: n for n in model.graph.node for o in n.output}
        self.consumers: dict[str, list[onnx.NodeProto]] = {}
        for n in model.graph.node:
            for i in n.input:
                self.consumers.setdefault(i, []).append(n)
        self.constant = self._constants()
        self.skipped: set[str] = set()
        """Names of nodes that cost nothing per inference (free, folded or fused)."""

    def resolve(self, tensor: str) -> str:
        """The tensor a skipped node (a reshape, a fused activation, a Q/DQ pair) passes ``tensor``
        through from: where the data really came from, for transfers between units."""
        for _ in range(10_000):
            src = self.producer.get(tensor)
            if src is None or src.name not in self.skipped:
                return tensor
            ins = [i for i in src.input if i and not self.is_weight(i)]
            if not ins:
                return tensor
            tensor = ins[0]
        return tensor

    def _constants(self) -> set[str]:
        """Tensors computable at session start: initializers, Constant outputs, and anything computed
        only from them or from shapes (ONNX Runtime folds these once)."""
        const = set(self.initializers)
        for n in self.model.graph.node:  # topological order
            folds = n.op_type in ("Constant", "Shape", "Size") or all(i in const for i in n.input if i)
            if folds and n.op_type != "DynamicQuantizeLinear":
                const.update(n.output)
        return const

    def shape(self, name: str) -> tuple[int, ...]:
        if name not in self.shapes:
            return ()
        return self.shapes[name][0]

    def nbytes(self, name: str, precision: str | None = None) -> float:
        """Bytes of a tensor as stored; a weight behind a DequantizeLinear counts at its stored size,
        and ``precision`` (a what-if) rescales a float tensor to that precision's element size."""
        src = self.producer.get(name)
        if src is not None and src.op_type == "DequantizeLinear" and src.input[0] in self.initializers:
            name = src.input[0]
        if name not in self.shapes:
            return 0.0
        shape, dtype = self.shapes[name]
        size = _ELEMENT_SIZE.get(dtype, 4)
        if precision is not None and dtype in (TensorProto.FLOAT, TensorProto.FLOAT16):
            size = _PRECISION_SIZE[precision] if name in self.initializers or precision != "int4" else 1.0
        return float(_numel(shape) * size)

    def is_weight(self, name: str) -> bool:
        return name in self.constant

    def stored_precision(self, node: onnx.NodeProto) -> str:
        """The precision a node computes in, as the file says: int4/int8 for quantized forms (QDQ
        inputs, integer or n-bit ops), else its first float input's type."""
        if node.op_type == "MatMulNBits":
            return "int4" if int(_attr(node, "bits", 4)) <= 4 else "int8"
        if node.op_type in ("MatMulInteger", "ConvInteger", "QLinearConv", "QLinearMatMul", "QGemm"):
            return "int8"
        bits = []
        for i in node.input:
            src = self.producer.get(i)
            if src is not None and src.op_type == "DequantizeLinear" and src.input[0] in self.shapes:
                bits.append(_ELEMENT_SIZE.get(self.shapes[src.input[0]][1], 1))
        if bits:
            return "int4" if min(bits) < 1 else "int8"
        for i in node.input:
            if i in self.shapes and self.shapes[i][1] == TensorProto.FLOAT16:
                return "fp16"
        return "fp32"


def _matmul_flops(g: _Graph, node: onnx.NodeProto) -> float:
    out = g.shape(node.output[0])
    if node.op_type == "MatMulNBits":
        k = int(_attr(node, "K", 0))
    elif node.op_type in ("QLinearMatMul",):
        k = g.shape(node.input[0])[-1] if g.shape(node.input[0]) else 0
    else:
        a = g.shape(node.input[0])
        k = (a[0] if _attr(node, "transA", 0) else a[-1]) if a else 0
    return 2.0 * _numel(out) * max(k, 0)


def _conv_flops(g: _Graph, node: onnx.NodeProto) -> float:
    w_in = node.input[3] if node.op_type == "QLinearConv" else node.input[1]
    w = g.shape(w_in)
    if len(w) < 3:
        return 0.0
    if node.op_type == "ConvTranspose":  # each input pixel scatters into k x k outputs of Cout/group channels
        return 2.0 * _numel(g.shape(node.input[0])) * w[1] * _numel(w[2:])
    return 2.0 * _numel(g.shape(node.output[0])) * w[1] * _numel(w[2:])  # w[1] is Cin / group


def _classify(g: _Graph, node: onnx.NodeProto) -> str:
    op = node.op_type
    if op in _CONV:
        return "conv"
    if op in _MATMUL:
        operands = [i for i in node.input[:2] if i]
        if op in ("MatMul", "MatMulInteger", "QLinearMatMul", "FusedMatMul") and not any(g.is_weight(i) for i in operands):
            return "attention"
        return "matmul"
    if op in ("Softmax", "LogSoftmax", "Attention", "MultiHeadAttention", "GroupQueryAttention"):
        return "attention"
    if op in _NORM:
        return "normalization"
    if op in _MOVE:
        return "data_movement"
    return "elementwise"


def _fused(g: _Graph, node: onnx.NodeProto) -> bool:
    """An activation/BatchNorm right after a Conv/MatMul/Gemm, or a bias Add with a constant operand
    after a MatMul, is part of that node's kernel after ONNX Runtime's fusions."""
    src = g.producer.get(node.input[0]) if node.input else None
    if src is None or len(g.consumers.get(node.input[0], [])) != 1:
        return False
    if node.op_type in _FUSABLE_AFTER and src.op_type in (_CONV | _MATMUL):
        return True
    return node.op_type == "Add" and src.op_type in _MATMUL and any(g.is_weight(i) for i in node.input[1:])


def _node_cost(g: _Graph, node: onnx.NodeProto, as_precision: str | None) -> NodeCost | None:
    op = node.op_type
    if op in _FREE or all(o in g.constant for o in node.output if o):
        return None
    if op in ("QuantizeLinear", "DequantizeLinear"):
        return None  # weights': folded; activations': fused into the quantized kernel (QLinear*, NPU)
    if _fused(g, node):
        return None
    op_class = _classify(g, node)
    stored = g.stored_precision(node)
    precision = stored
    if as_precision is not None and stored in ("fp32", "fp16"):
        # a quantized what-if: int4 weights only in the products, 8-bit activations everywhere else
        compute = op_class in ("conv", "matmul")
        precision = as_precision if compute or as_precision not in ("int4",) else "int8"
    scale = None if as_precision is None or stored not in ("fp32", "fp16") else as_precision
    out_bytes = sum(g.nbytes(o, scale) for o in node.output if o)
    in_bytes = sum(g.nbytes(i, scale) for i in node.input if i and not (g.is_weight(i) and op_class in
                                                                       ("elementwise", "data_movement")))
    out_elems = sum(_numel(g.shape(o)) for o in node.output if o and g.shape(o))
    if op_class == "conv":
        flops = _conv_flops(g, node)
    elif op_class in ("matmul", "attention") and op in _MATMUL:
        flops = _matmul_flops(g, node)
    elif op_class == "data_movement":
        flops = 0.0
    elif op_class in _FLOPS_PER_ELEMENT:
        flops = _FLOPS_PER_ELEMENT[op_class] * out_elems
    else:
        flops = (8.0 if op in _TRANSCENDENTAL else 1.0) * max(out_elems, _numel(g.shape(node.input[0])) if node.input
                                                                 and g.shape(node.input[0]) else 0)
    fallback_key = f"{op}@attention" if op_class == "attention" and op in _MATMUL else op
    activations = tuple((g.resolve(i), g.nbytes(i, scale)) for i in node.input if i and not g.is_weight(i))
    return NodeCost(node.name, op, op_class, precision, float(flops),
                    float(in_bytes + out_bytes), fallback_key, activations, tuple(o for o in node.output if o))


def load_graph(path: str | Path) -> onnx.ModelProto:
    """The graph without its external weight data (only shapes are needed)."""
    path = Path(path)
    if not path.is_file():
        raise bad_value("graph", str(path), "must be an existing ONNX file")
    try:
        return onnx.load(str(path), load_external_data=False)
    except Exception as err:  # noqa: BLE001 - onnx raises several types for unreadable files
        raise ConfigError(f"graph {path}: not a readable ONNX file ({type(err).__name__})") from None


def graph_cost(path: str | Path, dims: Mapping[str, int] | None = None, as_precision: str | None = None) -> GraphCost:
    """:func:`count_graph`, remembered per (file, its modification time, dims, precision): a sweep
    or a profile prices the same shipped graphs many times."""
    path = Path(path)
    stamp = path.stat().st_mtime_ns if path.is_file() else 0
    return _cached(str(path), stamp, tuple(sorted((dims or {}).items())), as_precision)


@lru_cache(maxsize=64)
def _cached(path: str, stamp: int, dims: tuple[tuple[str, int], ...], as_precision: str | None) -> GraphCost:
    return count_graph(path, dict(dims), as_precision)


def count_graph(path: str | Path, dims: Mapping[str, int] | None = None, as_precision: str | None = None,
                model: onnx.ModelProto | None = None) -> GraphCost:
    """Every node's FLOPs and bytes, in graph order.

    ``dims`` gives symbolic input dimensions their values (``text``, ``prefix``...); ``as_precision``
    prices the graph's float compute nodes as if they ran at that precision (a what-if: the same
    graph quantized, without re-exporting)."""
    if as_precision is not None and as_precision not in PRECISIONS:
        raise bad_value("precision", as_precision, f"choose one of: {', '.join(PRECISIONS)}")
    path = Path(path)
    model = load_graph(path) if model is None else model
    _fix_dims(model, dims or {}, str(path))
    g = _Graph(_infer(model, str(path)))
    costs = []
    for i, n in enumerate(g.model.graph.node):
        if not n.name:
            n.name = f"{n.op_type}_{i}"
        cost = _node_cost(g, n, as_precision)
        if cost is None:
            g.skipped.add(n.name)
        else:
            costs.append(cost)
    nodes = tuple(costs)
    sha = file_sha256(path) if path.is_file() else ""
    return GraphCost(str(path), sha, nodes)


def node_names(path: str | Path) -> list[str]:
    """Names of a graph's nodes (for splitting one graph into a policy's pipeline components)."""
    return [n.name for n in load_graph(path).graph.node]


__all__ = ["OP_CLASSES", "PRECISIONS", "GraphCost", "NodeCost", "count_graph", "graph_cost", "load_graph",
           "node_names"]
