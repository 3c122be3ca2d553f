"""CI guards the figures: the physics golden check on the locked versions (tests/golden/physics.py)."""

from __future__ import annotations

import copy
import json

from tests.golden.physics import GOLDEN, check, differences, version_change


def test_the_physics_matches_the_golden_file() -> None:
    lines = check()
    assert not lines, "\n".join(lines)


def test_a_moved_bag_and_a_version_bump_are_named() -> None:
    golden = json.loads(GOLDEN.read_text())
    now = copy.deepcopy(golden)
    now["versions"]["mujoco"] = "9.9.9"
    now["expert"][1]["pouch_final_m"][0] += 0.01
    now["run"]["success_rate"] = -1.0
    lines = differences(golden, now)
    assert len(lines) == 2 and "bag ends 10.0 mm away" in lines[0] and "success_rate" in lines[1]
    assert version_change(golden, now) == f"mujoco {golden['versions']['mujoco']} -> 9.9.9"
    assert differences(golden, golden) == []
