"""``python -m simbench ...`` as a user runs it: a fresh interpreter in the repository root."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def simbench(*args: str, timeout: float = 600, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``env``: the process environment (default: this one's)."""
    return subprocess.run([sys.executable, "-m", "simbench", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, check=False, env=env)
