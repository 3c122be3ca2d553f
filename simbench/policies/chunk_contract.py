"""The ONNX chunk-policy contract: what an ONNX file must say about itself to run in simbench.

A model keeps the contract when its ONNX custom metadata (``metadata_props``) holds the keys below
and its graph matches them (the full text, with an example: docs/byo-policy.md). Version
``chunk_policy/1``:

=========================  ========  ==============================================================
key                        required  value
=========================  ========  ==============================================================
``simbench.contract``      yes       ``chunk_policy/1``
``simbench.inputs``        yes       JSON list, one entry per graph input: ``name`` (the graph's),
                                     ``key`` (the observation it reads, default the name),
                                     ``kind`` (``state``, ``env_state`` or ``image``), ``shape``
                                     (with the batch of 1 first) and ``dtype`` (``float32`` for
                                     states; images ``uint8`` with ``layout`` ``NHWC`` (0..255,
                                     H x W x 3, as cameras give them) or ``float32`` ``NCHW`` in [0, 1])
``simbench.chunk_size``    yes       actions per inference (the output's second dimension)
``simbench.action_dim``    yes       values per action (the output's third dimension)
``simbench.output``        no        the output holding the chunk (default: the first); float32
                                     (1, chunk_size, action_dim), in robot units
``simbench.fps``           no        the rate the chunk's actions are spaced at; without it the
                                     chunk is taken at the control rate
``simbench.action_names``  no        JSON list of ``action_dim`` names
``simbench.precision``     no        a label (fp32, int8 ...) shown in results
``simbench.source_sha256`` no        the checkpoint it came from
=========================  ========  ==============================================================

Everything here is checked before a run starts; a file that breaks the contract is one
:class:`ConfigError` line naming the field (``simbench.chunk_size is missing``, ``input
observation.state is float64 in the graph, float32 in simbench.inputs``...). numpy + onnx only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from simbench.errors import ConfigError

CONTRACT_KEY = "simbench.contract"
CONTRACT_VERSION = "chunk_policy/1"
DOC = "docs/byo-policy.md"
KINDS = ("state", "env_state", "image")
IMAGE_LAYOUTS = {"NHWC": "uint8", "NCHW": "float32"}
"""Image layout -> the dtype it comes in."""
REQUIRED = (CONTRACT_KEY, "simbench.inputs", "simbench.chunk_size", "simbench.action_dim")
ONNX_DTYPES = {1: "float32", 2: "uint8", 3: "int8", 6: "int32", 7: "int64", 10: "float16", 11: "float64"}
IMAGE_PREFIX = "observation.images."


@dataclass(frozen=True)
class InputSpec:
    name: str
    key: str
    kind: str
    shape: tuple[int, ...]
    dtype: str
    layout: str | None = None

    @property
    def camera(self) -> str:
        """An image input's camera name (``observation.images.top`` -> ``top``)."""
        return self.key.removeprefix(IMAGE_PREFIX)

    @property
    def image_size(self) -> tuple[int, int]:
        """(H, W) of an image input."""
        return (self.shape[1], self.shape[2]) if self.layout == "NHWC" else (self.shape[2], self.shape[3])


@dataclass(frozen=True)
class ChunkContract:
    """A model's contract, read and checked against its graph."""

    path: Path
    inputs: tuple[InputSpec, ...]
    output: str
    chunk_size: int
    action_dim: int
    fps: float | None
    action_names: tuple[str, ...] | None
    precision: str
    metadata: dict[str, str]

    @property
    def images(self) -> tuple[InputSpec, ...]:
        return tuple(i for i in self.inputs if i.kind == "image")

    @property
    def state(self) -> InputSpec | None:
        return next((i for i in self.inputs if i.kind == "state"), None)

    @property
    def state_dim(self) -> int:
        return self.state.shape[1] if self.state is not None else 0


def _fail(path: Path, what: str) -> ConfigError:
    return ConfigError(f"policy.model_path={str(path)!r}: {what} ({DOC})")


def _int(meta: dict[str, str], key: str, path: Path) -> int:
    try:
        value = int(meta[key])
    except ValueError:
        raise _fail(path, f"{key}={meta[key][:40]!r} is not an integer") from None
    if not 1 <= value <= 1_000_000:
        raise _fail(path, f"{key}={value} must be >= 1")
    return value


def _graph_io(model: Any) -> tuple[dict[str, tuple[str, list[int | str]]], dict[str, tuple[str, list[int | str]]]]:
    """(inputs, outputs): name -> (dtype, dims; a symbolic or unknown dimension as a string)."""
    initializers = {t.name for t in model.graph.initializer}

    def describe(value: Any) -> tuple[str, list[int | str]]:
        t = value.type.tensor_type
        dims: list[int | str] = [d.dim_value if d.HasField("dim_value") else (d.dim_param or "?") for d in t.shape.dim]
        return ONNX_DTYPES.get(t.elem_type, f"onnx type {t.elem_type}"), dims

    inputs = {v.name: describe(v) for v in model.graph.input if v.name not in initializers}
    outputs = {v.name: describe(v) for v in model.graph.output}
    return inputs, outputs


def _parse_inputs(raw: str, path: Path) -> list[InputSpec]:
    try:
        entries = json.loads(raw)
    except ValueError:
        raise _fail(path, "simbench.inputs is not JSON (a list of {name, kind, shape, dtype})") from None
    if not isinstance(entries, list) or not entries:
        raise _fail(path, "simbench.inputs must be a non-empty JSON list of {name, kind, shape, dtype}")
    specs = []
    for i, e in enumerate(entries):
        where = f"simbench.inputs[{i}]"
        if not isinstance(e, dict):
            raise _fail(path, f"{where} is not an object")
        for field in ("name", "kind", "shape", "dtype"):
            if field not in e:
                raise _fail(path, f"{where} lacks {field!r}")
        kind, dtype, shape = e["kind"], e["dtype"], e["shape"]
        if kind not in KINDS:
            raise _fail(path, f"{where}.kind={kind!r}: choose one of {', '.join(KINDS)}")
        if not isinstance(shape, list) or not all(
            isinstance(d, int) and not isinstance(d, bool) and d >= 1 for d in shape
        ):
            raise _fail(path, f"{where}.shape={shape!r}: give positive integers, the batch (1) first")
        if shape[0] != 1:
            raise _fail(path, f"{where}.shape={shape}: the first dimension is the batch, 1")
        layout = e.get("layout")
        if kind == "image":
            layout = layout or "NHWC"
            if layout not in IMAGE_LAYOUTS:
                raise _fail(path, f"{where}.layout={layout!r}: choose NHWC (uint8) or NCHW (float32)")
            channels = shape[3] if layout == "NHWC" else (shape[1] if len(shape) == 4 else None)
            if len(shape) != 4 or channels != 3:
                raise _fail(
                    path,
                    f"{where}.shape={shape}: a {layout} image is "
                    f"{'[1, H, W, 3]' if layout == 'NHWC' else '[1, 3, H, W]'}",
                )
            if dtype != IMAGE_LAYOUTS[layout]:
                raise _fail(path, f"{where}.dtype={dtype!r}: a {layout} image is {IMAGE_LAYOUTS[layout]}")
        else:
            if len(shape) != 2 or dtype != "float32":
                raise _fail(path, f"{where}: a {kind} input is float32 [1, size] (got {dtype} {shape})")
        default_key = {"state": "observation.state", "env_state": "observation.environment_state"}.get(kind, e["name"])
        specs.append(
            InputSpec(str(e["name"]), str(e.get("key") or default_key), kind, tuple(shape), str(dtype), layout)
        )
    for field in ("name", "key"):
        values = [getattr(s, field) for s in specs]
        dup = next((v for v in values if values.count(v) > 1), None)
        if dup is not None:
            raise _fail(path, f"simbench.inputs names {field} {dup!r} twice")
    for kind in ("state", "env_state"):
        if sum(s.kind == kind for s in specs) > 1:
            raise _fail(path, f"simbench.inputs has more than one {kind} input")
    return specs


def read_contract(path: str | Path) -> ChunkContract:
    """The contract of the ONNX file at ``path``, checked against its graph (cached per file version)."""
    p = Path(path)
    try:
        stat = p.stat()
    except OSError:
        raise ConfigError(f"policy.model_path={str(path)!r} not found") from None
    return _read(p.resolve(), stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=32)
def _read(path: Path, mtime_ns: int, size: int) -> ChunkContract:
    import onnx

    if size == 0:
        raise _fail(path, "is an empty file, not an ONNX model")
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception:  # noqa: BLE001 - onnx raises several types for files that are not models
        raise _fail(path, "is not a readable ONNX model") from None
    if not model.graph.node:
        raise _fail(path, "is not an ONNX model (no graph)")
    meta = {p.key: p.value for p in model.metadata_props}
    for key in REQUIRED:
        if key not in meta:
            what = {
                CONTRACT_KEY: f"the contract version, {CONTRACT_VERSION}",
                "simbench.inputs": "JSON list of the graph's inputs: name, kind, shape, dtype",
                "simbench.chunk_size": "actions per inference",
                "simbench.action_dim": "values per action",
            }[key]
            raise _fail(path, f"metadata lacks {key} ({what})")
    if meta[CONTRACT_KEY] != CONTRACT_VERSION:
        raise _fail(path, f"{CONTRACT_KEY}={meta[CONTRACT_KEY][:40]!r}: this simbench reads {CONTRACT_VERSION}")
    chunk, action_dim = _int(meta, "simbench.chunk_size", path), _int(meta, "simbench.action_dim", path)
    specs = _parse_inputs(meta["simbench.inputs"], path)
    graph_in, graph_out = _graph_io(model)
    for spec in specs:
        if spec.name not in graph_in:
            raise _fail(
                path,
                f"simbench.inputs names {spec.name!r}, which is not a graph input (the graph's: {', '.join(graph_in)})",
            )
        dtype, dims = graph_in[spec.name]
        if dtype != spec.dtype:
            raise _fail(path, f"input {spec.name} is {dtype} in the graph, {spec.dtype} in simbench.inputs")
        if len(dims) != len(spec.shape) or any(isinstance(g, int) and g != m for g, m in zip(dims, spec.shape)):
            raise _fail(path, f"input {spec.name} has shape {dims} in the graph, {list(spec.shape)} in simbench.inputs")
    extra = [n for n in graph_in if n not in {s.name for s in specs}]
    if extra:
        raise _fail(path, f"graph input {extra[0]!r} is not described in simbench.inputs")
    output = meta.get("simbench.output") or next(iter(graph_out), "")
    if output not in graph_out:
        raise _fail(path, f"simbench.output={output!r} is not a graph output (the graph's: {', '.join(graph_out)})")
    dtype, dims = graph_out[output]
    want = [1, chunk, action_dim]
    if dtype != "float32":
        raise _fail(path, f"output {output} is {dtype}; the chunk is float32")
    if len(dims) != 3 or any(isinstance(g, int) and g != w for g, w in zip(dims[1:], want[1:])):
        raise _fail(
            path,
            f"output {output} has shape {dims}; simbench.chunk_size and simbench.action_dim say "
            f"[1, {chunk}, {action_dim}]",
        )
    fps = None
    if meta.get("simbench.fps"):
        try:
            fps = float(meta["simbench.fps"])
        except ValueError:
            fps = -1.0
        if not 0 < fps <= 10_000:
            raise _fail(path, f"simbench.fps={meta['simbench.fps'][:20]!r} must be a rate in (0, 10000]")
    names = None
    if meta.get("simbench.action_names"):
        try:
            names = json.loads(meta["simbench.action_names"])
        except ValueError:
            names = None
        if not isinstance(names, list) or len(names) != action_dim:
            raise _fail(path, f"simbench.action_names must be a JSON list of {action_dim} names")
        names = tuple(str(n) for n in names)
    state = next((s for s in specs if s.kind == "state"), None)
    if "simbench.state_dim" in meta and meta["simbench.state_dim"] != str(state.shape[1] if state else 0):
        raise _fail(
            path,
            f"simbench.state_dim={meta['simbench.state_dim']} but the state input has "
            f"{state.shape[1] if state else 0} values",
        )
    return ChunkContract(
        path, tuple(specs), output, chunk, action_dim, fps, names, meta.get("simbench.precision", "?"), meta
    )


def contract_value(model_path: Any, field: str) -> Any:
    """``${chunk_contract:${.model_path},FIELD}`` in conf/policy/onnx.yaml: a field of the model's
    contract (``chunk_size``, ``action_dim``, ``precision``), so the config cannot disagree with the file."""
    from simbench.policies.onnx_model import resolve_model_path

    if model_path in (None, ""):  # a sweep's base config before its policy.model_path=... is applied
        return None
    contract = read_contract(resolve_model_path(model_path))
    if field not in ("chunk_size", "action_dim", "precision", "state_dim"):
        raise ConfigError(f"chunk_contract resolver: unknown field {field!r}")
    return getattr(contract, field)


__all__ = ["CONTRACT_KEY", "CONTRACT_VERSION", "ChunkContract", "InputSpec", "contract_value", "read_contract"]
