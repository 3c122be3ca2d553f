"""Board profiles from published measurements (``latency=imx95``).

The profile maps a policy name (``act_int8``...) to the median seconds per inference measured on the
board, and adds lognormal jitter around it. The numbers live in ``conf/latency/imx95.yaml`` with
their provenance: ``published`` lists the policies whose median *is* a published figure (which
one), ``assumed`` the ones that have none and borrow another policy's (whose, and why). This module
only knows how to sample them and to say which kind a run got (:meth:`describe`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from simbench.errors import unknown_name
from simbench.latency.distributions import LognormalLatency


def profile_provenance(cfg: Mapping[str, Any], policy: str) -> dict[str, Any]:
    """``describe()``'s provenance part for ``policy`` from a device-profile config node.

    A policy in ``published`` gets ``{"kind": "published", "figure", "source"}``; one in
    ``assumed`` gets ``{"kind": "assumed", "borrows", "why"}``; a profile added by an override and
    listed in neither is assumed too, borrowing nothing (the user typed the number)."""
    published = cfg.get("published") or {}
    assumed = cfg.get("assumed") or {}
    if policy in published:
        return {"kind": "published", "figure": str(published[policy]), "source": cfg.get("source")}
    if policy in assumed:
        entry = assumed[policy] or {}
        return {"kind": "assumed", "borrows": entry.get("borrows"), "why": entry.get("why")}
    return {"kind": "assumed", "borrows": None, "why": "set by a config override; no published figure"}


@dataclass(frozen=True)
class DeviceProfileLatency:
    """Lognormal around a per-policy published (or assumed) median."""

    median: float
    jitter: float
    policy: str = ""
    provenance: Mapping[str, Any] = field(default_factory=dict)
    """``{"kind": "published" | "assumed", ...}`` (:func:`profile_provenance`)."""

    @classmethod
    def for_policy(cls, profiles: Mapping[str, float], policy: str, jitter: float, profile_key: str = "latency",
                   provenance: Mapping[str, Any] | None = None) -> DeviceProfileLatency:
        if policy not in profiles:
            raise unknown_name(f"{profile_key}.profiles (policy)", policy, profiles)
        return cls(float(profiles[policy]), float(jitter), policy, dict(provenance or {}))

    def __post_init__(self) -> None:
        if self.median != 0.0:  # 0 s: a policy with nothing to run on the board (scripted expert)
            LognormalLatency(self.median, self.jitter)  # same validation

    def sample(self, rng: np.random.Generator) -> float:
        if self.jitter == 0.0 or self.median == 0.0:
            return self.median
        return float(self.median * np.exp(self.jitter * rng.standard_normal()))

    def describe(self) -> dict[str, Any]:
        kind = {"kind": self.provenance.get("kind", "assumed")}
        return {**kind, **self.provenance, "policy": self.policy, "median_s": self.median, "jitter": self.jitter}
