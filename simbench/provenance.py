"""What produced a result: simbench's commit, the versions that move its numbers, the CPU, the model.

Every record simbench writes (``metrics.json``, ``summary.txt``, ``trace.json``, ``link.json``, the
nightly's report and baseline, ``results/reference/`` files) carries :func:`versions` under
``versions``, so a figure can be traced to the physics engine, the runtime and the model behind it.
"""

from __future__ import annotations

import platform
import subprocess
from collections.abc import Iterable, Mapping
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

from simbench.hashing import file_sha256
from simbench.paths import REPO_DIR

PACKAGES: tuple[str, ...] = ("mujoco", "onnxruntime", "numpy")
"""The libraries whose versions move simbench's figures (physics, inference, arithmetic)."""
COMPARED_KEYS: tuple[str, ...] = ("mujoco", "onnxruntime", "numpy", "python", "cpu")
"""The keys two results must share to be compared (``report`` warns when a sweep mixes them)."""


def package_version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


@lru_cache(maxsize=1)
def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo``), else what the platform module says."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith(("model name", "hardware", "cpu model")):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


@lru_cache(maxsize=1)
def git_state() -> tuple[str | None, bool | None]:
    """(commit, dirty) of the checkout simbench runs from; (None, None) outside a git checkout."""
    if not (REPO_DIR / ".git").exists():
        return None, None
    try:
        commit = subprocess.run(
            ["git", "-C", str(REPO_DIR), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, check=True
        ).stdout.strip()
        status = subprocess.run(
            ["git", "-C", str(REPO_DIR), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True, text=True, timeout=5, check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None, None
    return commit or None, bool(status.strip())


def model_sha256(files: Mapping[str, Path] | None) -> str | dict[str, str] | None:
    """One file's sha256, or {component: sha256} for a policy of several graphs."""
    if not files:
        return None
    if len(files) == 1:
        return file_sha256(next(iter(files.values())))
    return {name: file_sha256(Path(p)) for name, p in files.items()}


def versions(model_files: Mapping[str, Path] | None = None) -> dict[str, Any]:
    """The ``versions`` object of a result record."""
    commit, dirty = git_state()
    out: dict[str, Any] = {
        "simbench": package_version("simbench"),
        "git_commit": commit,
        "git_dirty": dirty,
        **{name: package_version(name) for name in PACKAGES},
        "python": platform.python_version(),
        "cpu": cpu_model(),
    }
    out["model_sha256"] = model_sha256(model_files)  # None: no model (a timing-only run, a link measurement)
    return out


def policy_model_files(policy: Any) -> dict[str, Path] | None:
    """The ONNX files a policy object runs ({component: path}); None for a policy without a model."""
    files = getattr(policy, "model_files", None)
    return dict(files) if files else None


def describe(v: Mapping[str, Any]) -> str:
    """One line: ``simbench 0.1.0 @ abc1234 (dirty), mujoco 4.0.1, onnxruntime 1.32.0, numpy 2.4.6, Python 3.11.7, CPU``."""
    commit = v.get("git_commit")
    where = f" @ {commit[:10]}{' (dirty)' if v.get('git_dirty') else ''}" if commit else ""
    libs = ", ".join(f"{name} {v.get(name)}" for name in PACKAGES)
    return f"simbench {v.get('simbench')}{where}, {libs}, Python {v.get('python')}, {v.get('cpu')}"


def mixed_versions(records: Iterable[Mapping[str, Any] | None]) -> dict[str, list[str]]:
    """{key: the distinct values} for each of :data:`COMPARED_KEYS` that differs among ``records``
    (a record without ``versions`` counts as "unrecorded")."""
    seen: dict[str, set[str]] = {k: set() for k in COMPARED_KEYS}
    for rec in records:
        for k in COMPARED_KEYS:
            seen[k].add(str(rec.get(k)) if rec else "unrecorded")
    return {k: sorted(v) for k, v in seen.items() if len(v) > 1}


__all__ = [
    "COMPARED_KEYS", "PACKAGES", "cpu_model", "describe", "git_state", "mixed_versions", "model_sha256",
    "package_version", "policy_model_files", "versions",
]
