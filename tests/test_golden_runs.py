"""A restructuring leaves every metrics key of the default run and of a sweep bit for bit (tests/golden/run_metrics.py)."""

from __future__ import annotations

import copy
import json

from tests.golden.run_metrics import GOLDEN, differences, take


def test_the_default_run_and_a_sweep_match_the_golden_file() -> None:
    lines = differences(json.loads(GOLDEN.read_text()), take())
    assert not lines, "\n".join(lines)


def test_a_moved_key_and_a_lost_job_are_named() -> None:
    golden = json.loads(GOLDEN.read_text())
    assert len(golden["sweep"]["jobs"]) == 12 and golden["default_run"]["metrics"]["episodes"] == 2
    now = copy.deepcopy(golden)
    now["default_run"]["metrics"]["stall_fraction"] = -1.0
    now["sweep"]["jobs"].pop(next(iter(now["sweep"]["jobs"])))
    lines = differences(golden, now)
    assert any("default run: stall_fraction" in line for line in lines)
    assert lines[-1].startswith("sweep jobs")
    assert differences(golden, golden) == []
