"""Device profiles: a board's published (or assumed) latency per policy, as data (``latency=imx95``).

A device profile is a config, ``conf/device/<board>.yaml``: ``profiles`` maps a policy name
(``act_int8``...) to the median seconds per inference measured on the board, ``jitter`` is a
lognormal sigma around it, and the provenance says which medians are ``published`` (which figure,
from which ``source``) and which are ``assumed`` (borrowing whose, and why). ``conf/latency/<board>.yaml``
pulls the device in and names this source (``name: device_profile``); a new board needs no code.
This module only knows how to sample a profile and to say which kind a run got (:meth:`describe`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from simbench.errors import bad_value, unknown_name
from simbench.latency.base import SampledLatency
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
class DeviceProfileLatency(SampledLatency):
    """Lognormal around a per-policy published (or assumed) median."""

    median: float
    jitter: float
    policy: str = ""
    provenance: Mapping[str, Any] = field(default_factory=dict)
    """``{"kind": "published" | "assumed", ...}`` (:func:`profile_provenance`)."""

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any], policy: str) -> DeviceProfileLatency:
        """The profile for ``policy`` from a ``latency`` node holding a device's keys (``profiles``,
        ``jitter``, ``published``, ``assumed``, ``source``)."""
        if "profiles" not in cfg:
            raise bad_value(
                "latency", cfg.get("name"), "a device profile needs profiles (policy name -> median seconds)"
            )
        return cls.for_policy(cfg["profiles"], policy, float(cfg.get("jitter", 0.0)),
                              provenance=profile_provenance(cfg, policy))

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
