"""The scene compiles, the env passes Gymnasium's checker, and starts are deterministic."""

from __future__ import annotations

import gymnasium as gym
import mujoco
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import simbench.envs  # noqa: F401  (registers simbench/TeaBagMug-v0)
from simbench.config.options import load_option
from simbench.envs.teabag_mug import TeaBagMugEnv
from simbench.envs.workspace import CLUSTER_CENTERS, StartKind, in_table_cell, sample_start
from simbench.errors import ConfigError
from simbench.paths import SCENES_DIR


def test_scene_compiles_with_arm_cameras_and_servos() -> None:
    model = mujoco.MjModel.from_xml_path(str(SCENES_DIR / "teabag_mug.xml"))
    assert model.nu == 6
    for cam in ("top", "gripper", "left"):
        model.camera(cam)
    assert model.ntendon == 1 and model.tendon_limited[0]
    assert np.isclose(model.actuator_gainprm[0, 0], 998.22)


def test_env_passes_gymnasium_checker() -> None:
    env = gym.make("simbench/TeaBagMug-v0", image_height=48, image_width=64).unwrapped
    check_env(env, skip_render_check=True)
    env.close()


def test_same_seed_same_episode() -> None:
    env = TeaBagMugEnv(cameras=())
    a, _ = env.reset(seed=3, options={"cluster": 2})
    for _ in range(5):
        env.step(env.action_space.sample())
    qa = env.data.qpos.copy()
    b, _ = env.reset(seed=3, options={"cluster": 2})
    for _ in range(5):
        env.step(env.action_space.sample() * 0 + env.data.ctrl.astype(np.float32))
    assert np.allclose(a["observation.state"], b["observation.state"])
    env.reset(seed=3, options={"cluster": 2})
    rng = np.random.default_rng(0)
    acts = [
        env.action_space.low + rng.random(6).astype(np.float32) * (env.action_space.high - env.action_space.low)
        for _ in range(5)
    ]
    for act in acts:
        env.step(act)
    q1 = env.data.qpos.copy()
    env.reset(seed=3, options={"cluster": 2})
    for act in acts:
        env.step(act)
    assert np.array_equal(q1, env.data.qpos)
    assert not np.array_equal(qa, np.zeros_like(qa))


@pytest.mark.parametrize("cluster", sorted(CLUSTER_CENTERS))
def test_table_starts_lie_in_their_cluster(cluster: int) -> None:
    rng = np.random.default_rng(cluster)
    for _ in range(20):
        start = sample_start(rng, cluster, StartKind.TABLE)
        assert in_table_cell(np.array(start.pouch_xy), cluster)
        assert np.linalg.norm(np.subtract(start.pouch_xy, start.mug_xy)) > 0.07


def test_recovery_starts() -> None:
    env = TeaBagMugEnv(cameras=())
    _, info = env.reset(seed=1, options={"cluster": 3, "start": "holding"})
    assert info["privileged"]["pouch_pos"][2] > 0.06  # held in the air
    _, info = env.reset(seed=1, options={"cluster": 3, "start": "beside"})
    pouch, mug = info["privileged"]["pouch_pos"], info["privileged"]["mug_pos"]
    assert pouch[2] < 0.02 and 0.08 < np.linalg.norm(pouch[:2] - mug[:2]) < 0.13


def test_observation_images_and_render() -> None:
    env = TeaBagMugEnv(image_height=48, image_width=64, render_mode="rgb_array", render_height=60, render_width=80)
    obs, _ = env.reset(seed=0, options={"cluster": 6})
    for cam in ("top", "gripper", "left"):
        img = obs[f"observation.images.{cam}"]
        assert img.shape == (48, 64, 3) and img.dtype == np.uint8 and img.std() > 5
    assert env.render().shape == (60, 80, 3)
    env.close()


def _pouch_pixels(env: TeaBagMugEnv, renderer: mujoco.Renderer, camera: str) -> int:
    """Pixels of the pouch geom in ``camera`` (segmentation render: what is visible, not occluded)."""
    renderer.update_scene(env.data, camera=camera)
    seg = renderer.render()
    return int(((seg[..., 0] == env.model.geom("pouch").id) & (seg[..., 1] == mujoco.mjtObj.mjOBJ_GEOM)).sum())


def test_top_camera_sees_the_pouch_in_every_cluster() -> None:
    """The policy locates the bag from ``top``: at 96x128 the pouch covers ~45-80 px in every cell,
    the held-out cluster 6 (under the arm at home) included. The first, straight-down camera had
    ~29 px and 0 px for cluster 6 at seed 0, where the arm hid the bag."""
    env = TeaBagMugEnv(cameras=())
    renderer = mujoco.Renderer(env.model, 96, 128)
    renderer.enable_segmentation_rendering()
    counts: dict[int, list[int]] = {}
    for cluster in CLUSTER_CENTERS:
        counts[cluster] = []
        for seed in range(4):
            env.reset(seed=seed, options={"cluster": cluster})
            counts[cluster].append(_pouch_pixels(env, renderer, "top"))
    renderer.close()
    assert all(min(c) >= 10 for c in counts.values()), counts
    assert all(np.median(c) >= 40 for c in counts.values()), counts


@pytest.mark.parametrize("bad", [{"cluster": 0}, {"cluster": 12}, {"cluster": "six"}, {"start": "flying"}])
def test_bad_reset_options_raise_config_error(bad: dict) -> None:
    env = TeaBagMugEnv(cameras=())
    with pytest.raises(ConfigError):
        env.reset(seed=0, options=bad)


def test_unknown_camera_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="cameras"):
        TeaBagMugEnv(cameras=("top", "back"))


def test_outcome_reports_whether_the_bag_was_lifted() -> None:
    """The scheduler adapter's failure diagnostics: max lift of the pouch and its distance to the mug."""
    import numpy as np

    from simbench.envs.teabag_scheduler_env import LIFTED_M, TeaBagSchedulerEnv

    env = TeaBagSchedulerEnv.from_config({**load_option("env", "teabag_mug"), "cameras": ["top"]})
    env.reset(3, {"cluster": 2, "start_index": 0})
    for _ in range(10):
        env.apply(None)
    out = env.outcome()
    priv = env.env.privileged()
    assert not out.success and out.extra["lifted"] == 0.0 and out.extra["pouch_max_lift_m"] < 0.005
    assert out.extra["pouch_to_mug_m"] == np.linalg.norm(priv["pouch_pos"][:2] - priv["mug_pos"][:2]) > 0.05
    env.env.data.qpos[env.env._pouch_q + 2] += LIFTED_M + 0.02  # hold it up: the next tick sees it high
    env.apply(None)
    assert env.outcome().extra["lifted"] == 1.0
    env.reset(3, {"cluster": 2, "start_index": 0})
    assert env.outcome().extra["pouch_max_lift_m"] == 0.0
    env.close()
