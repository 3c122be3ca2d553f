"""Optional extras a config key can ask for, and the one line that says how to install one.

A key that needs an optional package (``rerun=true`` needs ``rerun-sdk``) is checked when the config
is validated, so a run without it fails before anything is written, with the ``pip install`` that
fixes it. Nothing here imports the extra at module level: ``import simbench`` stays light.
"""

from __future__ import annotations

RERUN_SDK_RANGE = (0, 41), (0, 42)
"""rerun-sdk versions the recording is written for (pyproject's ``[rerun]`` extra: >=0.41,<0.42);
its logging API changes between minor versions."""
RERUN_INSTALL = "pip install -e '.[rerun]' (from the repository; or pip install 'rerun-sdk>=0.41,<0.42')"


def rerun_sdk_problem() -> str | None:
    """Why ``rerun-sdk`` cannot be used here (``not installed``, another version), or None when it can."""
    try:
        import rerun
    except ImportError:
        return "not installed"
    version = str(getattr(rerun, "__version__", "0"))
    try:
        found = tuple(int(p) for p in version.split(".")[:2])
    except ValueError:
        found = (0, 0)
    low, high = RERUN_SDK_RANGE
    if not low <= found < high:
        return f"{version} is installed"
    return None


__all__ = ["RERUN_INSTALL", "rerun_sdk_problem"]
