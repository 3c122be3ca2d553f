"""Inverse kinematics for the SO-101-class arm: damped least squares on MuJoCo's Jacobians.

The expert thinks in gripper poses (where the pinch point between the pads is, which way the jaws
close); the arm takes joint targets. The SO-101 has five arm joints, so a full 6-D pose is
generally out of reach, but the poses the expert asks for are top-down ones (fingers pointing
straight down, jaws closing horizontally), and those are exactly the five-dimensional family the arm
can reach: the pan puts the arm's plane through the target, lift/elbow/wrist-flex set reach, height
and pitch, and the wrist roll sets the closing direction.

The solver works on its own ``MjData`` (kinematics only), so it never disturbs the simulation, and
is warm-started from the previous solution so consecutive targets give continuous joint paths
(no elbow flips between control ticks).
"""

from __future__ import annotations

from dataclasses import dataclass

import mujoco
import numpy as np
from numpy.typing import NDArray

ARM_JOINTS: tuple[str, ...] = ("shoulder_pan", "shoulder_lift", "elbow_flex", "wrist_flex", "wrist_roll")
"""The five joints IK moves; the gripper joint is commanded directly."""


@dataclass
class IKResult:
    q: NDArray[np.float64]
    """Arm joint positions (5,), radians, inside the joint limits."""
    position_error_m: float
    axis_error_rad: float
    """Angle between the jaw closing axis and the requested horizontal direction."""
    tilt_rad: float
    """How far the fingers lean from pointing straight down."""

    @property
    def ok(self) -> bool:
        return self.position_error_m < 2e-3 and self.axis_error_rad < 0.05


class ArmIK:
    """Damped-least-squares IK: pinch point position, jaw closing axis, and a preference for vertical.

    Hard-ish terms: the ``pinch`` site at the target (metres) and the gripper's x axis (the jaw
    closing direction) along ``(cos yaw, sin yaw, 0)``: horizontal pads, parallel to the tea bag's
    long edges. Soft term (``vertical_weight``): the roll axis pointing straight up. Five joints
    cannot always meet all of these, and near the base or at the edge of reach a top-down pose
    needs wrist flex beyond its limit; with the vertical term soft, the solver leans the fingers
    about the closing axis instead, which keeps the pads horizontal and the grasp unchanged.
    """

    def __init__(
        self,
        model: mujoco.MjModel,
        site: str = "pinch",
        damping: float = 1e-4,
        axis_weight: float = 0.1,
        vertical_weight: float = 0.02,
        max_iterations: int = 80,
        max_step_rad: float = 0.2,
    ) -> None:
        self.model = model
        self.data = mujoco.MjData(model)
        self.site_id = model.site(site).id
        self.body_id = model.site_bodyid[self.site_id]
        self.qpos_adr = np.array([model.jnt_qposadr[model.joint(j).id] for j in ARM_JOINTS])
        self.dof_adr = np.array([model.jnt_dofadr[model.joint(j).id] for j in ARM_JOINTS])
        self.lower = np.array([model.jnt_range[model.joint(j).id][0] for j in ARM_JOINTS])
        self.upper = np.array([model.jnt_range[model.joint(j).id][1] for j in ARM_JOINTS])
        self.damping = damping
        self.axis_weight = axis_weight
        self.vertical_weight = vertical_weight
        self.max_iterations = max_iterations
        self.max_step_rad = max_step_rad
        self._jacp = np.zeros((3, model.nv))
        self._jacr = np.zeros((3, model.nv))
        self._table: tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]] | None = None
        self.pan_axis_xy = self._pan_axis_xy()

    def _pan_axis_xy(self) -> NDArray[np.float64]:
        self.data.qpos[:] = 0.0
        mujoco.mj_kinematics(self.model, self.data)
        return self.data.xpos[self.model.body("shoulder").id][:2].copy()

    def _seed_table(self) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
        """Pinch (radius, height) and roll-axis tilt over a grid of lift/elbow/flex at pan 0.

        DLS is local: from a far-away start, a joint pinned at its limit can stall it. The table
        gives a start already in the right region (built once, ~0.2 s).
        """
        if self._table is None:
            grids = [np.linspace(lo, hi, 30) for lo, hi in zip(self.lower[1:4], self.upper[1:4])]
            q3 = np.array(np.meshgrid(*grids, indexing="ij")).reshape(3, -1).T
            pts = np.empty((len(q3), 2))
            tilt = np.empty(len(q3))
            for i, (a, b, c) in enumerate(q3):
                pos, rot = self.forward(np.array([0.0, a, b, c, 0.0]))
                pts[i] = (pos[0] - self.pan_axis_xy[0], pos[2])
                tilt[i] = np.arccos(np.clip(rot[2, 2], -1.0, 1.0))
            self._table = (q3, pts, tilt)
        return self._table

    def seed(self, target_pos: NDArray[np.float64], closing_yaw: float) -> NDArray[np.float64]:
        """A starting guess for ``target_pos`` from the precomputed table (nearest, most upright)."""
        q3, pts, tilt = self._seed_table()
        rel = np.asarray(target_pos[:2]) - self.pan_axis_xy
        pan = -np.arctan2(rel[1], rel[0])  # positive pan turns the arm towards -y
        cost = np.linalg.norm(pts - np.array([np.hypot(*rel), target_pos[2]]), axis=1) + 0.02 * tilt
        a, b, c = q3[int(np.argmin(cost))]
        roll = np.clip(_wrap(closing_yaw + pan), self.lower[4], self.upper[4])
        return np.array([pan, a, b, c, roll])

    def forward(self, q: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Pinch-site position and gripper rotation matrix for arm joints ``q``."""
        self.data.qpos[self.qpos_adr] = q
        mujoco.mj_kinematics(self.model, self.data)
        return self.data.site_xpos[self.site_id].copy(), self.data.xmat[self.body_id].reshape(3, 3).copy()

    def solve(
        self,
        target_pos: NDArray[np.float64],
        closing_yaw: float,
        q_init: NDArray[np.float64],
        max_iterations: int | None = None,
    ) -> IKResult:
        """Arm joints putting the pinch point at ``target_pos`` with jaws closing along ``closing_yaw``.

        The closing axis is a line, so ``closing_yaw`` and ``closing_yaw + pi`` are the same grasp;
        the one nearer the current wrist roll is used.
        """
        target_pos = np.asarray(target_pos, dtype=float)
        q = np.clip(np.asarray(q_init, dtype=float).copy(), self.lower, self.upper)
        _, rot = self.forward(q)
        x_target = np.array([np.cos(closing_yaw), np.sin(closing_yaw), 0.0])
        if rot[:, 0] @ x_target < 0:
            x_target = -x_target
        up = np.array([0.0, 0.0, 1.0])
        wa, wv = self.axis_weight, self.vertical_weight
        for _ in range(max_iterations or self.max_iterations):
            pos, rot = self.forward(q)
            x_axis, z_axis = rot[:, 0], rot[:, 2]
            residual = np.concatenate([target_pos - pos, wa * (x_target - x_axis), wv * (up - z_axis)])
            mujoco.mj_comPos(self.model, self.data)
            mujoco.mj_jacSite(self.model, self.data, self._jacp, self._jacr, self.site_id)
            jr = self._jacr[:, self.dof_adr]
            # d(axis)/dt = omega x axis = -[axis]_x omega
            jac = np.vstack([self._jacp[:, self.dof_adr], -wa * _skew(x_axis) @ jr, -wv * _skew(z_axis) @ jr])
            dq = self._step(jac, residual, q)
            step = np.max(np.abs(dq))
            if step > self.max_step_rad:
                dq *= self.max_step_rad / step
            q_next = np.clip(q + dq, self.lower, self.upper)
            moved = np.max(np.abs(q_next - q))
            q = q_next
            if moved < 1e-5:  # converged, or pinned at a limit: either way no further progress
                break
        pos, rot = self.forward(q)
        axis_err = float(np.arccos(np.clip(rot[:, 0] @ x_target, -1.0, 1.0)))
        tilt = float(np.arccos(np.clip(rot[:, 2] @ up, -1.0, 1.0)))
        return IKResult(
            q=q, position_error_m=float(np.linalg.norm(target_pos - pos)), axis_error_rad=axis_err, tilt_rad=tilt
        )

    def across_yaw(self, xy: NDArray[np.float64]) -> float:
        """Closing yaw across the arm's plane at ``xy``: the one direction the pads stay level in
        when the fingers lean."""
        rel = np.asarray(xy[:2], dtype=float) - self.pan_axis_xy
        return float(np.arctan2(rel[1], rel[0]) + np.pi / 2)

    def _step(
        self, jac: NDArray[np.float64], residual: NDArray[np.float64], q: NDArray[np.float64]
    ) -> NDArray[np.float64]:
        """Damped least-squares step that leaves out joints pinned at a limit and pushed past it.

        Clipping a plain step is not enough: at the release pose over the mug the wrist flex sits
        on its limit, the step keeps asking it for most of the motion, the clip throws that away
        and the other joints' share is too small to count as progress, so the solver stopped 25 mm
        short of the goal. Re-solving without the pinned joints (an active set) hands their share
        to the joints that can still move.
        """
        free = np.ones(len(q), dtype=bool)
        damping = self.damping * np.eye(len(q))
        while True:  # at most len(q) + 1 solves: each pass frees no joint or pins one more
            masked = jac * free
            dq = np.linalg.solve(masked.T @ masked + damping, masked.T @ residual)
            pinned = free & (((q <= self.lower + 1e-9) & (dq < 0)) | ((q >= self.upper - 1e-9) & (dq > 0)))
            if not pinned.any():
                return dq
            free &= ~pinned

    def solve_robust(
        self, target_pos: NDArray[np.float64], closing_yaw: float, q_init: NDArray[np.float64]
    ) -> IKResult:
        """``solve`` warm-started from ``q_init``; if it misses by over 5 mm, again from the table's seed."""
        result = self.solve(target_pos, closing_yaw, q_init)
        if result.position_error_m < 5e-3:
            return result
        second = self.solve(target_pos, closing_yaw, self.seed(target_pos, closing_yaw))
        return second if second.position_error_m < result.position_error_m else result


def _wrap(angle: float) -> float:
    """Angle in [-pi/2, pi/2): the closing axis is a line, so yaw and yaw + pi are the same."""
    return (angle + np.pi / 2) % np.pi - np.pi / 2


def _skew(v: NDArray[np.float64]) -> NDArray[np.float64]:
    return np.array([[0.0, -v[2], v[1]], [v[2], 0.0, -v[0]], [-v[1], v[0], 0.0]])
