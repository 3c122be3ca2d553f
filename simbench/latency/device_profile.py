"""Device profiles: a board's published (or predicted) latency per policy, as data (``latency=imx95``).

A device profile is a config, ``conf/device/<board>.yaml``: ``profiles`` maps a policy name
(``act_int8``...) to the median seconds per inference measured on the board, ``jitter`` is a
lognormal sigma around it, and the provenance says which medians are ``published`` (which figure,
from which ``source``). A variant with no figure is listed under ``predicted`` with the published
variant it is anchored to: its median is the anchor's figure rescaled, stage by stage, by the
device model's ratio on the two variants' shipped graphs (:func:`simbench.latency.predicted.anchored_median`).
``conf/latency/<board>.yaml`` pulls the device in and names this source (``name: device_profile``);
a new board needs no code. This module samples a profile and says which kind a run got (:meth:`describe`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from simbench.errors import ConfigError, bad_value, unknown_name
from simbench.latency.base import SampledLatency
from simbench.latency.distributions import LognormalLatency
from simbench.latency.context import GraphsOf, LatencyContext
from simbench.latency.predicted import anchored_median, predict_policy


def profile_provenance(cfg: Mapping[str, Any], policy: str) -> dict[str, Any]:
    """``describe()``'s provenance part for ``policy`` from a device-profile config node.

    A policy in ``published`` gets ``{"kind": "published", "figure", "source"}``; one in
    ``no_network`` gets ``{"kind": "no_network", "why"}``; a profile added by an override and listed
    nowhere is ``{"kind": "override"}`` (the user typed the number). Predicted variants are
    :func:`predicted_profile`'s."""
    published = cfg.get("published") or {}
    if policy in published:
        return {"kind": "published", "figure": str(published[policy]), "source": cfg.get("source")}
    if policy in (cfg.get("no_network") or {}):
        return {"kind": "no_network", "why": cfg["no_network"][policy]}
    return {"kind": "override", "why": "set by a config override; no published figure"}


def predicted_profile(cfg: Mapping[str, Any], policy: str, graphs_of: GraphsOf | None) -> tuple[float, dict[str, Any]]:
    """(median, provenance) of a variant listed under ``predicted``: its anchor's published figure
    rescaled by the device model (``cfg.model``'s device, this profile's ``device``)."""
    anchor = cfg["predicted"][policy]
    if anchor not in (cfg.get("published") or {}) or anchor not in cfg.get("profiles", {}):
        raise bad_value(f"latency.predicted.{policy}", anchor, "must name a variant with a published figure")
    if graphs_of is None:
        raise ConfigError(f"latency.predicted.{policy}: a predicted profile needs the policy's graphs")
    settings = {"device": cfg.get("device", "imx95")}
    variant, base = (predict_policy(settings, graphs_of(p)) for p in (policy, anchor))
    shares = [(name, share) for name, _, share in graphs_of(anchor)[1]]
    median, ratio = anchored_median(float(cfg["profiles"][anchor]), shares, variant, base)
    return median, {"kind": "predicted", "anchor": anchor, "anchor_s": float(cfg["profiles"][anchor]),
                    "ratio": ratio, "device": variant.device, "graphs": dict(variant.graphs)}


def same_model(ctx: LatencyContext, variants: Iterable[str]) -> str | None:
    """The listed variant whose ONNX graphs are byte for byte the run's (sha256), if any: a shipped
    model copied or re-named keeps its figure."""
    mine = ctx.model_sha256()
    if mine is None:
        return None
    return next((name for name in variants if ctx.model_sha256(name) == mine), None)


@dataclass(frozen=True)
class DeviceProfileLatency(SampledLatency):
    """Lognormal around a per-policy published (or predicted) median."""

    median: float
    jitter: float
    policy: str = ""
    provenance: Mapping[str, Any] = field(default_factory=dict)
    """``{"kind": "published" | "predicted" | "no_network" | "override", ...}``."""

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any], ctx: LatencyContext) -> DeviceProfileLatency:
        """The profile for the run's policy from a ``latency`` node holding a device's keys (``profiles``,
        ``jitter``, ``published``, ``predicted``, ``no_network``, ``source``, ``model``). A policy is
        found by its name, else by its model: graphs with the same sha256 as a listed variant's."""
        if "profiles" not in cfg:
            raise bad_value(
                "latency", cfg.get("name"), "a device profile needs profiles (policy name -> median seconds)"
            )
        jitter = float(cfg.get("jitter", 0.0))
        policy = ctx.policy
        listed = (*cfg["profiles"], *(cfg.get("predicted") or {}))
        if policy not in listed and (same := same_model(ctx, listed)) is not None:
            found = cls.from_config(cfg, replace(ctx, policy=same))
            return cls(found.median, found.jitter, policy, {**found.provenance, "matched": {"by": "sha256", "variant": same}})
        if policy not in cfg["profiles"] and policy in (cfg.get("predicted") or {}):
            median, provenance = predicted_profile(cfg, policy, ctx.graphs_of)
            return cls(median, jitter, policy, provenance)
        if policy not in cfg["profiles"] and ctx.graphs_of is not None:  # no figure: the device model on its own graph
            from simbench.latency.unpublished import unpublished_latency

            unpublished = unpublished_latency(cfg, policy, ctx.graphs_of)
            if unpublished is not None:
                return unpublished  # type: ignore[return-value]
        return cls.for_policy(cfg["profiles"], policy, jitter, provenance=profile_provenance(cfg, policy))

    @classmethod
    def for_policy(cls, profiles: Mapping[str, float], policy: str, jitter: float, profile_key: str = "latency",
                   provenance: Mapping[str, Any] | None = None) -> DeviceProfileLatency:
        if policy not in profiles:
            raise unknown_name(f"{profile_key}.profiles (policy)", policy, profiles)  # predicted ones: from_config
        return cls(float(profiles[policy]), float(jitter), policy, dict(provenance or {}))

    def __post_init__(self) -> None:
        if self.median != 0.0:  # 0 s: a policy with nothing to run on the board (scripted expert)
            LognormalLatency(self.median, self.jitter)  # same validation

    def sample(self, rng: np.random.Generator) -> float:
        if self.jitter == 0.0 or self.median == 0.0:
            return self.median
        return float(self.median * np.exp(self.jitter * rng.standard_normal()))

    def describe(self) -> dict[str, Any]:
        kind = {"kind": self.provenance.get("kind", "override")}
        return {**kind, **self.provenance, "policy": self.policy, "median_s": self.median, "jitter": self.jitter}
