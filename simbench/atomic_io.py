"""Atomic result files: write to a temporary name in the same directory, then rename.

A run killed mid-write leaves either the old file or the new one, never half of one, so a resumed
sweep can trust any ``status.json`` it finds. The file gets the permissions a plain ``open`` would
give (``0666`` less the umask), not ``mkstemp``'s private ``0600``.
"""

from __future__ import annotations

import json
import math
import os
import signal
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


def umask() -> int:
    """The process umask (read by setting it and putting it back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path to write; it replaces ``path`` only if the block succeeds."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~umask())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


@contextmanager
def signals_held() -> Iterator[None]:
    """Hold SIGINT and SIGTERM back for a few renames that belong together (a trace and its
    record); a signal that arrives meanwhile is delivered right after the block. Only the main
    thread receives Python's signal handlers, so elsewhere this does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    held = {signal.SIGINT, signal.SIGTERM}
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def write_text(path: Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def finite_json(data: Any) -> Any:
    """``data`` with NaN and infinities as None: JSON has no spelling for them (``NaN`` and
    ``Infinity`` are Python's, and other readers reject the file)."""
    if isinstance(data, float):
        return data if math.isfinite(data) else None
    if isinstance(data, dict):
        return {k: finite_json(v) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [finite_json(v) for v in data]
    return data


def write_json(path: Path, data: Any) -> None:
    """Strict JSON (non-finite numbers become null), written atomically."""
    write_text(path, json.dumps(finite_json(data), indent=2, sort_keys=True, allow_nan=False) + "\n")


def write_with(path: Path, writer: Callable[[Path], None]) -> None:
    """Atomically write with any writer that takes a path (parquet, savefig...)."""
    with atomic_path(path) as tmp:
        writer(tmp)
