"""Shared fixtures: headless rendering and a scratch results directory."""

from __future__ import annotations

import os

os.environ.setdefault("MUJOCO_GL", "egl")
