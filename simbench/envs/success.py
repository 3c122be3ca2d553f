"""When is the tea bag in the mug?

Success, as a person grading the published task would call it: the whole pouch is inside the mug
(every corner within the mug's inner radius and below its rim), the mug stands upright, and the
pouch is not touching the table (a pouch lying under a tipped mug or leaning on the outside would
otherwise pass a centre-distance test). The environment asks for this to hold for a short dwell
time before it reports success, so a bag bouncing through the mug on its way out does not count.

Everything is computed from positions, orientations and the contact list of an ``MjData`` after
``mj_forward``/``mj_step``, so tests can build states by hand and check each clause.
"""

from __future__ import annotations

from dataclasses import dataclass

import mujoco
import numpy as np

MUG_INNER_RADIUS_M = 0.040
MUG_RIM_M = 0.07
UPRIGHT_COS = float(np.cos(np.radians(20.0)))
"""The mug counts as upright within 20 degrees of vertical."""
TOLERANCE_M = 0.004
"""Contacts are soft: allow a few millimetres of penetration into walls and floor."""


@dataclass(frozen=True)
class SuccessCheck:
    """Each clause of the success condition, for tests and logging."""

    inside: bool
    below_rim: bool
    upright: bool
    off_table: bool

    @property
    def success(self) -> bool:
        return self.inside and self.below_rim and self.upright and self.off_table


class SuccessChecker:
    """Evaluates :class:`SuccessCheck` for the scene's pouch and mug."""

    def __init__(self, model: mujoco.MjModel) -> None:
        self.pouch_geom = model.geom("pouch").id
        self.table_geom = model.geom("table").id
        self.mug_body = model.body("mug").id
        base = model.geom("mug_base").id
        self.floor_m = float(model.geom_pos[base][2] + model.geom_size[base][1])
        """Top of the mug's base in the mug's frame, read from the scene so a thicker base moves it."""
        self.half = model.geom_size[self.pouch_geom].copy()
        signs = np.array([[sx, sy, sz] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)], dtype=float)
        self._corners_local = signs * self.half  # (8, 3)

    def pouch_corners(self, data: mujoco.MjData) -> np.ndarray:
        """World positions of the pouch's eight corners, (8, 3)."""
        rot = data.geom_xmat[self.pouch_geom].reshape(3, 3)
        return data.geom_xpos[self.pouch_geom] + self._corners_local @ rot.T

    def check(self, data: mujoco.MjData) -> SuccessCheck:
        mug_rot = data.xmat[self.mug_body].reshape(3, 3)
        corners = (self.pouch_corners(data) - data.xpos[self.mug_body]) @ mug_rot  # in the mug's frame
        radial = np.hypot(corners[:, 0], corners[:, 1])
        inside = bool(
            np.all(radial <= MUG_INNER_RADIUS_M + TOLERANCE_M) and np.all(corners[:, 2] >= self.floor_m - TOLERANCE_M)
        )
        below_rim = bool(np.all(corners[:, 2] <= MUG_RIM_M))
        upright = bool(mug_rot[2, 2] >= UPRIGHT_COS)
        return SuccessCheck(
            inside=inside, below_rim=below_rim, upright=upright, off_table=not self._touches_table(data)
        )

    def _touches_table(self, data: mujoco.MjData) -> bool:
        for i in range(data.ncon):
            contact = data.contact[i]
            pair = (contact.geom1, contact.geom2)
            if self.pouch_geom in pair and self.table_geom in pair:
                return True
        return False
