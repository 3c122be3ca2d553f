"""Expert takeover (DAgger-style data): the policy drives, the expert records the rest from there."""

from __future__ import annotations

import numpy as np
import pytest

from simbench.envs.teabag_mug import TeaBagMugEnv
from simbench.envs.teabag_scheduler_env import TeaBagSchedulerEnv
from simbench.expert.scripted_policy import ScriptedPolicy
from simbench.expert.takeover import run_takeover_episode

START = {"cluster": 4, "start": "table", "start_index": 0}
CHUNK = 30


@pytest.fixture(scope="module")
def env() -> TeaBagSchedulerEnv:
    return TeaBagSchedulerEnv(TeaBagMugEnv(cameras=()))


def _takeover(env: TeaBagSchedulerEnv, switch_s: float, chunk: int = CHUNK, finish_grasp: bool = False):
    # The driver is the scripted expert itself (chunked): its timeline is known, so each switch
    # time lands in a known phase (approach, closing, lifted, bag in the mug, done).
    return run_takeover_episode(env, ScriptedPolicy(env, actions_per_chunk=chunk), chunk, 3, START, switch_s,
                                finish_grasp=finish_grasp)


def test_switch_before_the_grasp_records_only_the_experts_part(env: TeaBagSchedulerEnv) -> None:
    ep, info = _takeover(env, 1.0)
    assert info.outcome == "expert" and info.phase == "approach" and ep is not None and ep.success
    assert info.switch_s == pytest.approx(1.0, abs=1e-6)  # 60 ticks = 2 chunks of 30: a replanning point
    # 30 fps frames from the switch to the end, nothing of the policy's first second.
    assert abs(len(ep.actions) - (ep.duration_s - info.switch_s) * 30) <= 1
    assert ep.attempts == 1 and ep.events["grasp"] > info.switch_s


@pytest.mark.parametrize("switch_s", [2.0, 3.0])
def test_finish_grasp_keeps_a_bag_off_the_table(env: TeaBagSchedulerEnv, switch_s: float) -> None:
    ep, info = _takeover(env, switch_s, chunk=15, finish_grasp=True)
    assert info.outcome == "expert" and info.phase == "lift" and ep is not None and ep.success
    # The expert lifts and carries what the policy holds: no second grasp.
    assert ep.attempts == 1 and ep.events["grasp"] == pytest.approx(info.switch_s)


def test_finish_grasp_closes_on_the_bag_the_jaws_are_shut_on(env: TeaBagSchedulerEnv) -> None:
    ep, info = _takeover(env, 1.75, chunk=15, finish_grasp=True)
    assert info.outcome == "expert" and info.phase == "close" and ep is not None and ep.success
    assert ep.attempts == 1 and info.switch_s < ep.events["grasp"] < info.switch_s + 0.6
    assert ep.actions[0, 5] < 0  # the first recorded jaw command is "closed", not "open"


def test_default_carries_a_hanging_bag_and_reapproaches_otherwise(env: TeaBagSchedulerEnv) -> None:
    """The shipped data's labelling: carry what hangs in the jaws, re-open on anything else
    (a grasp still on the table included)."""
    ep, info = _takeover(env, 3.0, chunk=15)
    assert info.phase == "carry" and ep is not None and ep.success
    assert ep.attempts == 1 and ep.events["grasp"] == pytest.approx(info.switch_s)
    ep, info = _takeover(env, 1.75, chunk=15)
    assert info.phase == "approach" and ep is not None and ep.success
    assert ep.actions[0, 5] > 0.5  # re-opens


def test_switch_time_rounds_up_to_a_replanning_point(env: TeaBagSchedulerEnv) -> None:
    _, info = _takeover(env, 1.01)
    assert info.switch_s == pytest.approx(1.5, abs=1e-6)


@pytest.mark.parametrize("switch_s, outcome", [(4.0, "in_mug"), (15.0, "policy_done")])
def test_nothing_to_demonstrate(env: TeaBagSchedulerEnv, switch_s: float, outcome: str) -> None:
    ep, info = _takeover(env, switch_s)
    assert ep is None and info.outcome == outcome
    assert info.switch_s <= switch_s + 0.5


def test_same_seed_same_episode(env: TeaBagSchedulerEnv) -> None:
    a, _ = _takeover(env, 2.5)
    b, _ = _takeover(env, 2.5)
    assert a is not None and b is not None
    np.testing.assert_array_equal(a.actions, b.actions)
    np.testing.assert_array_equal(a.states, b.states)
