"""The wire protocol shared by the board agent and the simbench host.

One TCP connection carries frames; a frame is a 4-byte big-endian length followed by that many bytes
of msgpack. The length is checked against a cap *before* the body is read, so an oversized message
costs the agent four bytes of reading. Bodies decode with ``raw=False, strict_map_key=True`` and no
extension types (an ext, timestamps included, is refused), into plain maps, arrays, strings, bytes,
numbers. Nothing is ever unpickled or evaluated.

Every message is a map. Requests carry ``op``; replies carry ``ok`` (and ``error``/``code`` when
false). The first request of a connection must be ``hello`` with the protocol version and the token;
anything else, a wrong token or another version ends the connection with a one-line reason.

Tensors travel as ``{"dtype": NAME, "shape": [d0, d1, ...], "data": bytes}`` with ``NAME`` from
:data:`DTYPES`, at most :data:`MAX_NDIM` dimensions, and exactly ``prod(shape) * itemsize`` bytes.
"""

from __future__ import annotations

import socket
import struct
import time
from collections.abc import Mapping
from typing import Any

import msgpack
import numpy as np
from numpy.typing import NDArray

PROTOCOL_VERSION = 1
"""Bumped on any incompatible change; both ends refuse another version with a clear message."""

DEFAULT_PORT = 7890
DEFAULT_MAX_MESSAGE_BYTES = 40 * 1024 * 1024
"""Cap on one frame (both directions). Large enough for a 32 MiB model upload, far below 64 MiB."""
MAX_HELLO_BYTES = 4096
"""Cap on a frame from a peer that has not authenticated yet: a hello (op, version, token) is under
200 bytes, so an unauthenticated peer can make the agent buffer at most this much."""

HEADER = struct.Struct(">I")
DTYPES: dict[str, np.dtype[Any]] = {
    name: np.dtype(name)
    for name in ("float32", "float16", "float64", "int8", "uint8", "int16", "int32", "int64", "bool")
}
"""The tensor element types allowed on the wire (ONNX's common ones; no object arrays)."""
MAX_NDIM = 8
OPS = ("hello", "load", "put", "bench", "infer", "vla", "stub", "bye")
"""Requests the agent answers: a fixed set."""
CAPABILITIES = ("vla", "rtc", "put")
"""What this agent offers beyond protocol version 1's first ops, listed in its hello reply: ``vla`` is
the multi-graph VLA ``infer`` (vision, prefill once, the expert's denoising steps over its KV cache);
``put`` uploads a model in parts, so a model larger than one message (a deployed-size ACT is 140 MB)
reaches the board with every frame still under the message cap.
A host checks it before sending one; an agent without it refuses ``vla`` as an unknown op (one line)."""
UPLOAD_PART_BYTES = 8 * 1024 * 1024
"""Bytes per ``put`` part a host sends (the agent takes any part that fits one message)."""
MAX_VLA_STEPS = 1000
"""Most denoising steps one ``vla`` request may ask for."""


class ProtocolError(ValueError):
    """A message that breaks the protocol. The text is one line, safe to send back."""


class ConnectionClosed(ConnectionError):
    """The peer closed the connection (between frames or inside one)."""


def _refuse_ext(code: int, data: bytes) -> Any:
    raise ProtocolError(f"msgpack extension type {code} is not allowed")


def pack(message: Mapping[str, Any]) -> bytes:
    """msgpack bytes of a message (bytes stay bytes: ``use_bin_type``)."""
    return msgpack.packb(message, use_bin_type=True)


def unpack(body: bytes) -> dict[str, Any]:
    """Decode one frame body into a map; anything else is a :class:`ProtocolError`."""
    try:
        message = msgpack.unpackb(
            body,
            raw=False,
            strict_map_key=True,
            use_list=True,
            ext_hook=_refuse_ext,
            max_ext_len=0,
            max_str_len=len(body),
            max_bin_len=len(body),
            max_array_len=len(body),
            max_map_len=len(body),
        )
    except ProtocolError:
        raise
    except Exception as err:  # msgpack raises several types (ExtraData, FormatError, StackError, ValueError...)
        raise ProtocolError(f"not a msgpack message ({type(err).__name__})") from None
    if not isinstance(message, dict):
        raise ProtocolError(f"a message must be a map, got {type(message).__name__}")
    return message


def frame(message: Mapping[str, Any], max_bytes: int = DEFAULT_MAX_MESSAGE_BYTES) -> bytes:
    body = pack(message)
    if len(body) > max_bytes:
        raise ProtocolError(f"message of {len(body)} bytes exceeds the cap of {max_bytes} bytes")
    return HEADER.pack(len(body)) + body


def send(sock: socket.socket, message: Mapping[str, Any], max_bytes: int = DEFAULT_MAX_MESSAGE_BYTES) -> None:
    sock.sendall(frame(message, max_bytes))


def _read_exact(sock: socket.socket, n: int, deadline: float | None) -> bytes:
    """``n`` bytes from ``sock``; with ``deadline`` (a ``time.monotonic()`` instant) every recv waits
    only for the time left, so a peer trickling one byte at a time cannot stretch the read past it."""
    buf = bytearray()
    while len(buf) < n:
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("frame not received within its deadline")
            sock.settimeout(left)
        chunk = sock.recv(min(n - len(buf), 1 << 20))
        if not chunk:
            raise ConnectionClosed("connection closed by peer" + (" mid-frame" if buf else ""))
        buf += chunk
    return bytes(buf)


def read_frame(sock: socket.socket, max_bytes: int = DEFAULT_MAX_MESSAGE_BYTES, deadline: float | None = None) -> bytes:
    """The next frame's body; the length is checked against ``max_bytes`` before reading it.

    ``deadline`` (``time.monotonic()`` seconds) bounds the WHOLE frame, header and body: past it a
    :class:`TimeoutError` is raised however the bytes trickle in. Without it each recv uses the
    socket's own timeout. This is the one frame reader of both ends (agent and host)."""
    (length,) = HEADER.unpack(_read_exact(sock, HEADER.size, deadline))
    if length == 0:
        raise ProtocolError("empty message")
    if length > max_bytes:
        raise ProtocolError(f"message of {length} bytes exceeds the cap of {max_bytes} bytes")
    return _read_exact(sock, length, deadline)


def receive(
    sock: socket.socket, max_bytes: int = DEFAULT_MAX_MESSAGE_BYTES, deadline: float | None = None
) -> dict[str, Any]:
    return unpack(read_frame(sock, max_bytes, deadline))


# -- field checks -----------------------------------------------------------------------------------


def field(
    message: Mapping[str, Any], key: str, kind: type | tuple[type, ...], required: bool = True, default: Any = None
) -> Any:
    """``message[key]`` checked against ``kind`` (bool is not an int here)."""
    if key not in message:
        if required:
            raise ProtocolError(f"field {key!r} is missing")
        return default
    value = message[key]
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if isinstance(value, bool) and bool not in kinds:
        raise ProtocolError(f"field {key!r} must be {'/'.join(k.__name__ for k in kinds)}, got bool")
    if float in kinds and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, kinds):
        raise ProtocolError(f"field {key!r} must be {'/'.join(k.__name__ for k in kinds)}, got {type(value).__name__}")
    return value


def int_field(message: Mapping[str, Any], key: str, lo: int, hi: int, default: int | None = None) -> int:
    value = field(message, key, int, required=default is None, default=default)
    if not lo <= value <= hi:
        raise ProtocolError(f"field {key!r}={value} must be in [{lo}, {hi}]")
    return int(value)


def float_field(message: Mapping[str, Any], key: str, lo: float, hi: float, default: float | None = None) -> float:
    value = field(message, key, float, required=default is None, default=default)
    if not lo <= value <= hi:  # also false for NaN
        raise ProtocolError(f"field {key!r}={value} must be in [{lo}, {hi}]")
    return float(value)


def str_list(
    message: Mapping[str, Any], key: str, max_items: int = 16, max_len: int = 128, default: list[str] | None = None
) -> list[str]:
    value = field(message, key, list, required=default is None, default=default)
    if len(value) > max_items or not all(isinstance(v, str) and 0 < len(v) <= max_len for v in value):
        raise ProtocolError(f"field {key!r} must be a list of at most {max_items} non-empty strings")
    return list(value)


SHA256_HEX = frozenset("0123456789abcdef")


def sha256_field(message: Mapping[str, Any], key: str = "sha256") -> str:
    value = field(message, key, str)
    if len(value) != 64 or not set(value) <= SHA256_HEX:
        raise ProtocolError(f"field {key!r} must be 64 lowercase hex digits (a sha256)")
    return str(value)


# -- tensors ----------------------------------------------------------------------------------------


def encode_tensor(array: NDArray[Any]) -> dict[str, Any]:
    array = np.ascontiguousarray(array)
    name = array.dtype.name
    if name not in DTYPES:
        raise ProtocolError(f"dtype {name} is not allowed; allowed: {', '.join(DTYPES)}")
    return {"dtype": name, "shape": list(array.shape), "data": array.tobytes()}


def decode_tensor(value: Any, what: str = "tensor", max_elements: int = 1 << 26) -> NDArray[Any]:
    """A wire tensor back to a (read-only) numpy array; every field checked first."""
    if not isinstance(value, dict) or set(value) != {"dtype", "shape", "data"}:
        raise ProtocolError(f"{what} must be a map with exactly dtype, shape, data")
    dtype_name = value["dtype"]
    if not isinstance(dtype_name, str) or dtype_name not in DTYPES:
        raise ProtocolError(f"{what}: dtype {dtype_name!r} is not allowed; allowed: {', '.join(DTYPES)}")
    shape = value["shape"]
    if (
        not isinstance(shape, list)
        or len(shape) > MAX_NDIM
        or not all(isinstance(d, int) and not isinstance(d, bool) and 0 <= d <= max_elements for d in shape)
    ):
        raise ProtocolError(f"{what}: shape must be a list of at most {MAX_NDIM} integers >= 0")
    data = value["data"]
    if not isinstance(data, bytes):
        raise ProtocolError(f"{what}: data must be bytes")
    count = 1
    for d in shape:
        count *= d
        if count > max_elements:
            raise ProtocolError(f"{what}: more than {max_elements} elements")
    dtype = DTYPES[dtype_name]
    if count * dtype.itemsize != len(data):
        raise ProtocolError(
            f"{what}: {len(data)} bytes do not hold {dtype_name}{shape} ({count * dtype.itemsize} bytes)"
        )
    return np.frombuffer(data, dtype=dtype).reshape(shape)


def encode_tensors(tensors: Mapping[str, NDArray[Any]]) -> dict[str, Any]:
    return {name: encode_tensor(t) for name, t in tensors.items()}


def decode_tensors(value: Any, what: str = "inputs", max_tensors: int = 64) -> dict[str, NDArray[Any]]:
    if not isinstance(value, dict) or len(value) > max_tensors:
        raise ProtocolError(f"{what} must be a map of at most {max_tensors} name -> tensor")
    return {name: decode_tensor(t, f"{what}[{name!r}]") for name, t in value.items()}


__all__ = [
    "DEFAULT_MAX_MESSAGE_BYTES",
    "DEFAULT_PORT",
    "DTYPES",
    "CAPABILITIES",
    "MAX_HELLO_BYTES",
    "MAX_VLA_STEPS",
    "OPS",
    "PROTOCOL_VERSION",
    "UPLOAD_PART_BYTES",
    "ConnectionClosed",
    "ProtocolError",
    "decode_tensor",
    "decode_tensors",
    "encode_tensor",
    "encode_tensors",
    "field",
    "frame",
    "pack",
    "read_frame",
    "receive",
    "send",
    "unpack",
]
