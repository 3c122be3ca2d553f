"""ONNX Runtime sessions built exactly as simbench builds its own.

The host sends a :class:`SessionSpec` with every ``load``; the agent builds the session from it, so
the board times the same graph the host times (same threads, execution mode, optimization level and
disabled fusions). ``simbench.policies.onnx_model.load_session`` is the host's builder; a test
checks both produce identical ``SessionOptions`` (the agent cannot import simbench).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from simbench_agent.protocol import ProtocolError, int_field, str_list

OPT_LEVELS = ("disable", "basic", "extended", "all")


@dataclass(frozen=True)
class SessionSpec:
    """What the session is built with. Defaults are simbench's own (``load_session``)."""

    threads: int = 1
    inter_op_threads: int = 1
    providers: tuple[str, ...] = ("CPUExecutionProvider",)
    disabled_optimizers: tuple[str, ...] = ("SkipLayerNormFusion",)
    optimization_level: str = "all"
    sequential: bool = True
    extra: dict[str, str] = field(default_factory=dict)  # reserved: provider options in later versions

    def to_wire(self) -> dict[str, Any]:
        wire = asdict(self)
        wire["providers"] = list(self.providers)
        wire["disabled_optimizers"] = list(self.disabled_optimizers)
        wire.pop("extra")
        return wire

    @classmethod
    def from_wire(cls, value: Any) -> SessionSpec:
        if not isinstance(value, dict):
            raise ProtocolError("field 'session' must be a map")
        unknown = set(value) - {
            "threads",
            "inter_op_threads",
            "providers",
            "disabled_optimizers",
            "optimization_level",
            "sequential",
        }
        if unknown:
            raise ProtocolError(f"session: unknown field(s) {sorted(unknown)}")
        level = value.get("optimization_level", "all")
        if level not in OPT_LEVELS:
            raise ProtocolError(f"session.optimization_level={level!r} is not one of {OPT_LEVELS}")
        sequential = value.get("sequential", True)
        if not isinstance(sequential, bool):
            raise ProtocolError("session.sequential must be a bool")
        return cls(
            threads=int_field(value, "threads", 1, 256, default=1),
            inter_op_threads=int_field(value, "inter_op_threads", 1, 256, default=1),
            providers=tuple(str_list(value, "providers", default=["CPUExecutionProvider"]))
            or ("CPUExecutionProvider",),
            disabled_optimizers=tuple(str_list(value, "disabled_optimizers", max_items=64, default=[])),
            optimization_level=str(level),
            sequential=sequential,
        )


def session_options(spec: SessionSpec) -> Any:
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = spec.threads
    so.inter_op_num_threads = spec.inter_op_threads
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL if spec.sequential else ort.ExecutionMode.ORT_PARALLEL
    so.graph_optimization_level = {
        "disable": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
        "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
        "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
        "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
    }[spec.optimization_level]
    so.log_severity_level = 3
    return so


def build_session(path: str, spec: SessionSpec) -> Any:
    """An ``InferenceSession``; a provider the board lacks is refused by name (no silent CPU fallback)."""
    import onnxruntime as ort

    available = ort.get_available_providers()
    missing = [p for p in spec.providers if p not in available]
    if missing:
        raise ProtocolError(f"execution provider(s) {missing} not available on this board; available: {available}")
    return ort.InferenceSession(
        path, session_options(spec), providers=list(spec.providers), disabled_optimizers=list(spec.disabled_optimizers)
    )


ORT_TYPES: dict[str, str] = {
    "tensor(float)": "float32",
    "tensor(float16)": "float16",
    "tensor(double)": "float64",
    "tensor(int8)": "int8",
    "tensor(uint8)": "uint8",
    "tensor(int16)": "int16",
    "tensor(int32)": "int32",
    "tensor(int64)": "int64",
    "tensor(bool)": "bool",
}


def describe_io(args: list[Any]) -> list[dict[str, Any]]:
    """Name, dtype and shape (symbolic dimensions as strings) of session inputs or outputs."""
    return [
        {
            "name": a.name,
            "dtype": ORT_TYPES.get(a.type, a.type),
            "shape": [d if isinstance(d, int) else str(d) for d in a.shape],
        }
        for a in args
    ]


def generated_inputs(session: Any, seed: int = 0) -> dict[str, np.ndarray]:
    """Inputs from the model's declared shapes (symbolic dimensions -> 1): uint8 uniform, floats N(0, 1), ints 0."""
    rng = np.random.default_rng(seed)
    feed: dict[str, np.ndarray] = {}
    for arg in session.get_inputs():
        dtype = ORT_TYPES.get(arg.type)
        if dtype is None:
            raise ProtocolError(f"input {arg.name!r} has type {arg.type}; send inputs for it")
        shape = [d if isinstance(d, int) and d > 0 else 1 for d in arg.shape]
        if dtype == "uint8":
            feed[arg.name] = rng.integers(0, 256, size=shape, dtype=np.uint8)
        elif dtype.startswith("float"):
            feed[arg.name] = rng.standard_normal(shape).astype(dtype)
        else:
            feed[arg.name] = np.zeros(shape, dtype=dtype)
    return feed


__all__ = ["SessionSpec", "build_session", "describe_io", "generated_inputs", "session_options"]
