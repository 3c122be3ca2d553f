"""A board as a latency model: achieved throughput per operator class and precision, per unit.

Read from the ``model`` section of ``conf/device/<board>.yaml`` (every number there names the
published measurement it comes from). The CPU's throughput is given for one thread and scaled to
``n`` threads by Amdahl's law with the device's ``parallel_fraction``; memory bandwidth by thread
count is interpolated from the measured points. The NPU runs only the precisions it supports and
not the ops in its fallback list; those go to the CPU, and each tensor that crosses between the two
pays a transfer (bytes over the NPU's bandwidth plus a fixed hand-over).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from simbench.errors import bad_value, unknown_name
from simbench.latency.graph_cost import OP_CLASSES, PRECISIONS
from simbench.paths import CONF_DIR

UNITS = ("cpu", "npu")


def _positive(key: str, value: Any, allow_zero: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0 or (
            value == 0 and not allow_zero):
        raise bad_value(key, value, "must be a finite number " + (">= 0" if allow_zero else "> 0"))
    return float(value)


def _rates(node: Any, key: str) -> dict[tuple[str, str], float]:
    """``{class: {precision: rate}}`` -> ``{(class, precision): rate}``, names checked."""
    if not isinstance(node, Mapping) or not node:
        raise bad_value(key, node, "give {op class: {precision: throughput}}")
    out: dict[tuple[str, str], float] = {}
    for op_class, per_precision in node.items():
        if op_class not in OP_CLASSES:
            raise unknown_name(key, op_class, OP_CLASSES)
        if not isinstance(per_precision, Mapping):
            raise bad_value(f"{key}.{op_class}", per_precision, "give {precision: throughput}")
        for precision, rate in per_precision.items():
            if precision not in PRECISIONS:
                raise unknown_name(f"{key}.{op_class}", precision, PRECISIONS)
            out[(op_class, precision)] = _positive(f"{key}.{op_class}.{precision}", rate)
    return out


@dataclass(frozen=True)
class CpuModel:
    cores: int
    parallel_fraction: float
    """Amdahl's p: ``n`` threads run ``1 / ((1 - p) + p / n)`` times faster than one."""
    gflops_per_thread: Mapping[tuple[str, str], float]
    """Achieved GFLOP/s (GOP/s for integers) of one thread, per (op class, precision)."""
    bandwidth_gbs: Mapping[int, float]
    """Achieved memory bandwidth (GB/s) at the measured thread counts."""
    op_overhead_s: float

    def speedup(self, threads: int) -> float:
        p = self.parallel_fraction
        return 1.0 / ((1.0 - p) + p / threads)

    def bandwidth(self, threads: int) -> float:
        """GB/s with ``threads`` threads: linear between the measured points, flat outside them."""
        points = sorted(self.bandwidth_gbs.items())
        if threads <= points[0][0]:
            return points[0][1]
        for (t0, b0), (t1, b1) in itertools.pairwise(points):
            if threads <= t1:
                return b0 + (b1 - b0) * (threads - t0) / (t1 - t0)
        return points[-1][1]

    def rate(self, op_class: str, precision: str, threads: int) -> float:
        """GFLOP/s for (class, precision) at ``threads``; a precision the file lacks runs as fp32
        (the runtime's fallback kernels)."""
        base = self.gflops_per_thread.get((op_class, precision)) or self.gflops_per_thread[(op_class, "fp32")]
        return base * self.speedup(threads)


@dataclass(frozen=True)
class NpuModel:
    gops: Mapping[tuple[str, str], float]
    bandwidth_gbs: float
    op_overhead_s: float
    transfer_overhead_s: float
    fallback_ops: frozenset[str]
    """Op types (or ``MatMul@attention``: a product of two activations) the NPU leaves to the CPU."""

    def runs(self, op_class: str, precision: str, fallback_key: str, op_type: str) -> bool:
        return (op_class, precision) in self.gops and fallback_key not in self.fallback_ops and \
            op_type not in self.fallback_ops


@dataclass(frozen=True)
class DeviceModel:
    """One board: its CPU, its NPU (None when it has none) and the thread count used by default."""

    name: str
    cpu: CpuModel
    npu: NpuModel | None
    default_threads: int
    path: str = ""

    def threads(self, threads: int | None, key: str = "latency.threads") -> int:
        if threads is None:
            return self.default_threads
        if isinstance(threads, bool) or not isinstance(threads, int) or not 1 <= threads <= self.cpu.cores:
            raise bad_value(key, threads, f"must be an integer in [1, {self.cpu.cores}] ({self.name} has "
                                          f"{self.cpu.cores} cores)")
        return threads


def parse_device(node: Mapping[str, Any], name: str, path: str = "") -> DeviceModel:
    """A :class:`DeviceModel` from a device file's ``model`` section; one-line errors name the key."""
    key = f"device {name}: model"
    if not isinstance(node, Mapping) or "cpu" not in node:
        raise bad_value(key, node, "give a model section with cpu (and optionally npu)")
    cpu = node["cpu"]
    cores = cpu.get("cores")
    if isinstance(cores, bool) or not isinstance(cores, int) or cores < 1:
        raise bad_value(f"{key}.cpu.cores", cores, "must be an integer >= 1")
    p = _positive(f"{key}.cpu.parallel_fraction", cpu.get("parallel_fraction"), allow_zero=True)
    if p > 1:
        raise bad_value(f"{key}.cpu.parallel_fraction", p, "must be in [0, 1]")
    bw = cpu.get("bandwidth_gbs")
    if not isinstance(bw, Mapping) or not bw:
        raise bad_value(f"{key}.cpu.bandwidth_gbs", bw, "give {threads: GB/s}")
    bandwidth = {int(t): _positive(f"{key}.cpu.bandwidth_gbs.{t}", v) for t, v in bw.items()}
    rates = _rates(cpu.get("gflops_per_thread"), f"{key}.cpu.gflops_per_thread")
    missing = [c for c in OP_CLASSES if (c, "fp32") not in rates]
    if missing:
        raise bad_value(f"{key}.cpu.gflops_per_thread", sorted({c for c, _ in rates}),
                        f"needs an fp32 rate for every op class; missing {', '.join(missing)}")
    cpu_model = CpuModel(cores, p, rates, bandwidth,
                         _positive(f"{key}.cpu.op_overhead_us", cpu.get("op_overhead_us", 0), True) * 1e-6)
    npu_model = None
    if node.get("npu"):
        npu = node["npu"]
        fallback = npu.get("fallback_ops") or []
        if not isinstance(fallback, list) or not all(isinstance(f, str) for f in fallback):
            raise bad_value(f"{key}.npu.fallback_ops", fallback, "give a list of op types")
        npu_model = NpuModel(
            _rates(npu.get("gops"), f"{key}.npu.gops"),
            _positive(f"{key}.npu.bandwidth_gbs", npu.get("bandwidth_gbs")),
            _positive(f"{key}.npu.op_overhead_us", npu.get("op_overhead_us", 0), True) * 1e-6,
            _positive(f"{key}.npu.transfer_overhead_us", npu.get("transfer_overhead_us", 0), True) * 1e-6,
            frozenset(fallback),
        )
    threads = node.get("threads", cores)
    if isinstance(threads, bool) or not isinstance(threads, int) or not 1 <= threads <= cores:
        raise bad_value(f"{key}.threads", threads, f"must be an integer in [1, {cores}]")
    return DeviceModel(name, cpu_model, npu_model, threads, path)


def device_files() -> list[str]:
    """Devices with a latency model: ``conf/device/*.yaml`` files that have a ``model`` section."""
    return sorted(p.stem for p in (CONF_DIR / "device").glob("*.yaml") if "model" in (_read(p) or {}))


def _read(path: Path) -> dict[str, Any] | None:
    data = yaml.safe_load(path.read_text())
    return data if isinstance(data, dict) else None


def load_device(name: str, key: str = "latency.device") -> DeviceModel:
    """The device model of ``conf/device/<name>.yaml``."""
    path = CONF_DIR / "device" / f"{name}.yaml"
    names = device_files()
    if not isinstance(name, str) or name not in names:
        raise unknown_name(key, name, names)
    data = _read(path) or {}
    return parse_device(data["model"], name, str(path))
