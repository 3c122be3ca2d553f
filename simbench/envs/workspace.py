"""Where things start on the table: the 11 tea-bag clusters, the mug zone and recovery starts.

The published recording split the table into 11 clusters of 10 x 10 cm and held cluster 6 out for
validation; training used 10 starts in each of the 10 other clusters plus 2 *recovery* starts per
cluster (the robot begins partly done, near the mug). This module is that layout for simbench's
scene, in world coordinates (origin at the arm's base, x forward, y to the arm's left, metres).

Layout (seen from above, x up the page, the arm's base at ``A``; 10 x 10 cm cells)::

                             ( mug )                    mug zone at x = 0.30, y = 0
               [ 7 ]                    [ 5 ]           x 0.22..0.32, |y| 0.08..0.18
          [ 9 ][ 8 ]      [ 6 ]      [ 4 ][ 3 ]         x 0.12..0.22
          [11][10]          A          [ 2 ][ 1 ]         x 0.02..0.12
      y = .25  .15   .05         -.05 -.15 -.25

Cells are chosen so that a tea bag anywhere in its cell is within the arm's grasp reach (pan axis
at x = 0.039; 5-33 cm from it, fingers leaning up to ~0.3 rad at the far edge) and stays clear of
the mug wherever the mug lands in its zone. Eleven 10 cm cells plus a mug only just fit in the
reach of an SO-101-class arm: the far cells (5, 7, 9, 3) are where grasps lean most. Nothing here imports MuJoCo: the
sampling is plain numpy, driven by a generator seeded from the episode's seed (same seed, same
start).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

import numpy as np

from simbench.errors import bad_value

CELL_SIZE_M = 0.10
"""Clusters are 10 x 10 cm table cells, as in the published setup."""

CLUSTER_CENTERS: dict[int, tuple[float, float]] = {
    1: (0.07, -0.20),
    2: (0.07, -0.10),
    3: (0.17, -0.20),
    4: (0.17, -0.10),
    5: (0.27, -0.13),
    6: (0.17, 0.00),
    7: (0.27, 0.13),
    8: (0.17, 0.10),
    9: (0.17, 0.20),
    10: (0.07, 0.10),
    11: (0.07, 0.20),
}
"""Cluster id -> cell centre (x, y) in metres."""

VALIDATION_CLUSTER = 6
TRAINING_CLUSTERS: tuple[int, ...] = tuple(k for k in CLUSTER_CENTERS if k != VALIDATION_CLUSTER)

MUG_ZONE_CENTER: tuple[float, float] = (0.30, 0.0)
MUG_ZONE_HALF_M = 0.01
"""The mug's centre is uniform in a 2 x 2 cm square around the zone centre."""
MUG_HANDLE_YAW_RANGE = (-np.pi / 4, np.pi / 4)
"""Handle direction around +x (pointing away from the arm), so the gripper never meets it."""

CELL_MARGIN_M = 0.005
"""The tea bag's centre stays this far inside its cell."""


class StartKind(str, Enum):
    """How an episode begins."""

    TABLE = "table"
    """Tea bag lying in its cluster cell, arm at home: the normal start."""
    HOLDING = "holding"
    """Recovery: the arm already holds the tea bag in the air near the mug."""
    BESIDE = "beside"
    """Recovery: the tea bag lies on the table just beside the mug, arm at home."""

    @classmethod
    def parse(cls, value: str | StartKind | None) -> StartKind:
        if value is None:
            return cls.TABLE
        try:
            return cls(value)
        except ValueError:
            raise bad_value("start", value, f"choose one of: {', '.join(k.value for k in cls)}") from None


RECOVERY_KINDS: tuple[StartKind, ...] = (StartKind.HOLDING, StartKind.BESIDE)


@dataclass(frozen=True)
class StartState:
    """Everything random about an episode's first frame (world frame, metres and radians)."""

    cluster: int
    kind: StartKind
    pouch_xy: tuple[float, float]
    pouch_yaw: float
    tag_xy: tuple[float, float]
    mug_xy: tuple[float, float]
    mug_yaw: float
    home_noise: tuple[float, ...]
    """Per-joint offsets (rad) added to the home posture."""
    hold_xyz: tuple[float, float, float] | None = None
    """HOLDING only: where the pinch point (and the tea bag) is when the episode starts."""


def check_cluster(cluster: object) -> int:
    """Validate a cluster id from user input: a one-line ConfigError lists the valid ids."""
    if isinstance(cluster, bool) or not isinstance(cluster, (int, np.integer)) or int(cluster) not in CLUSTER_CENTERS:
        raise bad_value("cluster", cluster, f"clusters are 1..{len(CLUSTER_CENTERS)}")
    return int(cluster)


def cell_bounds(cluster: int) -> tuple[np.ndarray, np.ndarray]:
    """(low, high) corners of a cluster's cell, xy."""
    center = np.asarray(CLUSTER_CENTERS[check_cluster(cluster)])
    half = CELL_SIZE_M / 2
    return center - half, center + half


def sample_start(rng: np.random.Generator, cluster: int, kind: StartKind | str = StartKind.TABLE) -> StartState:
    """Draw a start state for ``cluster``; the cluster only matters for TABLE starts.

    Recovery starts still record the cluster they were drawn for (the dataset groups by it), and
    use it to decide which side of the mug the tea bag comes from, so recovery starts of different
    clusters differ the way the published ones did.
    """
    cluster = check_cluster(cluster)
    kind = StartKind.parse(kind)
    mug_xy = np.asarray(MUG_ZONE_CENTER) + rng.uniform(-MUG_ZONE_HALF_M, MUG_ZONE_HALF_M, 2)
    mug_yaw = float(rng.uniform(*MUG_HANDLE_YAW_RANGE))
    home_noise = tuple(float(v) for v in rng.normal(0.0, 0.03, 6) * np.array([1, 1, 1, 1, 1, 0]))
    pouch_yaw = float(rng.uniform(-np.pi / 2, np.pi / 2))
    side = np.sign(CLUSTER_CENTERS[cluster][1]) or 1.0
    hold_xyz = None
    if kind is StartKind.TABLE:
        low, high = cell_bounds(cluster)
        pouch_xy = rng.uniform(low + CELL_MARGIN_M, high - CELL_MARGIN_M)
    elif kind is StartKind.BESIDE:
        # On the table 9-12 cm from the mug's centre, on the cluster's side, clear of the handle.
        angle = side * rng.uniform(np.pi / 2 - 0.2, np.pi / 2 + 0.8)
        radius = rng.uniform(0.095, 0.12)
        pouch_xy = mug_xy + radius * np.array([np.cos(angle), np.sin(angle)])
    else:
        # In the gripper, 8-12 cm from the mug towards the cluster's side, 10-12 cm up.
        angle = side * rng.uniform(np.pi / 2, np.pi / 2 + 0.6)
        radius = rng.uniform(0.08, 0.12)
        pouch_xy = mug_xy + radius * np.array([np.cos(angle), np.sin(angle)])
        hold_xyz = (float(pouch_xy[0]), float(pouch_xy[1]), float(rng.uniform(0.10, 0.12)))
    tag_xy, pouch_yaw = _tag_position(rng, pouch_xy, pouch_yaw, mug_xy)
    return StartState(
        cluster=cluster,
        kind=kind,
        pouch_xy=(float(pouch_xy[0]), float(pouch_xy[1])),
        pouch_yaw=pouch_yaw,
        tag_xy=(float(tag_xy[0]), float(tag_xy[1])),
        mug_xy=(float(mug_xy[0]), float(mug_xy[1])),
        mug_yaw=mug_yaw,
        home_noise=home_noise,
        hold_xyz=hold_xyz,
    )


def _tag_position(
    rng: np.random.Generator, pouch_xy: np.ndarray, pouch_yaw: float, mug_xy: np.ndarray
) -> tuple[np.ndarray, float]:
    """Tag 5-6 cm from the pouch's centre beyond its string end, off the mug and the arm's base.

    The string leaves the pouch at its +y end; if that side is blocked the pouch is turned by pi
    (it is symmetric), so the returned yaw may differ from the one passed in.
    """
    tag = pouch_xy
    for yaw in (pouch_yaw, pouch_yaw + np.pi if pouch_yaw < 0 else pouch_yaw - np.pi):
        direction = yaw + np.pi / 2 + rng.uniform(-0.4, 0.4)
        tag = pouch_xy + rng.uniform(0.05, 0.06) * np.array([np.cos(direction), np.sin(direction)])
        if np.linalg.norm(tag - mug_xy) > 0.06 and np.linalg.norm(tag) > 0.06:
            return tag, float(yaw)
    return tag, float(yaw)


def in_table_cell(xy: np.ndarray, cluster: int) -> bool:
    """True if ``xy`` lies in the cluster's cell (for tests and sanity checks)."""
    low, high = cell_bounds(cluster)
    return bool(np.all(xy >= low) and np.all(xy <= high))
