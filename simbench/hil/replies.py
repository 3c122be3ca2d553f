"""One validated schema per reply the host reads from a board agent.

The board is another machine: its replies are checked here, field by field, before anything on
the host uses them. A reply that does not fit raises :class:`ReplyError` (one line naming the field
and what was expected), which the client turns into a ``protocol`` :class:`BoardError`, so a
malformed or absurd reply ends in a failed record, never a ``KeyError``, a NaN latency in a trace
marked complete, or NaN actions in the simulator. Rules:

* ``ok`` is the boolean ``true`` or ``false`` (``"yes"`` is not success);
* latencies are finite, >= 0 and at most :data:`MAX_LATENCY_S`;
* integers are integers (not booleans) in a stated range; tensors decode with the wire rules and
  floating ones hold finite values only;
* every string the host may print or write is made visible and bounded (:func:`simbench.safe_text.printable`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from simbench_agent.protocol import ProtocolError, decode_tensor

from simbench.safe_text import printable

MAX_LATENCY_S = 3600.0
"""Longest believable time of one inference or one agent call (an hour; 1e300 s is not a reading)."""
MAX_FACTS = 64
"""Most keys in a board's facts; each value a scalar or a short list of scalars."""
MAX_LIST = 256
MAX_IO = 64
"""Most graph inputs or outputs, metadata entries, providers a load reply may describe."""


class ReplyError(ValueError):
    """A reply that breaks its schema; the text is one line."""


# -- scalars ----------------------------------------------------------------------------------------


def _get(reply: Mapping[str, Any], key: str) -> Any:
    if key not in reply:
        raise ReplyError(f"field {key!r} is missing")
    return reply[key]


def boolean(reply: Mapping[str, Any], key: str) -> bool:
    value = _get(reply, key)
    if not isinstance(value, bool):
        raise ReplyError(f"field {key!r} must be true or false, got {printable(repr(value), 40)}")
    return value


def integer(value: Any, what: str, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise ReplyError(f"{what} must be an integer in [{lo}, {hi}], got {printable(repr(value), 40)}")
    return int(value)


def number(value: Any, what: str, lo: float, hi: float) -> float:
    """A finite float in [lo, hi] (ints accepted; booleans, strings, NaN and inf refused)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ReplyError(f"{what} must be a number, got {printable(repr(value), 40)}")
    number_ = float(value)
    if not (math.isfinite(number_) and lo <= number_ <= hi):
        raise ReplyError(f"{what} must be finite and in [{lo:g}, {hi:g}], got {number_!r}")
    return number_


def seconds(value: Any, what: str) -> float:
    """A latency or a duration the board measured: finite, >= 0, <= :data:`MAX_LATENCY_S`."""
    return number(value, what, 0.0, MAX_LATENCY_S)


def text(value: Any, what: str, limit: int = 256) -> str:
    if not isinstance(value, str):
        raise ReplyError(f"{what} must be a string, got {type(value).__name__}")
    return printable(value, limit)


def mapping(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        raise ReplyError(f"{what} must be a map with string keys, got {type(value).__name__}")
    return value


def listing(value: Any, what: str, limit: int = MAX_LIST) -> list[Any]:
    if not isinstance(value, list) or len(value) > limit:
        raise ReplyError(f"{what} must be a list of at most {limit} items, got {type(value).__name__}")
    return value


def _scalar(value: Any, what: str) -> Any:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return integer(value, what, -(1 << 62), 1 << 62)
    if isinstance(value, float):
        return number(value, what, -1e18, 1e18)
    if isinstance(value, str):
        return printable(value, 256)
    raise ReplyError(f"{what} must be a string, number, boolean or null, got {type(value).__name__}")


def finite_tensor(value: Any, what: str) -> np.ndarray:
    """A wire tensor (:func:`simbench_agent.protocol.decode_tensor`) whose floats are all finite."""
    try:
        array = decode_tensor(value, what)
    except ProtocolError as err:
        raise ReplyError(str(err)) from None
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        raise ReplyError(f"{what} holds NaN or infinite values")
    return array


# -- the envelope -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Refusal:
    """An ``ok: false`` reply: the agent's code and reason, safe to print."""

    code: str
    error: str


def refusal(reply: Mapping[str, Any]) -> Refusal | None:
    """None for ``ok: true``; the :class:`Refusal` for ``ok: false``; :class:`ReplyError` otherwise."""
    if boolean(reply, "ok"):
        return None
    code = reply.get("code", "board")
    error = reply.get("error", "no reason given")
    return Refusal(printable(code, 32) if isinstance(code, str) else "board",
                   printable(error) if isinstance(error, str) else "no reason given")


# -- one schema per reply ---------------------------------------------------------------------------


def facts(value: Any, what: str = "facts") -> dict[str, Any]:
    """A board's facts: at most :data:`MAX_FACTS` keys, scalars or short lists of scalars."""
    raw = mapping(value, what)
    if len(raw) > MAX_FACTS:
        raise ReplyError(f"{what} has {len(raw)} keys; at most {MAX_FACTS}")
    out: dict[str, Any] = {}
    for key, item in raw.items():
        name = printable(key, 64)
        if isinstance(item, list):
            out[name] = [_scalar(v, f"{what}.{name}[]") for v in listing(item, f"{what}.{name}", 64)]
        else:
            out[name] = _scalar(item, f"{what}.{name}")
    return out


@dataclass(frozen=True)
class Hello:
    version: int
    facts: dict[str, Any]
    capabilities: tuple[str, ...] = ()
    """What the agent offers beyond version 1's first ops (``vla``); empty from an older agent."""


def hello(reply: Mapping[str, Any]) -> Hello:
    caps = listing(reply.get("capabilities") or [], "field 'capabilities'", 64)
    return Hello(integer(_get(reply, "version"), "field 'version'", 0, 1 << 20), facts(_get(reply, "facts")),
                 tuple(text(c, "field 'capabilities'[]", 64) for c in caps))


def _io(value: Any, what: str) -> list[dict[str, Any]]:
    out = []
    for i, item in enumerate(listing(value, what, MAX_IO)):
        entry = mapping(item, f"{what}[{i}]")
        shape = listing(_get(entry, "shape"), f"{what}[{i}].shape", 16)
        out.append(
            {
                **{k: _scalar(v, f"{what}[{i}].{k}") for k, v in entry.items() if k != "shape"},
                "name": text(_get(entry, "name"), f"{what}[{i}].name"),
                "shape": [d if isinstance(d, int) and not isinstance(d, bool) else _scalar(d, f"{what}[{i}].shape[]")
                          for d in shape],
            }
        )
    return out


@dataclass(frozen=True)
class Loaded:
    sha256: str
    cached: bool
    size_bytes: int
    load_s: float
    inputs: list[dict[str, Any]]
    outputs: list[dict[str, Any]]
    metadata: dict[str, str]
    providers: list[str]
    session: dict[str, Any]


def loaded(reply: Mapping[str, Any], sha256: str) -> Loaded:
    """A ``load`` reply for the model with ``sha256``."""
    if reply.get("sha256") != sha256:
        raise ReplyError("field 'sha256' does not name the model that was sent")
    metadata = mapping(_get(reply, "metadata"), "field 'metadata'")
    if len(metadata) > MAX_IO or not all(isinstance(v, str) for v in metadata.values()):
        raise ReplyError(f"field 'metadata' must map at most {MAX_IO} keys to strings")
    providers = [text(p, "field 'providers'[]", 64) for p in listing(_get(reply, "providers"), "field 'providers'", 16)]
    if not providers:
        raise ReplyError("field 'providers' is empty")
    session = mapping(_get(reply, "session"), "field 'session'")
    return Loaded(
        sha256,
        boolean(reply, "cached"),
        integer(_get(reply, "size_bytes"), "field 'size_bytes'", 1, 1 << 40),
        seconds(_get(reply, "load_s"), "field 'load_s'"),
        _io(_get(reply, "inputs"), "field 'inputs'"),
        _io(_get(reply, "outputs"), "field 'outputs'"),
        {printable(k, 128): printable(v, 4096) for k, v in metadata.items()},
        providers,
        facts(session, "field 'session'"),
    )


def put_part(reply: Mapping[str, Any], received: int) -> bool:
    """A ``put`` reply after ``received`` bytes in all: whether the board now holds the whole model."""
    if integer(_get(reply, "received"), "field 'received'", 0, 1 << 40) != received:
        raise ReplyError(f"field 'received' is not the {received} bytes sent")
    return boolean(reply, "complete")


@dataclass(frozen=True)
class BenchBatch:
    latencies: dict[str, list[float]]
    """Per component, the seconds of each timed run in this batch (same count for all)."""
    thermal: list[dict[str, Any]]


@dataclass(frozen=True)
class BenchDone:
    count: int
    duration_s: float
    stats: dict[str, Any]
    components: dict[str, dict[str, Any]]
    facts: dict[str, Any] | None
    thermal: list[dict[str, Any]]


def _stats(value: Any, what: str) -> dict[str, Any]:
    """A :func:`simbench_agent.stats.summarize` map: count, then seconds (or null) per statistic."""
    raw = mapping(value, what)
    out: dict[str, Any] = {}
    for key, item in raw.items():
        if key == "count":
            out[key] = integer(item, f"{what}.count", 0, 1 << 40)
        elif item is None and key.endswith("early_stopping_s"):
            out[key] = None
        else:
            out[printable(key, 64)] = seconds(item, f"{what}.{printable(key, 64)}")
    return out


def _thermal(reply: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [facts(t, "field 'thermal'[]") for t in listing(reply.get("thermal") or [], "field 'thermal'", 100_000)]


def bench_event(reply: Mapping[str, Any], names: list[str]) -> BenchBatch | BenchDone:
    """One event of a ``bench`` stream timing the components ``names``."""
    event = reply.get("event")
    if event == "batch":
        per = mapping(_get(reply, "latencies"), "field 'latencies'")
        if set(per) != set(names):
            raise ReplyError(f"field 'latencies' must have exactly the components {names}")
        lists = {n: [seconds(v, f"latencies[{n!r}][]") for v in listing(per[n], f"latencies[{n!r}]", 10_000_000)]
                 for n in names}
        if len({len(v) for v in lists.values()}) > 1:
            raise ReplyError("field 'latencies' has components with different counts")
        return BenchBatch(lists, _thermal(reply))
    if event == "done":
        components = mapping(reply.get("components") or {}, "field 'components'")
        after = reply.get("facts")
        return BenchDone(
            integer(_get(reply, "count"), "field 'count'", 0, 1 << 40),
            number(_get(reply, "duration_s"), "field 'duration_s'", 0.0, 7 * 86_400.0),
            _stats(_get(reply, "stats"), "field 'stats'"),
            {printable(n, 64): _stats(s, f"components[{printable(n, 64)!r}]") for n, s in components.items()},
            None if after is None else facts(after),
            _thermal(reply),
        )
    raise ReplyError(f"field 'event' must be 'batch' or 'done', got {printable(repr(event), 40)}")


def infer(reply: Mapping[str, Any]) -> tuple[list[np.ndarray], float]:
    """An ``infer`` reply: the outputs (finite) and the board-measured seconds."""
    outputs = listing(_get(reply, "outputs"), "field 'outputs'", MAX_IO)
    return ([finite_tensor(t, f"outputs[{i}]") for i, t in enumerate(outputs)],
            seconds(_get(reply, "latency_s"), "field 'latency_s'"))


VLA_COMPONENTS = ("vision", "prefill", "expert")


@dataclass(frozen=True)
class VlaReply:
    """A ``vla`` reply: the normalized chunk (finite), seconds per component and per expert step."""

    chunk: np.ndarray
    components: dict[str, float]
    steps: list[float]
    latency_s: float


def vla(reply: Mapping[str, Any], num_steps: int, shape: tuple[int, ...]) -> VlaReply:
    """A ``vla`` reply to a request for ``num_steps`` steps from noise of ``shape``."""
    chunk = finite_tensor(_get(reply, "chunk"), "chunk")
    if tuple(chunk.shape) != tuple(shape) or chunk.dtype != np.float32:
        raise ReplyError(f"chunk must be float32{list(shape)}, got {chunk.dtype}{list(chunk.shape)}")
    comps = mapping(_get(reply, "components"), "field 'components'")
    if set(comps) != set(VLA_COMPONENTS):
        raise ReplyError(f"field 'components' must have exactly {', '.join(VLA_COMPONENTS)}")
    components = {n: seconds(comps[n], f"components[{n!r}]") for n in VLA_COMPONENTS}
    steps = [seconds(v, "steps[]") for v in listing(_get(reply, "steps"), "field 'steps'", 100_000)]
    if len(steps) != num_steps:
        raise ReplyError(f"field 'steps' has {len(steps)} entries for {num_steps} steps")
    return VlaReply(chunk, components, steps, seconds(_get(reply, "latency_s"), "field 'latency_s'"))


def stub(reply: Mapping[str, Any]) -> tuple[np.ndarray, float]:
    """A ``stub`` reply: the chunk (finite) and the agent's own seconds."""
    return finite_tensor(_get(reply, "chunk"), "chunk"), seconds(_get(reply, "latency_s"), "field 'latency_s'")


__all__ = [
    "MAX_LATENCY_S",
    "BenchBatch",
    "BenchDone",
    "Hello",
    "Loaded",
    "Refusal",
    "ReplyError",
    "bench_event",
    "facts",
    "finite_tensor",
    "hello",
    "infer",
    "loaded",
    "number",
    "refusal",
    "seconds",
    "stub",
    "vla",
    "VlaReply",
    "VLA_COMPONENTS",
]
