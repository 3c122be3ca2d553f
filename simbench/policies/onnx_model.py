"""An exported ONNX model on the host: where its file is, what its metadata says, its ONNX Runtime session.

Shared by every ``runtime: onnx`` policy (ACT: :mod:`simbench.policies.act.onnx_runtime`, SmolVLA:
:mod:`simbench.policies.smolvla.onnx_runtime`, the contract policy: :mod:`simbench.policies.onnx_chunk`),
config validation, the exporters' checks, ``simbench.hil`` and the benchmarks:

* :func:`resolve_model_path`: ``policy.model_path`` as given, else under ``simbench/models/``;
* :func:`model_metadata`: the ``simbench.*`` metadata an export wrote, read without a session;
* :class:`ExportShape`: the inputs and chunk that metadata declares (cameras, image size, sizes, rate);
* :func:`load_session` and :data:`DISABLED_ORT_OPTIMIZERS`: the one builder of ONNX Runtime sessions.

numpy-free and torch-free; ``onnx`` and ``onnxruntime`` are imported on first use.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from simbench.errors import ConfigError
from simbench.paths import MODELS_DIR


def resolve_model_path(model_path: str | Path | None, directory: bool = False) -> Path:
    """``policy.model_path`` as a path: as given when it exists, else under ``simbench/models/``.
    ``directory``: the model is a folder of graphs (SmolVLA), not one ONNX file."""
    if not model_path:
        raise ConfigError("policy.model_path is empty; runtime=onnx needs an ONNX "
                          f"{'directory' if directory else 'file'} (see conf/policy/)")
    path = Path(model_path)
    if not path.is_absolute() and not path.exists():
        path = MODELS_DIR / path
    if not (path.is_dir() if directory else path.is_file()):
        raise ConfigError(
            f"policy.model_path={str(model_path)!r} not found{' as a directory' if directory else ''} "
            f"(relative paths are looked up in {MODELS_DIR})"
        )
    return path


@lru_cache(maxsize=32)
def model_metadata(path: Path) -> dict[str, str]:
    """The ``simbench.*`` metadata an export wrote into the ONNX file, read without building a
    session (config validation reads ``simbench.chunk_size`` before any run starts)."""
    import onnx

    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as err:  # noqa: BLE001 - onnx raises several types for unreadable files
        raise ConfigError(
            f"cannot read ONNX model {path}: "
            f"{str(err).strip().splitlines()[0][:200] if str(err).strip() else type(err).__name__}"
        ) from None
    return {p.key: p.value for p in model.metadata_props}


DISABLED_ORT_OPTIMIZERS: tuple[str, ...] = ("SkipLayerNormFusion",)
"""Graph rewrites ONNX Runtime must not apply, because they make the ACT slower on CPUs.

``SkipLayerNormFusion`` turns each residual add + layer norm into one SkipLayerNormalization
kernel; on a (1, 100, 128) activation that kernel takes ~70 us where the separate Add and
LayerNormalization take ~10 us (ORT 1.32, 1 thread; ``python benchmarks/profile_ops.py`` profiles
both graphs as ``fp32_fused`` and ``fp32``). The shipped int8 recipe keeps residual adds and the
decoder in float, so ORT would fuse six of them there too. Every session of simbench comes from
:func:`load_session`, so fp32 baselines and timings use the faster graph."""


def load_session(
    path: str | Path,
    threads: int,
    profile_prefix: str | None = None,
    disabled_optimizers: tuple[str, ...] = DISABLED_ORT_OPTIMIZERS,
) -> Any:
    """An ORT CPU session; a file ORT cannot load becomes one ConfigError line.

    The one place sessions are built (runtime, export checks, benchmarks): the same options
    everywhere, so a latency measured in a benchmark is the latency the scheduler sees.
    ``profile_prefix`` turns on ORT's per-kernel profiler (benchmarks/profile_ops.py);
    ``disabled_optimizers=()`` gives ORT's default graph, for comparing against it."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.log_severity_level = 3
    if profile_prefix is not None:
        so.enable_profiling = True
        so.profile_file_prefix = profile_prefix
    try:
        return ort.InferenceSession(
            str(path), so, providers=["CPUExecutionProvider"], disabled_optimizers=list(disabled_optimizers)
        )
    except Exception as err:  # noqa: BLE001 - ORT raises several types for unreadable models
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ConfigError(f"cannot load ONNX model {path}: {first[:200]}") from None


@dataclass(frozen=True)
class ExportShape:
    """What an export's ``simbench.*`` metadata declares its inputs and chunk to be (ACT's graph, SmolVLA's vision graph)."""

    cameras: tuple[str, ...]
    image_size: tuple[int, ...]
    state_dim: int
    action_dim: int
    chunk_size: int
    fps: float

    @classmethod
    def of(cls, meta: Mapping[str, str]) -> ExportShape:
        """Parsed from the metadata; KeyError or ValueError when a field is missing or unreadable."""
        return cls(tuple(meta["simbench.cameras"].split(",")), tuple(int(v) for v in meta["simbench.image_size"].split(",")),
                   int(meta["simbench.state_dim"]), int(meta["simbench.action_dim"]), int(meta["simbench.chunk_size"]),
                   float(meta["simbench.fps"]))


__all__ = ["DISABLED_ORT_OPTIMIZERS", "ExportShape", "load_session", "model_metadata", "resolve_model_path"]
