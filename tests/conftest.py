"""Shared fixtures: headless rendering and a scratch results directory."""

from __future__ import annotations

import os

os.environ.setdefault("MUJOCO_GL", "egl")

from hypothesis import settings

# Property tests draw the same examples on every run, so a submission's CI result does not depend
# on the luck of the search. Exploring for new counterexamples is a deliberate act:
# HYPOTHESIS_PROFILE=explore python -m pytest tests/scheduler
settings.register_profile("ci", derandomize=True)
settings.register_profile("explore", derandomize=False)  # max_examples stays per test
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
