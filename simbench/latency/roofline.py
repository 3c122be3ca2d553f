"""Place a policy's graph nodes on a device's units and sum a roofline per node plus transfers.

Per node: ``max(flops / throughput, bytes / bandwidth) + per-op overhead`` on the unit it runs on.
A stage asked to run on the NPU keeps there only the nodes the NPU supports (its precisions, not its
fallback ops); the rest run on the CPU, and every tensor that crosses between the units pays a
transfer. Multi-graph policies (SmolVLA: vision, prefill, ``num_steps`` x expert) are one
:class:`GraphPart` per graph; a single graph holding several pipeline stages (ACT: backbone,
transformer) is split by node name.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from simbench.latency.device_model import DeviceModel
from simbench.latency.graph_cost import GraphCost, NodeCost, graph_cost


@dataclass(frozen=True)
class GraphPart:
    """One ONNX graph of a policy: the pipeline stage it is (None: a graph holding every stage,
    split by node name), how often it runs per inference, and values for its symbolic dimensions."""

    component: str | None
    path: Path
    repeat: int = 1
    dims: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Prediction:
    """Predicted seconds per inference: the total, per pipeline component (all repeats), per op
    class, per unit, and the graphs' sha256 (what was priced)."""

    device: str
    threads: int
    total_s: float
    components: Mapping[str, float]
    op_classes: Mapping[str, float]
    units: Mapping[str, float]
    transfers_s: float
    flops: float
    graphs: Mapping[str, str]
    """graph file name -> sha256."""
    npu_nodes: int = 0
    cpu_nodes: int = 0


def split_component(node_name: str, stages: Sequence[str]) -> str:
    """The pipeline stage a node of a one-graph policy belongs to: the first stage whose name is a
    path segment of the node's name (``/model/backbone/...``), else the last stage."""
    segments = set(node_name.strip("/").split("/"))
    for stage in stages:
        if stage in segments:
            return stage
    return stages[-1]


def _node_time(node: NodeCost, unit: str, device: DeviceModel, threads: int) -> float:
    if unit == "npu":
        assert device.npu is not None
        rate = device.npu.gops[(node.op_class, node.precision)] * 1e9
        return max(node.flops / rate, node.bytes / (device.npu.bandwidth_gbs * 1e9)) + device.npu.op_overhead_s
    rate = device.cpu.rate(node.op_class, node.precision, threads) * 1e9
    bandwidth = device.cpu.bandwidth(threads) * 1e9
    return max(node.flops / rate, node.bytes / bandwidth) + device.cpu.op_overhead_s


def _place(node: NodeCost, want: str, device: DeviceModel) -> str:
    if want == "npu" and device.npu is not None and device.npu.runs(node.op_class, node.precision,
                                                                      node.fallback_key, node.op_type):
        return "npu"
    return "cpu"


def price_graph(cost: GraphCost, units: Mapping[str, str], stages: Sequence[str], component: str | None,
                device: DeviceModel, threads: int) -> tuple[dict[str, float], dict[str, float], dict[str, float],
                                                           float, int]:
    """(seconds per component, per op class, per unit, transfer seconds, NPU node count) of one run
    of one graph. ``units`` maps a stage to the unit its policy pipeline names."""
    per_component: dict[str, float] = defaultdict(float)
    per_class: dict[str, float] = defaultdict(float)
    per_unit: dict[str, float] = defaultdict(float)
    where: dict[str, str] = {}  # tensor -> unit that produced it (graph inputs: the CPU)
    transferred: set[tuple[str, str]] = set()
    transfers = 0.0
    npu_nodes = 0
    for node in cost.nodes:
        stage = component if component is not None else split_component(node.name, stages)
        unit = _place(node, units.get(stage, "cpu"), device)
        npu_nodes += unit == "npu"
        seconds = _node_time(node, unit, device, threads)
        for tensor, nbytes in node.inputs:
            src = where.get(tensor, "cpu")
            if device.npu is not None and src != unit and (tensor, unit) not in transferred:
                transferred.add((tensor, unit))
                hop = nbytes / (device.npu.bandwidth_gbs * 1e9) + device.npu.transfer_overhead_s
                transfers += hop
                per_component[stage] += hop
        for tensor in node.outputs:
            where[tensor] = unit
        per_component[stage] += seconds
        per_class[node.op_class] += seconds
        per_unit[unit] += seconds
    return dict(per_component), dict(per_class), dict(per_unit), transfers, npu_nodes


def predict(parts: Sequence[GraphPart], stages: Sequence[tuple[str, str]], device: DeviceModel,
            threads: int | None = None, precision: str | None = None, unit: str | None = None,
            costs: Mapping[Path, GraphCost] | None = None) -> Prediction:
    """Predicted seconds per inference of a policy's graphs on ``device``.

    ``stages`` are the policy's pipeline stages as (name, unit); ``unit`` forces every stage onto
    one unit; ``precision`` prices float compute as that precision (a what-if); ``costs`` reuses
    graph counts already made (what-if grids price one graph many times)."""
    n_threads = device.threads(threads)
    names = [s for s, _ in stages] or ["model"]
    units = {s: (unit or u) for s, u in stages} if stages else {"model": unit or "cpu"}
    total_c: dict[str, float] = defaultdict(float)
    total_k: dict[str, float] = defaultdict(float)
    total_u: dict[str, float] = defaultdict(float)
    transfers = flops = 0.0
    graphs: dict[str, str] = {}
    npu = cpu = 0
    for part in parts:
        cost = (costs or {}).get(part.path) or graph_cost(part.path, part.dims, precision)
        graphs[part.path.name] = cost.sha256
        comp, cls, per_unit, hop, n_npu = price_graph(cost, units, names, part.component, device, n_threads)
        for table, new in ((total_c, comp), (total_k, cls), (total_u, per_unit)):
            for k, v in new.items():
                table[k] += part.repeat * v
        if hop:
            total_k["transfer"] += part.repeat * hop
            total_u["transfer"] += part.repeat * hop
        transfers += part.repeat * hop
        flops += part.repeat * cost.flops
        npu += n_npu
        cpu += len(cost.nodes) - n_npu
    total = sum(total_c.values())
    return Prediction(device.name, n_threads, total, dict(total_c), dict(total_k), dict(total_u), transfers, flops,
                      graphs, npu, cpu)
