"""Domain randomization of the tea-bag scene (``env.randomize``): physics and looks drawn per episode.

Each factor is a ``[low, high]`` range drawn uniformly once per episode: a multiplier on every geom's
sliding friction, on the tea bag's mass (and inertia), on the position servos' stiffness (kp; the
damping is kept), on the lights' brightness, and each camera moved by up to ``camera_m`` metres per
axis. A range of zero width is a fixed perturbation (``env.randomize.friction=[1.1,1.1]``: +10%).

The draws come from their own stream of the episode's seed, so an episode's start (where the bag
and the mug are) is the same with and without randomization: results pair episode by episode.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import mujoco
import numpy as np

from simbench.errors import bad_value

FACTORS: tuple[str, ...] = ("friction", "pouch_mass", "gains", "lighting")
FACTOR_LIMITS = (0.1, 10.0)
CAMERA_LIMIT_M = 0.1


@dataclass(frozen=True)
class Randomization:
    """The ranges of ``env.randomize`` (multipliers, and a camera offset in metres)."""

    friction: tuple[float, float] = (1.0, 1.0)
    pouch_mass: tuple[float, float] = (1.0, 1.0)
    gains: tuple[float, float] = (1.0, 1.0)
    lighting: tuple[float, float] = (1.0, 1.0)
    camera_m: float = 0.0

    @classmethod
    def parse(cls, node: Mapping[str, Any] | None) -> Randomization | None:
        """``env.randomize`` as given (None or empty: no randomization); bad input names its key."""
        if not node:
            return None
        if not isinstance(node, Mapping):
            raise bad_value("env.randomize", node, f"must be a mapping of {', '.join((*FACTORS, 'camera_m'))}")
        unknown = sorted(set(node) - {*FACTORS, "camera_m"})
        if unknown:
            raise bad_value(f"env.randomize.{unknown[0]}", node[unknown[0]],
                            f"is not a factor; choose from {', '.join((*FACTORS, 'camera_m'))}")
        kw: dict[str, Any] = {}
        lo_lim, hi_lim = FACTOR_LIMITS
        for key in FACTORS:
            if key not in node:
                continue
            value = node[key]
            rng = _pair(value)
            if rng is None or not (lo_lim <= rng[0] <= rng[1] <= hi_lim):
                raise bad_value(f"env.randomize.{key}", value,
                                f"must be [low, high] multipliers with {lo_lim} <= low <= high <= {hi_lim}")
            kw[key] = rng
        if "camera_m" in node:
            cam = node["camera_m"]
            if isinstance(cam, bool) or not isinstance(cam, (int, float)) or not 0 <= cam <= CAMERA_LIMIT_M:
                raise bad_value("env.randomize.camera_m", cam, f"must be metres in [0, {CAMERA_LIMIT_M}]")
            kw["camera_m"] = float(cam)
        return cls(**kw)

    def describe(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


def _pair(value: Any) -> tuple[float, float] | None:
    try:
        lo, hi = (float(v) for v in value)
    except (TypeError, ValueError):
        return None
    return (lo, hi) if math.isfinite(lo) and math.isfinite(hi) else None


@dataclass
class Nominal:
    """The scene's own values, restored before every draw."""

    geom_friction: np.ndarray
    pouch_mass: float
    pouch_inertia: np.ndarray
    gain: np.ndarray
    bias: np.ndarray
    light_diffuse: np.ndarray
    light_ambient: np.ndarray
    head_diffuse: np.ndarray
    head_ambient: np.ndarray
    cam_pos: np.ndarray
    pouch_body: int = field(default=0)
    randomized: bool = False
    """The model holds drawn values (its derived constants must be recomputed on restoring)."""

    @classmethod
    def of(cls, model: mujoco.MjModel) -> Nominal:
        pouch = model.body("pouch").id
        return cls(
            model.geom_friction.copy(), float(model.body_mass[pouch]), model.body_inertia[pouch].copy(),
            model.actuator_gainprm[:, 0].copy(), model.actuator_biasprm[:, 1].copy(), model.light_diffuse.copy(),
            model.light_ambient.copy(), np.array(model.vis.headlight.diffuse), np.array(model.vis.headlight.ambient),
            model.cam_pos.copy(), pouch,
        )


def apply(model: mujoco.MjModel, data: mujoco.MjData, nominal: Nominal, spec: Randomization | None,
          rng: np.random.Generator) -> dict[str, float]:
    """Restore the nominal scene, then draw and apply ``spec``'s factors; returns what was drawn.

    A changed mass also changes what MuJoCo derived from it when compiling (the inverse weights that
    scale every contact's softness): those are recomputed (``mj_setConst``), as a compiled model with
    that mass would have them."""
    model.geom_friction[:] = nominal.geom_friction
    model.body_mass[nominal.pouch_body] = nominal.pouch_mass
    model.body_inertia[nominal.pouch_body] = nominal.pouch_inertia
    model.actuator_gainprm[:, 0] = nominal.gain
    model.actuator_biasprm[:, 1] = nominal.bias
    model.light_diffuse[:] = nominal.light_diffuse
    model.light_ambient[:] = nominal.light_ambient
    model.vis.headlight.diffuse[:] = nominal.head_diffuse
    model.vis.headlight.ambient[:] = nominal.head_ambient
    model.cam_pos[:] = nominal.cam_pos
    if spec is None:
        if nominal.randomized:
            mujoco.mj_setConst(model, data)
            nominal.randomized = False
        return {}
    nominal.randomized = True
    drawn = {k: float(rng.uniform(*getattr(spec, k))) for k in FACTORS}
    offsets = rng.uniform(-spec.camera_m, spec.camera_m, nominal.cam_pos.shape)
    model.geom_friction[:, 0] = nominal.geom_friction[:, 0] * drawn["friction"]
    model.body_mass[nominal.pouch_body] = nominal.pouch_mass * drawn["pouch_mass"]
    model.body_inertia[nominal.pouch_body] = nominal.pouch_inertia * drawn["pouch_mass"]
    model.actuator_gainprm[:, 0] = nominal.gain * drawn["gains"]
    model.actuator_biasprm[:, 1] = nominal.bias * drawn["gains"]
    model.light_diffuse[:] = np.clip(nominal.light_diffuse * drawn["lighting"], 0.0, 1.0)
    model.light_ambient[:] = np.clip(nominal.light_ambient * drawn["lighting"], 0.0, 1.0)
    model.vis.headlight.diffuse[:] = np.clip(nominal.head_diffuse * drawn["lighting"], 0.0, 1.0)
    model.vis.headlight.ambient[:] = np.clip(nominal.head_ambient * drawn["lighting"], 0.0, 1.0)
    model.cam_pos[:] = nominal.cam_pos + offsets
    drawn["camera_offset_m"] = float(np.abs(offsets).max()) if offsets.size else 0.0
    mujoco.mj_setConst(model, data)
    return drawn


__all__ = ["FACTORS", "Nominal", "Randomization", "apply"]
