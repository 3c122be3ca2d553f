"""The scripted expert: pick the tea bag, carry it over the mug, let go; retry when it slips.

It reads the simulator's state (where the tea bag and the mug really are), so it is a privileged
expert, like the teleoperator who recorded the published set watching the scene. It plans in
gripper space (pinch point and jaw closing direction), moves along minimum-jerk segments and turns
each control tick's pose into joint targets with :class:`~simbench.envs.arm_ik.ArmIK`.

Human-like variation, drawn per episode from its own generator: speed (0.8-1.25x), the grasp yaw
(+-0.04 rad around the tea bag's faces), small offsets of every waypoint (a few mm),
hover and release heights, and short pauses. Same generator seed, same episode.

The expert is also robust the way a person is: if the tea bag is not in the jaws after the lift,
or lands beside the mug, it goes back and picks it up again (a few times at most).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

import mujoco
import numpy as np
from numpy.typing import NDArray

from simbench.envs.arm_ik import ArmIK

GRIPPER_OPEN_RAD = 0.7
"""Jaw angle while approaching: 61 mm between pads for a 34 mm tea bag."""
GRIPPER_CLOSED_RAD = -0.1
"""Commanded when pinching; the jaw stops on the tea bag at ~0.31 rad and the servo squeezes."""
POUCH_HALF_THICKNESS_M = 0.006
FIXED_PAD_CLEARANCE_M = 0.0025
REACH_COMFORT_M = 0.28
MAX_GRASP_SHIFT_M = 0.007
RELEASE_OPENING_S = 0.4
MAX_JOINT_STEP_RAD = 0.05
"""Per control tick (3 rad/s at 60 Hz)."""
MUG_RIM_M = 0.07


class Phase(str, Enum):
    APPROACH = "approach"
    DESCEND = "descend"
    CLOSE = "close"
    LIFT = "lift"
    CARRY = "carry"
    RELEASE = "release"
    RETREAT = "retreat"
    DONE = "done"


@dataclass
class SceneState:
    """The privileged state the expert plans from (world frame, metres)."""

    qpos: NDArray[np.float64]
    """The six joint positions (five arm joints and the gripper), radians."""
    pouch_pos: NDArray[np.float64]
    pouch_yaw: float
    mug_pos: NDArray[np.float64]
    time_s: float


def pouch_in_mug(state: SceneState) -> bool:
    """The bag is inside the mug: within 4 cm of its axis and below the rim."""
    return bool(
        np.linalg.norm(state.pouch_pos[:2] - state.mug_pos[:2]) < 0.04 and state.pouch_pos[2] < MUG_RIM_M - 0.01
    )


@dataclass
class Style:
    """One episode's manner of doing the task."""

    speed: float = 1.0
    grasp_yaw_offset: float = 0.0
    hover_m: float = 0.05
    carry_height_m: float = 0.115
    """Pinch point while carrying: the bag hangs ~17 mm below it, the mug's rim is at 70 mm."""
    release_height_m: float = 0.11
    waypoint_noise_m: NDArray[np.float64] = field(default_factory=lambda: np.zeros((8, 3)))
    pause_s: float = 0.1

    @classmethod
    def sample(cls, rng: np.random.Generator) -> Style:
        return cls(
            speed=float(rng.uniform(0.8, 1.25)),
            grasp_yaw_offset=float(rng.uniform(-0.04, 0.04)),
            hover_m=float(rng.uniform(0.045, 0.065)),
            carry_height_m=float(rng.uniform(0.11, 0.12)),
            release_height_m=float(rng.uniform(0.10, 0.105)),
            waypoint_noise_m=rng.normal(0.0, 0.002, (8, 3)),
            pause_s=float(rng.uniform(0.05, 0.2)),
        )


@dataclass
class _Segment:
    start: NDArray[np.float64]
    goal: NDArray[np.float64]
    t0: float
    duration: float

    def at(self, t: float) -> NDArray[np.float64]:
        s = np.clip((t - self.t0) / self.duration, 0.0, 1.0)
        s = s * s * s * (10 - 15 * s + 6 * s * s)  # minimum jerk
        return self.start + s * (self.goal - self.start)

    def finished(self, t: float) -> bool:
        return t >= self.t0 + self.duration


class ScriptedExpert:
    """Turns privileged scene state into 6 joint position targets, one control tick at a time."""

    def __init__(self, model: mujoco.MjModel, max_attempts: int = 5, speed_mps: float = 0.22) -> None:
        self.ik = ArmIK(model)
        self.max_attempts = max_attempts
        self.speed_mps = speed_mps
        self.style = Style()
        self.phase = Phase.APPROACH
        self.attempts = 0
        self.events: dict[str, float] = {}
        """Simulated times of grasp and release, for contact sheets ("grasp", "release")."""
        self._segment: _Segment | None = None
        self._q = np.zeros(5)
        self._gripper = GRIPPER_OPEN_RAD
        self._phase_t0 = 0.0
        self._release_from = GRIPPER_OPEN_RAD
        self._yaw = 0.0
        self._target_z = 0.0

    # -- public ----------------------------------------------------------------------------------

    def reset(
        self, rng: np.random.Generator, state: SceneState, holding: bool = False, start: Phase | None = None
    ) -> None:
        """Start an episode; ``holding`` when it begins with the tea bag already in the jaws (carry
        it). ``start`` picks the first phase instead: ``CLOSE`` when the jaws are shut on the bag
        still on the table (finish the grasp, then lift), ``LIFT`` when they hold it off the table
        (lift to carrying height, check the grasp, carry); taking over from a policy
        (:mod:`simbench.expert.takeover`)."""
        first = start if start is not None else Phase.CARRY if holding else Phase.APPROACH
        in_jaws = first in (Phase.LIFT, Phase.CARRY)
        self.style = Style.sample(rng)
        self.attempts = 0
        self.events = {}
        self._q = np.asarray(state.qpos[:5], dtype=float).copy()
        self._gripper = GRIPPER_CLOSED_RAD if in_jaws else float(state.qpos[5])
        self._segment = None
        # The grasp's yaw, as APPROACH would aim it: CLOSE and LIFT starts keep it (CARRY and
        # APPROACH set their own on entry).
        self._yaw = self._grasp_yaw(state.pouch_pos, state.pouch_yaw)
        self._enter(first, state)
        if in_jaws:
            self.attempts = 1
            self.events["grasp"] = state.time_s

    def act(self, state: SceneState) -> NDArray[np.float64]:
        """Joint position targets (6,) for this control tick."""
        t = state.time_s
        self._advance(state)
        if self.phase is Phase.RELEASE:
            s = min(1.0, (t - self._phase_t0) / RELEASE_OPENING_S)
            self._gripper = self._release_from + s * (GRIPPER_OPEN_RAD - self._release_from)
        if self._segment is not None:
            pos = self._segment.at(t)
            grasping = self.phase in (Phase.APPROACH, Phase.DESCEND, Phase.CLOSE, Phase.LIFT)
            yaw = self._yaw if grasping else self._closing_yaw(pos)
            q = self.ik.solve_robust(pos, yaw, self._q).q
            # Rate limit: a servo target never jumps (an IK branch change would fling the tea bag).
            self._q = self._q + np.clip(q - self._q, -MAX_JOINT_STEP_RAD, MAX_JOINT_STEP_RAD)
        return np.concatenate([self._q, [self._gripper]])

    @property
    def done(self) -> bool:
        return self.phase is Phase.DONE

    def get_plan(self) -> dict[str, object]:
        """The expert's plan state (cheap to copy): lets a chunking wrapper rewind to a tick."""
        return {
            "phase": self.phase,
            "phase_t0": self._phase_t0,
            "segment": self._segment,
            "q": self._q.copy(),
            "gripper": self._gripper,
            "release_from": self._release_from,
            "yaw": self._yaw,
            "attempts": self.attempts,
            "events": dict(self.events),
        }

    def set_plan(self, plan: dict[str, object]) -> None:
        self.phase = plan["phase"]  # type: ignore[assignment]
        self._phase_t0 = plan["phase_t0"]  # type: ignore[assignment]
        self._segment = plan["segment"]  # type: ignore[assignment]
        self._q = np.array(plan["q"], dtype=float)
        self._gripper = plan["gripper"]  # type: ignore[assignment]
        self._release_from = plan["release_from"]  # type: ignore[assignment]
        self._yaw = plan["yaw"]  # type: ignore[assignment]
        self.attempts = plan["attempts"]  # type: ignore[assignment]
        self.events = dict(plan["events"])  # type: ignore[arg-type]

    def pinch(self) -> NDArray[np.float64]:
        """Where the expert's commanded joints put the pinch point."""
        return self._pinch()

    # -- planning --------------------------------------------------------------------------------

    def _pinch(self) -> NDArray[np.float64]:
        return self.ik.forward(self._q)[0]

    def _closing_yaw(self, xy: NDArray[np.float64]) -> float:
        """Across the arm's plane (:meth:`ArmIK.across_yaw`)."""
        return self.ik.across_yaw(xy)

    def _grasp_yaw(self, pouch_pos: NDArray[np.float64], pouch_yaw: float) -> float:
        """Close on the pair of faces nearest to across the arm's plane (within 45 degrees)."""
        across = self._closing_yaw(pouch_pos)
        offset = (pouch_yaw - across + np.pi / 4) % (np.pi / 2) - np.pi / 4
        return across + offset + self.style.grasp_yaw_offset

    def _grasp_xy(self, pouch: NDArray[np.float64], z: float) -> NDArray[np.float64]:
        """Above the tea bag's centre; beyond 28 cm from the pan axis, up to 7 mm nearer the arm
        (the pads are 20 mm wide on a 34 mm bag), so the far cells need less leaning."""
        rel = pouch[:2] - self.ik.pan_axis_xy
        r = float(np.linalg.norm(rel))
        pull = np.clip(r - REACH_COMFORT_M, 0.0, MAX_GRASP_SHIFT_M)
        xy = pouch[:2] - pull * rel / max(r, 1e-9)
        return np.array([xy[0], xy[1], z])

    def _closing_axis(self, at: NDArray[np.float64] | None = None) -> NDArray[np.float64]:
        """The gripper's x axis (fixed jaw -> moving jaw) at the current or a target pose."""
        q = self._q if at is None else self.ik.solve(at, self._yaw, self._q).q
        axis = self.ik.forward(q)[1][:, 0].copy()
        axis[2] = 0.0
        return axis / max(np.linalg.norm(axis), 1e-9)

    def _move(self, goal: NDArray[np.float64], t: float, min_s: float = 0.3) -> None:
        start = self._pinch() if self._segment is None else self._segment.at(t)
        distance = float(np.linalg.norm(goal - start))
        duration = max(min_s, distance / (self.speed_mps * self.style.speed) + 0.25)
        self._segment = _Segment(start=start, goal=np.asarray(goal, dtype=float), t0=t, duration=duration)

    def _enter(self, phase: Phase, state: SceneState) -> None:
        t = state.time_s
        self.phase = phase
        self._phase_t0 = t
        noise = self.style.waypoint_noise_m
        pouch, mug = state.pouch_pos, state.mug_pos
        if phase is Phase.APPROACH:
            self._gripper = GRIPPER_OPEN_RAD
            self._yaw = self._grasp_yaw(pouch, state.pouch_yaw)
            goal = self._grasp_xy(pouch, self.style.hover_m + pouch[2]) + noise[0] * [1, 1, 0]
            self._move(goal, t)
            self._segment.goal -= FIXED_PAD_CLEARANCE_M * self._closing_axis(goal)
        elif phase is Phase.DESCEND:
            probe = self.ik.solve(self._grasp_xy(pouch, 0.015), self._yaw, self._q)
            _, rot = self.ik.forward(probe.q)
            lean, elevation = probe.tilt_rad, abs(float(rot[2, 0]))
            # Pads 24 mm tall, 20 mm wide, 34 mm apart: keep the lowest corner of the lower pad
            # 2.5 mm off the table whether the fingers lean or the closing axis is not level.
            z = (
                pouch[2]
                - POUCH_HALF_THICKNESS_M
                + 0.0025
                + 0.012 * np.cos(lean)
                + 0.010 * np.sin(lean)
                + 0.017 * elevation
            )
            goal = self._grasp_xy(pouch, z) + noise[1] * [0.5, 0.5, 0]
            # The pinch point is midway between the pads at the grasp (17 mm from each); while open,
            # keep a few mm between the fixed pad and the tea bag: aim that much towards the fixed jaw.
            goal -= FIXED_PAD_CLEARANCE_M * self._closing_axis()
            self._move(goal, t, min_s=0.5)
        elif phase is Phase.CLOSE:
            self._gripper = GRIPPER_CLOSED_RAD
        elif phase is Phase.LIFT:
            goal = self._pinch()
            goal[2] = self.style.carry_height_m
            self._move(goal, t, min_s=0.5)
        elif phase is Phase.CARRY:
            self._yaw = self._closing_yaw(mug)
            goal = np.array([mug[0], mug[1], self.style.release_height_m]) + noise[2] * [1, 1, 0.3]
            self._move(goal, t, min_s=0.6)
        elif phase is Phase.RELEASE:
            # Open slowly: a jaw snapping open drags the squeezed 3 g bag with it and throws it.
            self._release_from = float(state.qpos[5])
            self.events.setdefault("release", t)
        elif phase is Phase.RETREAT:
            goal = self._pinch() + np.array([0.0, 0.0, 0.03])  # straight up: never sweep the rim
            self._move(goal, t, min_s=0.5)
        elif phase is Phase.DONE:
            pass

    def _advance(self, state: SceneState) -> None:
        t = state.time_s
        elapsed = t - self._phase_t0
        segment_done = self._segment is None or self._segment.finished(t)
        if self.phase is Phase.APPROACH and segment_done:
            self._enter(Phase.DESCEND, state)
        elif self.phase is Phase.DESCEND and segment_done and elapsed > 0.1:
            self._enter(Phase.CLOSE, state)
        elif self.phase is Phase.CLOSE and elapsed > 0.35 + self.style.pause_s:
            self.events["grasp"] = t
            self.attempts += 1
            self._enter(Phase.LIFT, state)
        elif self.phase is Phase.LIFT and segment_done:
            if self.holds(state):
                self._enter(Phase.CARRY, state)
            else:
                self._retry(state)
        elif self.phase is Phase.CARRY and segment_done and elapsed > 0.15:
            if self.holds(state):
                self._enter(Phase.RELEASE, state)
            else:
                self._retry(state)
        elif self.phase is Phase.RELEASE and elapsed > RELEASE_OPENING_S + 0.3 + self.style.pause_s:
            self._enter(Phase.RETREAT, state)
        elif self.phase is Phase.RETREAT and segment_done and elapsed > 0.6:
            if pouch_in_mug(state):
                self._enter(Phase.DONE, state)
            else:
                self._retry(state)

    def holds(self, state: SceneState, q: NDArray[np.float64] | None = None) -> bool:
        """The bag is within 3 cm of the pinch point of the arm joints ``q`` (default: the commanded ones)."""
        pinch = self._pinch() if q is None else self.ik.forward(np.asarray(q, dtype=float)[:5])[0]
        return bool(np.linalg.norm(state.pouch_pos - pinch) < 0.03)

    def _retry(self, state: SceneState) -> None:
        if self.attempts >= self.max_attempts:
            self._enter(Phase.DONE, state)
            return
        self.events.pop("release", None)
        self._enter(Phase.APPROACH, state)
