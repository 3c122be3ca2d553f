"""Where things live: the one place for repository paths."""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
REPO_DIR = PACKAGE_DIR.parent
CONF_DIR = Path(os.environ.get("SIMBENCH_CONF", REPO_DIR / "conf"))
SCENES_DIR = Path(os.environ.get("SIMBENCH_SCENES", REPO_DIR / "scenes"))
MODELS_DIR = PACKAGE_DIR / "models"
"""Shipped ONNX models (package data)."""
