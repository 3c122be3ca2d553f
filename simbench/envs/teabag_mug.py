"""``simbench/TeaBagMug-v0``: put the tea bag in the mug with an SO-101-class arm (MuJoCo).

The published "put the tea bag in the mug" task, rebuilt for simulation: table, a six-servo arm with
the SO-101's kinematics and servos, a square tea bag with string and tag, a mug, and the three
cameras of the published recording (``top``, ``gripper``, ``left``). Scene: ``scenes/teabag_mug.xml``;
start positions: :mod:`simbench.envs.workspace`; success: :mod:`simbench.envs.success`.

Action (``Box(6,)``, float32, radians): joint position targets for the position servos.

=====  ==============  ===================  ============================================
index  joint           range (rad)          meaning
=====  ==============  ===================  ============================================
0      shoulder_pan    -1.91986 .. 1.91986  positive turns the arm towards -y (its right)
1      shoulder_lift   -1.74533 .. 1.74533  0: upper arm vertical
2      elbow_flex      -1.69 .. 1.69        0: forearm at right angles to the upper arm
3      wrist_flex      -1.65806 .. 1.65806  positive bends the gripper down
4      wrist_roll      -2.74385 .. 2.84121
5      gripper         -0.17453 .. 1.74533  jaw angle: 0 = 12 mm, 0.31 = 34 mm, 0.8 = 67 mm
=====  ==============  ===================  ============================================

Observation (``Dict``), keyed like LeRobot:

=============================  ==================  ==========================================
key                            space               meaning
=============================  ==================  ==========================================
``observation.state``          Box(6,) float32     joint positions (rad), same order as action
``observation.velocity``       Box(6,) float32     joint velocities (rad/s), if include_velocity
``observation.images.<cam>``   Box(H, W, 3) uint8  one per configured camera
=============================  ==================  ==========================================

Reward: 1.0 on the step the task succeeds, else 0.0. ``terminated`` once success has held for
``success_dwell_s``; ``truncated`` at ``time_limit_s``. ``info``: ``is_success``, ``cluster``,
``start``, ``time_s``, and ``privileged`` (tea bag and mug poses, for the scripted expert only).

Domain randomization (``randomize``, :mod:`simbench.envs.randomization`): friction, the bag's mass,
servo gains, lighting and camera pose drawn per episode from the seed; the start is unchanged.

Reset options: ``cluster`` (1..11, default: a random training cluster), ``start`` ("table",
"holding", "beside"; see :class:`~simbench.envs.workspace.StartKind`), ``start_index`` (int,
mixed into the seed so the starts of one cluster differ). Same seed and options, same episode.

Physics runs at 180 Hz (3 substeps per 60 Hz control tick). Images come from a second ``MjData``
that only ever receives positions, so rendering never disturbs the simulation and a rendered
snapshot can be taken at one tick and drawn later (:meth:`snapshot`, :meth:`render_snapshot`).

Version history: v0, the first version.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import mujoco
import numpy as np
from numpy.typing import NDArray

from simbench.envs.base import CONTROL_HZ
from simbench.envs.randomization import Nominal, Randomization
from simbench.envs.randomization import apply as apply_randomization
from simbench.envs.success import SuccessCheck, SuccessChecker
from simbench.envs.workspace import (
    CLUSTER_CENTERS,
    TRAINING_CLUSTERS,
    StartKind,
    StartState,
    check_cluster,
    sample_start,
)
from simbench.errors import bad_value
from simbench.paths import SCENES_DIR

CAMERAS: tuple[str, ...] = ("top", "gripper", "left")
JOINTS: tuple[str, ...] = ("shoulder_pan", "shoulder_lift", "elbow_flex", "wrist_flex", "wrist_roll", "gripper")
HOME_QPOS = np.array([0.0, -1.1, 1.1, 1.2, 0.0, 0.8])
"""Arm raised above the table, fingers pointing down, jaws open."""
HOLD_GRIP_RAD = 0.31
"""Jaw angle with the tea bag between the pads (34 mm)."""
CLOSED_GRIP_RAD = -0.1


@dataclass(frozen=True)
class Snapshot:
    """What is needed to draw the cameras at one tick: positions only."""

    qpos: NDArray[np.float64]
    qvel: NDArray[np.float64]
    time_s: float


class TeaBagMugEnv(gym.Env[dict[str, NDArray[Any]], NDArray[np.float32]]):
    metadata = {"render_modes": ["rgb_array"], "render_fps": 30}

    def __init__(
        self,
        cameras: tuple[str, ...] | list[str] = CAMERAS,
        image_height: int = 96,
        image_width: int = 128,
        control_hz: float = CONTROL_HZ,
        time_limit_s: float = 20.0,
        success_dwell_s: float = 0.5,
        include_velocity: bool = True,
        render_mode: str | None = None,
        render_camera: str = "top",
        render_height: int = 240,
        render_width: int = 320,
        scene_path: str | Path | None = None,
        randomize: Randomization | None = None,
    ) -> None:
        cameras = tuple(cameras)
        for cam in cameras:
            if cam not in CAMERAS:
                raise bad_value("cameras", cam, f"choose from: {', '.join(CAMERAS)}")
        if render_mode not in (None, "rgb_array"):
            raise bad_value("render_mode", render_mode, "only 'rgb_array' or None")
        if image_height < 8 or image_width < 8 or image_height > 480 or image_width > 640:
            raise bad_value("image size", (image_height, image_width), "height 8..480, width 8..640")
        if not time_limit_s > 0:
            raise bad_value("time_limit_s", time_limit_s, "must be > 0")
        self.model = mujoco.MjModel.from_xml_path(str(scene_path or SCENES_DIR / "teabag_mug.xml"))
        self.data = mujoco.MjData(self.model)
        substeps = 1.0 / (control_hz * self.model.opt.timestep)
        if abs(substeps - round(substeps)) > 1e-6 or round(substeps) < 1:
            raise bad_value(
                "control_hz", control_hz, f"physics runs at {1 / self.model.opt.timestep:.0f} Hz; use a divisor of it"
            )
        self.n_substeps = int(round(substeps))
        self.control_dt = 1.0 / control_hz
        self.cameras = cameras
        self.image_shape = (int(image_height), int(image_width), 3)
        self.time_limit_s = float(time_limit_s)
        self.dwell_ticks = max(1, int(round(success_dwell_s * control_hz)))
        self.include_velocity = include_velocity
        self.render_mode = render_mode
        self.render_camera = render_camera
        self.render_size = (int(render_height), int(render_width))

        self._qadr = np.array([self.model.jnt_qposadr[self.model.joint(j).id] for j in JOINTS])
        self._vadr = np.array([self.model.jnt_dofadr[self.model.joint(j).id] for j in JOINTS])
        self._pouch_q = self.model.jnt_qposadr[self.model.joint("pouch").id]
        self._tag_q = self.model.jnt_qposadr[self.model.joint("tag").id]
        self._mug_q = self.model.jnt_qposadr[self.model.joint("mug").id]
        self._pouch_body = self.model.body("pouch").id
        self.success_checker = SuccessChecker(self.model)
        self.randomize = randomize
        self._nominal = Nominal.of(self.model)
        self.drawn: dict[str, float] = {}
        """This episode's randomization draws (empty without ``randomize``)."""

        low, high = self.model.actuator_ctrlrange[:, 0], self.model.actuator_ctrlrange[:, 1]
        self.action_space = gym.spaces.Box(low.astype(np.float32), high.astype(np.float32), dtype=np.float32)
        jlow = self.model.jnt_range[[self.model.joint(j).id for j in JOINTS], 0].astype(np.float32)
        jhigh = self.model.jnt_range[[self.model.joint(j).id for j in JOINTS], 1].astype(np.float32)
        spaces: dict[str, gym.spaces.Space[Any]] = {
            # Soft joint limits can be exceeded slightly; leave a margin so check_env holds.
            "observation.state": gym.spaces.Box(jlow - 0.2, jhigh + 0.2, dtype=np.float32),
        }
        if include_velocity:
            spaces["observation.velocity"] = gym.spaces.Box(-np.inf, np.inf, (6,), dtype=np.float32)
        for cam in cameras:
            spaces[f"observation.images.{cam}"] = gym.spaces.Box(0, 255, self.image_shape, dtype=np.uint8)
        self.observation_space = gym.spaces.Dict(spaces)

        self._render_data = mujoco.MjData(self.model)
        self._renderers: dict[tuple[int, int], mujoco.Renderer] = {}
        self.start: StartState | None = None
        self._success_streak = 0
        self._success_time: float | None = None
        self._succeeded = False

    # -- Gymnasium API ---------------------------------------------------------------------------

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, NDArray[Any]], dict[str, Any]]:
        super().reset(seed=seed)
        options = dict(options or {})
        cluster = options.get("cluster")
        cluster = int(self.np_random.choice(TRAINING_CLUSTERS)) if cluster is None else check_cluster(cluster)
        kind = StartKind.parse(options.get("start"))
        start_index = int(options.get("start_index", 0))
        # The start depends on (seed, cluster, start kind, index) only, not on earlier episodes.
        base = int(self.np_random.integers(2**31)) if seed is None else int(seed)
        rng = np.random.default_rng([base, cluster, list(StartKind).index(kind), start_index])
        self.start = sample_start(rng, cluster, kind)
        # its own stream: the start is the same with or without randomization (paired episodes)
        seeds = [base, cluster, list(StartKind).index(kind), start_index, 1]
        self.drawn = apply_randomization(
            self.model, self.data, self._nominal, self.randomize, np.random.default_rng(seeds)
        )
        self._apply_start(self.start)
        self._success_streak = 0
        self._success_time = None
        self._succeeded = False
        return self._observation(), self._info(None)

    def step(
        self, action: NDArray[np.float32]
    ) -> tuple[dict[str, NDArray[Any]], float, bool, bool, dict[str, Any]]:
        self.apply_action(action)
        check = self.success_checker.check(self.data)
        reward = 1.0 if self._succeeded and self._success_streak == self.dwell_ticks else 0.0
        terminated = self._succeeded
        truncated = not terminated and self.data.time >= self.time_limit_s - 1e-9
        return self._observation(), reward, terminated, truncated, self._info(check)

    def render(self) -> NDArray[np.uint8] | None:
        if self.render_mode != "rgb_array":
            return None
        return self._render(self.snapshot(), self.render_camera, self.render_size)

    def close(self) -> None:
        for renderer in self._renderers.values():
            renderer.close()
        self._renderers.clear()

    # -- pieces the scheduler adapter, the expert and the recorder use ----------------------------

    def apply_action(self, action: NDArray[np.floating] | None) -> None:
        """Advance one control tick (``None``: keep the previous servo targets)."""
        if action is not None:
            self.data.ctrl[:] = np.clip(np.asarray(action, dtype=float), self.action_space.low, self.action_space.high)
        mujoco.mj_step(self.model, self.data, nstep=self.n_substeps)
        self._update_success()

    @property
    def time_s(self) -> float:
        return float(self.data.time)

    @property
    def succeeded(self) -> bool:
        return self._succeeded

    @property
    def success_time_s(self) -> float | None:
        """When the tea bag first came to rest in the mug (the start of the successful dwell)."""
        return self._success_time if self._succeeded else None

    def joint_positions(self) -> NDArray[np.float64]:
        return self.data.qpos[self._qadr].copy()

    def snapshot(self) -> Snapshot:
        return Snapshot(self.data.qpos.copy(), self.data.qvel[self._vadr].copy(), float(self.data.time))

    def observation_from(self, snap: Snapshot, cameras: tuple[str, ...] | None = None) -> dict[str, NDArray[Any]]:
        """The observation dict for a snapshot; renders only the cameras asked for."""
        obs: dict[str, NDArray[Any]] = {"observation.state": snap.qpos[self._qadr].astype(np.float32)}
        if self.include_velocity:
            obs["observation.velocity"] = snap.qvel.astype(np.float32)
        for cam in self.cameras if cameras is None else cameras:
            obs[f"observation.images.{cam}"] = self._render(snap, cam, self.image_shape[:2])
        return obs

    def render_snapshot(self, snap: Snapshot, camera: str, size: tuple[int, int]) -> NDArray[np.uint8]:
        return self._render(snap, camera, size)

    def pouch_position(self) -> NDArray[np.float64]:
        """World position of the tea bag now (a view into the state: copy to keep it)."""
        return self.data.qpos[self._pouch_q : self._pouch_q + 3]

    def privileged(self, snap: Snapshot | None = None) -> dict[str, Any]:
        """True poses of the tea bag and the mug (for the scripted expert; policies must not use it)."""
        qpos = self.data.qpos if snap is None else snap.qpos
        quat = qpos[self._pouch_q + 3 : self._pouch_q + 7]
        yaw = float(np.arctan2(2 * (quat[0] * quat[3] + quat[1] * quat[2]), 1 - 2 * (quat[2] ** 2 + quat[3] ** 2)))
        return {
            "qpos": qpos[self._qadr].copy(),
            "pouch_pos": qpos[self._pouch_q : self._pouch_q + 3].copy(),
            "pouch_yaw": yaw,
            "mug_pos": qpos[self._mug_q : self._mug_q + 3].copy(),
            "time_s": float(self.data.time if snap is None else snap.time_s),
        }

    def success_check(self) -> SuccessCheck:
        return self.success_checker.check(self.data)

    # -- internals -------------------------------------------------------------------------------

    def _observation(self) -> dict[str, NDArray[Any]]:
        return self.observation_from(self.snapshot())

    def _info(self, check: SuccessCheck | None) -> dict[str, Any]:
        assert self.start is not None
        return {
            "is_success": self._succeeded,
            "cluster": self.start.cluster,
            "start": self.start.kind.value,
            "time_s": float(self.data.time),
            "privileged": self.privileged(),
        }

    def _update_success(self) -> None:
        if self._succeeded:
            return
        if self.success_checker.check(self.data).success:
            if self._success_streak == 0:
                self._success_time = float(self.data.time)
            self._success_streak += 1
            if self._success_streak >= self.dwell_ticks:
                self._succeeded = True
        else:
            self._success_streak = 0

    def _render(self, snap: Snapshot, camera: str, size: tuple[int, int]) -> NDArray[np.uint8]:
        key = (int(size[0]), int(size[1]))
        renderer = self._renderers.get(key)
        if renderer is None:
            renderer = self._renderers[key] = mujoco.Renderer(self.model, key[0], key[1])
        self._render_data.qpos[:] = snap.qpos
        mujoco.mj_kinematics(self.model, self._render_data)
        mujoco.mj_camlight(self.model, self._render_data)
        renderer.update_scene(self._render_data, camera)
        return renderer.render()

    def _apply_start(self, start: StartState) -> None:
        model, data = self.model, self.data
        mujoco.mj_resetDataKeyframe(model, data, model.key("home").id)
        q = HOME_QPOS + np.asarray(start.home_noise)
        data.qpos[self._qadr] = q
        _set_free(data, self._pouch_q, (*start.pouch_xy, 0.006), start.pouch_yaw)
        _set_free(data, self._tag_q, (*start.tag_xy, 0.0011), start.pouch_yaw)
        _set_free(data, self._mug_q, (*start.mug_xy, 0.0), start.mug_yaw)
        data.ctrl[:] = q
        if start.kind is StartKind.HOLDING:
            self._place_in_gripper(start)
        mujoco.mj_forward(model, data)
        # Let contacts settle (objects were placed, not dropped); the episode clock starts after.
        mujoco.mj_step(model, data, nstep=self.n_substeps * 6)
        data.time = 0.0
        mujoco.mj_forward(model, data)

    def _place_in_gripper(self, start: StartState) -> None:
        """Recovery start: solve IK for the pinch point, put the bag between the pads, squeeze."""
        from simbench.envs.arm_ik import ArmIK  # the env itself does not need IK otherwise

        assert start.hold_xyz is not None
        ik = ArmIK(self.model)
        target = np.asarray(start.hold_xyz)
        rel = target[:2] - ik.pan_axis_xy
        yaw = float(np.arctan2(rel[1], rel[0]) + np.pi / 2)
        arm = ik.solve_robust(target, yaw, ik.seed(target, yaw)).q
        pos, rot = ik.forward(arm)
        data = self.data
        data.qpos[self._qadr] = np.concatenate([arm, [HOLD_GRIP_RAD]])
        data.ctrl[:] = np.concatenate([arm, [CLOSED_GRIP_RAD]])
        closing = rot[:, 0]
        pouch_center = pos - 0.009 * rot[:, 2]
        # The bag's faces square to the jaws: its yaw is the closing axis's.
        pouch_yaw = float(np.arctan2(closing[1], closing[0]))
        _set_free(data, self._pouch_q, tuple(pouch_center), pouch_yaw)
        _set_free(data, self._tag_q, (pouch_center[0], pouch_center[1], max(pouch_center[2] - 0.10, 0.0011)), pouch_yaw)


def _set_free(data: mujoco.MjData, adr: int, pos: tuple[float, ...], yaw: float) -> None:
    data.qpos[adr : adr + 3] = pos
    data.qpos[adr + 3 : adr + 7] = (np.cos(yaw / 2), 0.0, 0.0, np.sin(yaw / 2))


def cluster_ids() -> list[int]:
    return sorted(CLUSTER_CENTERS)
