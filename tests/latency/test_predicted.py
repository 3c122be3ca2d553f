"""latency=predicted: the graph counter and the roofline against hand-computed cases, the SmolVLA
per-component sum, the device files, the source's determinism and its one-line errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from simbench.errors import ConfigError
from simbench.latency.device_model import CpuModel, DeviceModel, NpuModel, load_device, parse_device
from simbench.latency.graph_cost import count_graph
from simbench.latency.roofline import GraphPart, predict, split_component

CLASSES = ("conv", "matmul", "attention", "elementwise", "normalization", "data_movement")


def device(gflops: float = 10.0, bandwidth: float = 5.0, overhead_us: float = 0.0, p: float = 0.0,
           npu: NpuModel | None = None) -> DeviceModel:
    """A device with one rate for every class at fp32/int8, ``bandwidth`` GB/s at any thread count."""
    rates = {(c, prec): gflops for c in CLASSES for prec in ("fp32", "int8")}
    return DeviceModel("test", CpuModel(4, p, rates, {1: bandwidth}, overhead_us * 1e-6), npu, 1)


def save(tmp: Path, nodes: list, inputs: list, outputs: list, inits: list, name: str = "g.onnx") -> Path:
    graph = helper.make_graph(nodes, "g", inputs, outputs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    path = tmp / name
    onnx.save(model, str(path))
    return path


def matmul_graph(tmp: Path, m: int, k: int, n: int) -> Path:
    """x (1, m, k) fp32 @ W (k, n) fp32."""
    w = numpy_helper.from_array(np.zeros((k, n), np.float32), "W")
    return save(tmp, [helper.make_node("MatMul", ["x", "W"], ["y"], name="mm")],
                [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, m, k])],
                [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, m, n])], [w], f"mm_{m}_{k}_{n}.onnx")


def test_matmul_flops_and_bytes_by_hand(tmp_path: Path) -> None:
    cost = count_graph(matmul_graph(tmp_path, 64, 128, 256))
    (node,) = cost.nodes
    assert node.op_class == "matmul" and node.precision == "fp32"
    assert node.flops == 2 * 64 * 128 * 256
    assert node.bytes == 4 * (64 * 128 + 128 * 256 + 64 * 256)


def test_conv_flops_by_hand_and_fused_relu(tmp_path: Path) -> None:
    w = numpy_helper.from_array(np.zeros((16, 8, 3, 3), np.float32), "W")
    path = save(tmp_path, [helper.make_node("Conv", ["x", "W"], ["c"], name="conv", pads=[1, 1, 1, 1]),
                           helper.make_node("Relu", ["c"], ["y"], name="relu")],
                [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8, 32, 32])],
                [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 16, 32, 32])], [w])
    cost = count_graph(path)
    assert [n.op_type for n in cost.nodes] == ["Conv"]  # the Relu is fused into the convolution
    assert cost.nodes[0].flops == 2 * 16 * 32 * 32 * 8 * 9


def test_compute_bound_and_memory_bound_roofline(tmp_path: Path) -> None:
    """Big square product: FLOPs / rate. Thin product (a matrix-vector): bytes / bandwidth."""
    dev = device(gflops=10.0, bandwidth=5.0)
    big = matmul_graph(tmp_path, 512, 512, 512)
    flops, nbytes = 2 * 512**3, 4 * 3 * 512 * 512
    t = predict([GraphPart(None, big)], [("model", "cpu")], dev).total_s
    assert flops / 10e9 > nbytes / 5e9 and t == pytest.approx(flops / 10e9)
    thin = matmul_graph(tmp_path, 1, 1024, 1024)
    flops, nbytes = 2 * 1024 * 1024, 4 * (1024 + 1024 * 1024 + 1024)
    t = predict([GraphPart(None, thin)], [("model", "cpu")], dev).total_s
    assert nbytes / 5e9 > flops / 10e9 and t == pytest.approx(nbytes / 5e9)
    # threads: Amdahl's law on the compute-bound case; overhead per node adds
    dev4 = device(gflops=10.0, bandwidth=5.0, overhead_us=7.0, p=0.8)
    t4 = predict([GraphPart(None, big)], [("model", "cpu")], dev4, threads=4).total_s
    assert t4 == pytest.approx(2 * 512**3 / (10e9 / (0.2 + 0.8 / 4)) + 7e-6)


def test_npu_placement_fallback_and_transfer(tmp_path: Path) -> None:
    """An fp32 product asked onto the NPU stays on the CPU; priced as int8 it goes to the NPU and
    pays the hand-over of its input; a Softmax in the fallback list comes back with a transfer."""
    npu = NpuModel({("matmul", "int8"): 100.0}, 2.0, 10e-6, 50e-6, frozenset({"Softmax"}))
    dev = device(npu=npu)
    w = numpy_helper.from_array(np.zeros((64, 64), np.float32), "W")
    path = save(tmp_path, [helper.make_node("MatMul", ["x", "W"], ["h"], name="mm"),
                           helper.make_node("Softmax", ["h"], ["y"], name="sm", axis=-1)],
                [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 64, 64])],
                [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 64, 64])], [w])
    cpu = predict([GraphPart(None, path)], [("model", "npu")], dev)
    assert cpu.units.get("npu", 0.0) == 0.0 and cpu.transfers_s == 0.0
    q = predict([GraphPart(None, path)], [("model", "npu")], dev, precision="int8")
    assert q.npu_nodes == 1 and q.cpu_nodes == 1
    mm_bytes = 64 * 64 + 64 * 64 + 64 * 64  # int8 input, weight, output
    mm = max(2 * 64**3 / 100e9, mm_bytes / 2e9) + 10e-6
    hops = 2 * 50e-6 + (64 * 64) / 2e9 + (64 * 64) / 2e9
    assert q.units["npu"] == pytest.approx(mm) and q.transfers_s == pytest.approx(hops)


def test_split_component_by_node_name() -> None:
    assert split_component("/model/backbone/layer1/Conv", ["backbone", "transformer"]) == "backbone"
    assert split_component("/model/encoder/MatMul", ["backbone", "transformer"]) == "transformer"


def test_shipped_graphs_counted_consistently() -> None:
    """Every ACT precision counts the same network (within the quantizers' own few ops), int4
    variants included (onnx-tool 1.0.1 raises on their MatMulNBits)."""
    from simbench.paths import MODELS_DIR

    flops = {p: count_graph(MODELS_DIR / "act" / f"act_{p}.onnx").flops for p in ("fp32", "fp16", "int8", "int4")}
    assert flops["fp32"] == pytest.approx(1.43e9, rel=0.01)
    for p, f in flops.items():
        assert f == pytest.approx(flops["fp32"], rel=0.02), p
    precisions = {n.precision for n in count_graph(MODELS_DIR / "act" / "act_int4.onnx").nodes}
    assert {"int4", "int8", "fp32"} <= precisions


def test_smolvla_components_sum_to_the_total_and_expert_repeats() -> None:
    from simbench.config.build import graphs_of
    from simbench.config.options import load_option
    from simbench.latency.predicted import predict_policy

    node = load_option("policy", "smolvla_mixed")
    assert node is not None
    p10 = predict_policy({"device": "imx95"}, graphs_of(node)(None))
    assert set(p10.components) == {"vision", "prefill", "expert"}
    assert sum(p10.components.values()) == pytest.approx(p10.total_s)
    p5 = predict_policy({"device": "imx95"}, graphs_of({**node, "num_steps": 5})(None))
    assert p5.components["expert"] == pytest.approx(p10.components["expert"] / 2)
    assert p5.components["vision"] == pytest.approx(p10.components["vision"])


def test_device_files_parse_and_bad_values_name_the_key() -> None:
    imx, rk = load_device("imx95"), load_device("rk3568")
    assert imx.npu is not None and rk.npu is None and imx.cpu.cores == 6 and rk.cpu.cores == 4
    assert imx.cpu.speedup(1) == 1.0 and 2.4 < rk.cpu.speedup(4) < 2.6  # ncnn ResNet-50: 2.51x
    with pytest.raises(ConfigError, match="latency.device='nope'"):
        load_device("nope")
    good = {"cpu": {"cores": 2, "parallel_fraction": 0.5, "bandwidth_gbs": {1: 5},
                    "gflops_per_thread": {c: {"fp32": 1.0} for c in CLASSES}}}
    parse_device(good, "x")
    bad = {**good, "cpu": {**good["cpu"], "gflops_per_thread": {"conv": {"fp8": 1.0}}}}
    with pytest.raises(ConfigError, match="fp8"):
        parse_device(bad, "x")
    with pytest.raises(ConfigError, match="parallel_fraction"):
        parse_device({**good, "cpu": {**good["cpu"], "parallel_fraction": 2}}, "x")


def test_predicted_source_is_deterministic_and_describes_graphs() -> None:
    from simbench.config.build import build_run_spec
    from simbench.config.compose import compose_run

    spec = build_run_spec(compose_run("config", ["+policy=act_int8", "latency=predicted", "env=timing"]))
    d = spec.latency.describe()
    assert d["kind"] == "predicted" and d["device"] == "imx95" and len(d["graphs"]["act_int8.onnx"]) == 64
    a = [spec.latency.draw(np.random.default_rng(3), 0.0) for _ in range(3)]
    b = [spec.latency.draw(np.random.default_rng(3), 0.0) for _ in range(3)]
    assert [x.total for x in a] == [x.total for x in b]
    assert a[0].components is not None and sum(a[0].components.values()) == pytest.approx(a[0].total)


@pytest.mark.parametrize("override, needle", [
    ("latency.device=nope", "latency.device='nope'"),
    ("latency.threads=0", "latency.threads=0"),
    ("latency.unit=gpu", "latency.unit='gpu'"),
    ("latency.precision=fp8", "latency.precision='fp8'"),
])
def test_bad_predicted_settings_raise_one_line(override: str, needle: str) -> None:
    from simbench.config.build import build_run_spec
    from simbench.config.compose import compose_run

    with pytest.raises(ConfigError) as err:
        build_run_spec(compose_run("config", ["+policy=act_int8", "latency=predicted", "env=timing", override]))
    assert needle in str(err.value) and "\n" not in str(err.value)


def test_policy_without_a_model_cannot_be_predicted() -> None:
    from simbench.config.build import build_run_spec
    from simbench.config.compose import compose_run

    with pytest.raises(ConfigError, match="no ONNX model"):
        build_run_spec(compose_run("config", ["+policy=scripted", "latency=predicted", "env=timing"]))
