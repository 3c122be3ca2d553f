"""sha256 of model files: one home for the digest that names a model everywhere (provenance, the
device model's priced graphs, device-profile matching, the board's upload)."""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path


@lru_cache(maxsize=128)
def _digest(path: str, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def file_sha256(path: str | Path) -> str:
    """The file's sha256 hex digest (cached by resolved path, size and modification time)."""
    resolved = Path(path).resolve()
    st = resolved.stat()
    return _digest(str(resolved), st.st_size, st.st_mtime_ns)


__all__ = ["file_sha256"]
