"""``env=teabag_mug``: the MuJoCo tea-bag scene behind the scheduler's :class:`SchedulerEnv` contract.

Physics is stepped every control tick (``apply``); a snapshot is a copy of the positions, and the
camera images are rendered from it only when the policy consumes the observation, on a second
``MjData`` so the simulation is never disturbed. Observations carry ``privileged.*`` entries
(true tea-bag and mug poses) for the scripted expert; learned policies ignore them.

The evaluation protocol (``episode_plan``) is the published one: 2 starts in each of the 10
training clusters (split ``test``, 20 episodes), then 10 starts in validation cluster 6 (split
``val``), each start a function of the seed given to ``reset`` and its options only.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from simbench.envs.base import EpisodeOutcome, Observation
from simbench.envs.randomization import Randomization
from simbench.envs.teabag_mug import Snapshot, TeaBagMugEnv
from simbench.envs.workspace import TRAINING_CLUSTERS, VALIDATION_CLUSTER
from simbench.errors import ConfigError, bad_value

TEST_STARTS_PER_CLUSTER = 2
VAL_STARTS = 10
LIFTED_M = 0.03
"""The pouch counts as picked up once it has been this far above where it started (the mug's rim
is 70 mm, the expert carries it ~100 mm up)."""


class TeaBagSchedulerEnv:
    physical = True
    has_success = True
    action_dim = 6

    def __init__(self, env: TeaBagMugEnv) -> None:
        self.env = env
        self._outcome = EpisodeOutcome()

    KEYS = ("cameras", "image_size", "control_hz", "time_limit_s", "success_dwell_s", "randomize")
    """What ``from_config`` reads; their values live in ``conf/env/teabag_mug.yaml`` only."""

    @classmethod
    def from_config(cls, cfg: dict[str, Any]) -> TeaBagSchedulerEnv:
        missing = [k for k in cls.KEYS if k not in cfg]
        if missing:
            raise ConfigError(f"the scene's config lacks {', '.join('env.' + k for k in missing)} "
                              "(conf/env/teabag_mug.yaml holds every key)")
        cameras = tuple(cfg["cameras"])
        size = cfg["image_size"]
        if len(size) != 2:
            raise bad_value("env.image_size", size, "give [height, width]")
        try:
            env = TeaBagMugEnv(
                cameras=cameras,
                image_height=int(size[0]),
                image_width=int(size[1]),
                control_hz=float(cfg["control_hz"]),
                time_limit_s=float(cfg["time_limit_s"]),
                success_dwell_s=float(cfg["success_dwell_s"]),
                include_velocity=False,
                randomize=Randomization.parse(cfg["randomize"]),
            )
        except ConfigError as err:  # the scene names its own keys; in a run config they sit under env.
            text = str(err).replace("image size=", "image_size=")
            raise ConfigError(text if text.startswith("env.") else f"env.{text}") from None
        return cls(env)

    @property
    def control_hz(self) -> float:
        return 1.0 / self.env.control_dt

    def episode_plan(self) -> list[dict[str, Any]]:
        plan = [
            {"cluster": k, "start_index": i, "split": "test"}
            for k in TRAINING_CLUSTERS
            for i in range(TEST_STARTS_PER_CLUSTER)
        ]
        plan += [{"cluster": VALIDATION_CLUSTER, "start_index": i, "split": "val"} for i in range(VAL_STARTS)]
        return plan

    def reset(self, seed: int, options: dict[str, Any] | None = None) -> None:
        opts = {k: v for k, v in (options or {}).items() if k in ("cluster", "start", "start_index")}
        # The start is a function of (seed, cluster, start kind, start_index): the scheduler
        # derives the seed from its run seed and the episode number, so a run is reproducible.
        self.env.reset(seed=int(seed), options=opts)
        self._outcome = EpisodeOutcome()
        self._pouch_z0 = self._max_pouch_z = float(self.env.pouch_position()[2])

    @property
    def pouch_start_z(self) -> float:
        """Height of the bag at the episode's start: lifts are measured from it."""
        return self._pouch_z0

    def joint_state(self) -> NDArray[np.float64]:
        return self.env.joint_positions()

    def snapshot(self) -> Snapshot:
        return self.env.snapshot()

    def observation(self, snapshot: Snapshot) -> Observation:
        obs: Observation = dict(self.env.observation_from(snapshot))
        for key, value in self.env.privileged(snapshot).items():
            obs[f"privileged.{key}"] = value
        return obs

    def apply(self, action: NDArray[np.float64] | None) -> None:
        self.env.apply_action(action)
        self._max_pouch_z = max(self._max_pouch_z, float(self.env.pouch_position()[2]))

    def apply_span(self, actions: NDArray[np.float64], holds_after: int) -> None:
        for action in actions:
            self.apply(action)
        for _ in range(holds_after):
            self.apply(None)

    @property
    def done(self) -> bool:
        return self.env.succeeded or self.env.time_s >= self.env.time_limit_s - 1e-9

    def outcome(self) -> EpisodeOutcome:
        """Success, plus where a failure happened: was the pouch ever lifted (a missed grasp is the
        commonest failure of a weak policy), and how far from the mug it ended."""
        priv = self.env.privileged()
        lift = self._max_pouch_z - self._pouch_z0
        extra = {"pouch_max_lift_m": lift, "lifted": float(lift >= LIFTED_M),
                 "pouch_to_mug_m": float(np.linalg.norm(priv["pouch_pos"][:2] - priv["mug_pos"][:2])),
                 **{f"randomized_{k}": v for k, v in self.env.drawn.items()}}
        return EpisodeOutcome(success=self.env.succeeded, completion_time_s=self.env.success_time_s, extra=extra)

    def render_frame(self) -> NDArray[np.uint8]:
        """The side (``left``) camera at 240 x 320 for episode videos (not a policy input)."""
        return self.env.render_snapshot(self.env.snapshot(), "left", (240, 320))

    def close(self) -> None:
        self.env.close()
