"""The success check on constructed states: in the mug, on the table, on the rim, mug tipped."""

from __future__ import annotations

import mujoco
import numpy as np
import pytest

from simbench.envs.teabag_mug import TeaBagMugEnv, _set_free


@pytest.fixture(scope="module")
def env() -> TeaBagMugEnv:
    env = TeaBagMugEnv(cameras=())
    env.reset(seed=0, options={"cluster": 6})
    return env


def _resting_in_mug_z(env: TeaBagMugEnv) -> float:
    """Pouch centre height lying flat 0.2 mm above the mug's floor (the floor comes from the scene)."""
    checker = env.success_checker
    return checker.floor_m + 0.0002 + float(checker.half[2])


def _place(
    env: TeaBagMugEnv, pouch: tuple[float, float, float], pouch_quat=None, mug_quat=(1.0, 0, 0, 0), mug_z: float = 0.0
) -> None:
    data = env.data
    mug = np.array([0.30, 0.0, mug_z])
    _set_free(data, env._mug_q, tuple(mug), 0.0)
    data.qpos[env._mug_q + 3 : env._mug_q + 7] = mug_quat
    _set_free(data, env._pouch_q, pouch, 0.3)
    if pouch_quat is not None:
        data.qpos[env._pouch_q + 3 : env._pouch_q + 7] = pouch_quat
    mujoco.mj_forward(env.model, data)


def test_pouch_resting_in_the_mug_succeeds(env: TeaBagMugEnv) -> None:
    _place(env, (0.30, 0.0, _resting_in_mug_z(env)))
    check = env.success_check()
    assert check.inside and check.below_rim and check.upright and check.off_table
    assert check.success


def test_pouch_on_the_table_fails(env: TeaBagMugEnv) -> None:
    _place(env, (0.17, 0.0, 0.0058))  # resting, contacts slightly penetrate
    check = env.success_check()
    assert not check.success and not check.inside and not check.off_table


def test_pouch_resting_on_the_rim_fails(env: TeaBagMugEnv) -> None:
    _place(env, (0.30 + 0.03, 0.0, 0.07 + 0.006))
    check = env.success_check()
    assert not check.success and not check.below_rim


def test_tipped_mug_fails_even_with_the_pouch_inside(env: TeaBagMugEnv) -> None:
    # Mug on its side (90 degrees about y, opening towards +x); the pouch 4 cm inside it.
    quat = (np.cos(np.pi / 4), 0.0, np.sin(np.pi / 4), 0.0)
    _place(env, (0.30 + 0.04, 0.0, 0.041), pouch_quat=quat, mug_quat=quat, mug_z=0.041)
    check = env.success_check()
    assert check.inside and not check.upright and not check.success


def test_success_needs_the_dwell(env: TeaBagMugEnv) -> None:
    env.reset(seed=0, options={"cluster": 6})
    _place(env, (0.30, 0.0, _resting_in_mug_z(env)))
    env.data.qvel[:] = 0
    ticks = 0
    while not env.succeeded and ticks < 100:
        env.apply_action(None)
        ticks += 1
    assert env.succeeded and ticks == env.dwell_ticks
    assert env.success_time_s is not None and env.success_time_s < env.time_s
