"""Run directories: made exclusively, locked while a run writes, named safely inside a sweep.

* :func:`reserve` creates a run directory that no other run has: when the name exists (a second run
  into the same ``hydra.run.dir``, three runs started in the same second), it adds ``-2``, ``-3``...
  ``mkdir`` is atomic, so two processes never get the same directory.
* :func:`locked` holds an exclusive ``flock`` on ``<dir>/.lock`` while a run writes; a sweep job
  whose directory another process is writing is refused instead of mixing files. The kernel drops
  the lock when the process dies (SIGKILL included), so a stale lock never blocks a resume.
* :func:`job_dirname` names a sweep job's folder from its overrides: a readable prefix and a hash
  of the whole override string, bounded in length and free of ``/``, so a long override cannot
  exceed the file-name limit and a value holding ``../`` cannot leave the sweep folder. The same
  overrides give the same name (an interrupted sweep resumes); the overrides themselves are in the
  job's ``.hydra/overrides.yaml``.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from simbench.errors import bad_value

LOCK_FILE = ".lock"
PREFIX_CHARS = 120
"""Readable part of a job folder name; with the hash the name stays well below NAME_MAX (255)."""


class RunDirBusy(RuntimeError):
    """Another live process holds the run directory's lock."""


def check_dir_path(path: Path, key: str) -> None:
    """ConfigError naming ``key`` when ``path`` is empty, is a file, lies under a file, or lies in a
    directory this process cannot write."""
    if not str(path).strip():
        raise bad_value(key, str(path), "must be a directory path, not empty")
    for parent in [path, *path.parents]:
        if parent.exists() and not parent.is_dir():
            what = "is a file" if parent == path else f"is under a file ({parent})"
            raise bad_value(key, str(path), f"{what}; give a directory")
        if parent.is_dir():  # the nearest existing directory: results go in it or below it
            if not os.access(parent, os.W_OK | os.X_OK):
                raise bad_value(key, str(path), f"cannot be written ({parent} is not writable); give a directory")
            return


def reserve(path: Path, key: str = "hydra.run.dir") -> Path:
    """Create ``path`` (or ``path-2``, ``path-3``... when taken) and return the one created."""
    check_dir_path(path, key)
    if not path.name or path.name in (".", ".."):  # '', '.', '/': a run directory must be a new, named one
        raise bad_value(key, str(path), "must name a new directory (not '', '.', '..' or '/')")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        for i in range(1, 10_000):
            candidate = path if i == 1 else path.with_name(f"{path.name}-{i}")
            try:
                candidate.mkdir()
                return candidate
            except FileExistsError:
                continue
    except OSError as err:
        raise bad_value(key, str(path), f"cannot be created ({os.strerror(err.errno or 0) or err})") from None
    raise bad_value(key, str(path), "and 9,999 numbered variants exist; choose another directory")


@contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold ``<path>/.lock`` exclusively for the block; RunDirBusy when another process holds it."""
    path.mkdir(parents=True, exist_ok=True)
    fd = os.open(path / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as err:
            if err.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise RunDirBusy(f"{path} is being written by another run") from None
            raise
        yield
    finally:
        os.close(fd)  # closing releases the lock


def job_dirname(override_dirname: str) -> str:
    """``<readable prefix>-<hash>`` for a sweep job (see the module docstring)."""
    digest = hashlib.sha256(override_dirname.encode()).hexdigest()[:10]
    # keys shortened to their last part (policy.chunk_size=25 -> chunk_size=25); the hash keeps them apart
    short = ",".join(re.sub(r"^[+~]*(?:[^=,]*\.)?", "", part, count=1) for part in override_dirname.split(","))
    readable = re.sub(r"[^A-Za-z0-9._=,+-]+", "_", short).replace("..", "_").strip("._-")
    return f"{readable[:PREFIX_CHARS].rstrip('._-') or 'job'}-{digest}"


def is_empty_run_dir(path: Path) -> bool:
    """Only what Hydra writes before the task starts (``.hydra/``, ``run.log``, the lock)."""
    return path.is_dir() and all(p.name in (".hydra", "run.log", LOCK_FILE) for p in path.iterdir())


__all__ = ["RunDirBusy", "check_dir_path", "is_empty_run_dir", "job_dirname", "locked", "reserve"]
