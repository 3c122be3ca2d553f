"""The scripted expert: IK reaches the workspace, the expert succeeds, the policy runtime works."""

from __future__ import annotations

import numpy as np
import pytest

from simbench.config.options import load_option
from simbench.envs.arm_ik import ArmIK
from simbench.envs.teabag_mug import TeaBagMugEnv
from simbench.envs.teabag_scheduler_env import TeaBagSchedulerEnv
from simbench.envs.workspace import CLUSTER_CENTERS, TRAINING_CLUSTERS, VALIDATION_CLUSTER
from simbench.expert.rollout import run_expert_episode
from simbench.expert.scripted_policy import ScriptedPolicy
from simbench.policies.request import PolicyRequest


@pytest.fixture(scope="module")
def env() -> TeaBagMugEnv:
    return TeaBagMugEnv(cameras=())


@pytest.mark.parametrize("cluster", sorted(CLUSTER_CENTERS))
def test_ik_reaches_every_cell_corner(env: TeaBagMugEnv, cluster: int) -> None:
    ik = ArmIK(env.model)
    cx, cy = CLUSTER_CENTERS[cluster]
    for dx in (-0.045, 0.045):
        for dy in (-0.045, 0.045):
            target = np.array([cx + dx, cy + dy, 0.016])
            yaw = ik.across_yaw(target)
            result = ik.solve_robust(target, yaw, ik.seed(target, yaw))
            assert result.position_error_m < 5e-3, (cluster, dx, dy, result)


def test_ik_reaches_the_release_pose_with_the_wrist_at_its_limit(env: TeaBagMugEnv) -> None:
    """Over the mug the wrist flex pins at its limit; before the solver left pinned joints out of
    the step it stopped 25 mm past the mug's centre there, and the expert dropped the bag off-centre."""
    ik = ArmIK(env.model)
    target = np.array([0.30, 0.0, 0.105])
    yaw = ik.across_yaw(target)
    result = ik.solve_robust(target, yaw, ik.seed(target, yaw))
    assert result.position_error_m < 2e-3, result
    flex = ik.upper[3]
    assert abs(result.q[3] - flex) < 1e-6  # the case this guards: wrist flex on its limit


def _success_rate(env: TeaBagMugEnv, clusters, seeds, start: str = "table") -> float:
    wins = [run_expert_episode(env, 100 * k + s, {"cluster": k, "start": start, "start_index": s}, cameras=()).success
            for k in clusters for s in seeds]
    return float(np.mean(wins))


def test_expert_succeeds_small(env: TeaBagMugEnv) -> None:
    """CI-sized: 6 table starts and 4 recovery starts. The expert measures ~99% on table starts
    (109/110 over all clusters) and 44/44 on recovery starts; the bar leaves room for one miss."""
    assert _success_rate(env, (2, 5, 8), range(2)) >= 5 / 6
    assert (
        _success_rate(env, (3, 6), range(2), start="holding") + _success_rate(env, (3, 6), range(2), start="beside")
        >= 1.75
    )


def test_expert_episode_is_deterministic(env: TeaBagMugEnv) -> None:
    a = run_expert_episode(env, 5, {"cluster": 3}, cameras=())
    b = run_expert_episode(env, 5, {"cluster": 3}, cameras=())
    assert a.success == b.success and np.array_equal(a.actions, b.actions) and np.array_equal(a.states, b.states)


@pytest.mark.slow
@pytest.mark.parametrize("cluster", sorted(CLUSTER_CENTERS))
def test_expert_success_rate_per_cluster(env: TeaBagMugEnv, cluster: int) -> None:
    """As benchmarks/expert_success.py measures it: 20 table starts and 2 of each recovery start per
    cluster. Measured 98.5% overall, 100% in eight clusters, 96% (23/24) in clusters 1 and 11 and 92%
    (22/24) in cluster 7, whose far corner (x 0.31, y 0.14: table 18 and beside 0) is at the edge of
    the arm's reach: the grasp is retried five times and missed, identically on MuJoCo 4.0.0 and 4.0.1."""
    wins = round(20 * _success_rate(env, (cluster,), range(20)))
    wins += round(sum(2 * _success_rate(env, (cluster,), range(2), start=s) for s in ("holding", "beside")))
    assert wins >= (22 if cluster == 7 else 23), wins


@pytest.mark.slow
@pytest.mark.parametrize("start", ["holding", "beside"])
def test_expert_completes_recovery_starts(env: TeaBagMugEnv, start: str) -> None:
    assert _success_rate(env, TRAINING_CLUSTERS[:5], range(2), start=start) >= 0.9


def test_episode_plan_is_the_published_protocol() -> None:
    sched = TeaBagSchedulerEnv.from_config({**load_option("env", "teabag_mug"), "cameras": [], "image_size": [48, 64]})
    plan = sched.episode_plan()
    assert len(plan) == 30
    assert [p["split"] for p in plan].count("test") == 20 and [p["split"] for p in plan].count("val") == 10
    assert {p["cluster"] for p in plan if p["split"] == "val"} == {VALIDATION_CLUSTER}
    assert sorted({p["cluster"] for p in plan if p["split"] == "test"}) == sorted(TRAINING_CLUSTERS)


def test_scripted_policy_through_the_scheduler_contract() -> None:
    sched = TeaBagSchedulerEnv.from_config({**load_option("env", "teabag_mug"), "cameras": ["top"], "image_size": [48, 64]})
    policy = ScriptedPolicy.from_config({"actions_per_chunk": 30}, sched)
    sched.reset(11, {"cluster": 6, "start_index": 0, "split": "val"})
    policy.reset(11)
    ticks = 0
    while not sched.done and ticks < 60 * 20:
        obs = sched.observation(sched.snapshot())
        assert obs["observation.images.top"].shape == (48, 64, 3)
        chunk = policy.predict_chunk(PolicyRequest(obs, ticks))
        assert chunk.shape == (30, 6)
        for action in chunk[:15]:  # execute half the chunk, then re-plan, like a chunking policy
            sched.apply(action)
            ticks += 1
            if sched.done:
                break
    outcome = sched.outcome()
    assert isinstance(outcome.success, bool)
    if outcome.success:
        assert outcome.completion_time_s is not None and 0 < outcome.completion_time_s <= ticks / 60
