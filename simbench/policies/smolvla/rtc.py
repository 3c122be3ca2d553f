"""Real-Time Chunking (Black et al. 2025, arXiv 2506.07339) for the flow-matching expert, in numpy.

The new chunk is denoised as an inpainting problem: at every Euler step the velocity is corrected so
that the chunk's estimate of its clean actions moves toward the actions the robot is executing anyway
(the left-over queue). Parameters and the weight schedule are LeRobot's ``RTCConfig`` /
``RTCProcessor``: a prefix weight per chunk position (1 for the positions executed before the chunk
can arrive, falling to 0 at ``execution_horizon``) and a guidance weight ``min(beta, c / r^2)`` per step.

Conventions of this runtime: time t runs from 1 (noise) to 0 (actions), ``x <- x - v / n``, so the
clean estimate is ``x1 = x - t v`` and its Jacobian is ``J = I - t dv/dx``. Guided RTC needs the
vector-Jacobian product ``J^T e`` with ``e = w * (Y - x1)``; an ONNX graph has no autograd, so:

- ``identity``: ``J ~ I`` (the expert's dependence on x_t ignored): closed form, no extra call;
- ``fd``: ``J^T e ~ J e`` (J taken as symmetric), by a forward difference along e: one more expert
  call per step.

The guided velocity is ``v - g(t) J^T e``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from simbench.errors import bad_value, unknown_name

SCHEDULES = ("zeros", "ones", "linear", "exp")
VJPS = ("identity", "fd")
MAX_GUIDANCE = 100.0
FD_STEP = 1e-2
"""Length (in normalized action units, max norm) of the forward difference's step along e."""

F32 = NDArray[np.float32]


@dataclass(frozen=True)
class RTCConfig:
    """``policy.rtc``; ``enabled`` is set by ``scheduler.aggregate=rtc``."""

    enabled: bool = False
    execution_horizon: int = 10
    """Chunk positions (model steps) whose weight is above 0."""
    max_guidance_weight: float = 10.0
    prefix_attention_schedule: str = "linear"
    vjp: str = "identity"

    @classmethod
    def parse(cls, node: Mapping[str, Any] | None, chunk_size: int, enabled: bool) -> RTCConfig:
        """Validated; one ConfigError line naming the key otherwise."""
        node = dict(node or {})
        unknown = sorted(set(node) - {"execution_horizon", "max_guidance_weight", "prefix_attention_schedule", "vjp"})
        if unknown:
            raise bad_value(f"policy.rtc.{unknown[0]}", node[unknown[0]],
                            "keys are execution_horizon, max_guidance_weight, prefix_attention_schedule, vjp")
        horizon = node.get("execution_horizon", cls.execution_horizon)
        if isinstance(horizon, bool) or not isinstance(horizon, int) or not 1 <= horizon <= chunk_size:
            raise bad_value("policy.rtc.execution_horizon", horizon, f"an integer in [1, {chunk_size}] (model steps)")
        beta = node.get("max_guidance_weight", cls.max_guidance_weight)
        if isinstance(beta, bool) or not isinstance(beta, (int, float)) or not 0.0 <= float(beta) <= MAX_GUIDANCE:
            raise bad_value("policy.rtc.max_guidance_weight", beta, f"a number in [0, {MAX_GUIDANCE:g}]")
        schedule = str(node.get("prefix_attention_schedule", cls.prefix_attention_schedule)).lower()
        if schedule not in SCHEDULES:
            raise unknown_name("policy.rtc.prefix_attention_schedule", schedule, SCHEDULES)
        vjp = str(node.get("vjp", cls.vjp))
        if vjp not in VJPS:
            raise unknown_name("policy.rtc.vjp", vjp, VJPS)
        return cls(bool(enabled), int(horizon), float(beta), schedule, vjp)


def prefix_weights(start: int, end: int, total: int, schedule: str) -> NDArray[np.float32]:
    """LeRobot's ``get_prefix_weights``: 1 before ``start``; then ``schedule`` down to 0 at ``end``."""
    start = min(start, end)
    w = np.zeros(total, np.float32)
    if schedule == "zeros":
        w[:start] = 1.0
        return w
    if schedule == "ones":
        w[:end] = 1.0
        return w
    n = end - start
    if n > 0:
        ramp = np.linspace(1.0, 0.0, n + 2, dtype=np.float64)[1:-1]
        if schedule == "exp":
            ramp = ramp * np.expm1(ramp) / (math.e - 1.0)
        w[start:end] = ramp
    w[:start] = 1.0
    return w


def guidance_weight(t: float, beta: float) -> float:
    """min(beta, c / r^2) of RTC, with t = 1 at the noise (c and 1 / r^2 both infinite at the ends)."""
    if t <= 0.0 or t >= 1.0:
        return beta
    value = (t / (1.0 - t)) * (t * t + (1.0 - t) ** 2) / (t * t)
    return min(beta, value)


@dataclass
class Guide:
    """One chunk's guidance: the target (normalized, model rate, zero-padded) and its weights."""

    target: F32
    """(1, chunk, A)."""
    weights: F32
    """(1, chunk, 1)."""
    beta: float
    vjp: str
    expert_calls: int = 0
    """Extra expert calls this guide made (fd: one per step)."""
    shrink: list[tuple[float, float]] = field(default_factory=list)
    """fd: (t, |J e| / |e|) per step: how much the Jacobian shrinks the identity's correction."""

    @classmethod
    def for_chunk(cls, cfg: RTCConfig, prefix: NDArray[np.float64], start: int, frozen_until: int, ratio: float,
                  chunk: int) -> Guide:
        """Guidance toward ``prefix`` (normalized actions at the control rate, ``prefix[0]`` at the chunk's
        control position ``start``); control positions up to ``frozen_until`` run before the chunk can
        arrive (weight 1). Model step j is control position ``j * ratio``; the weights fall to 0 at
        ``execution_horizon`` model steps after ``start`` or where the prefix ends."""
        pos = np.arange(chunk) * ratio - start  # each model step's place in the prefix (control ticks)
        valid = (pos >= -1e-9) & (pos <= len(prefix) - 1 + 1e-9)
        lo = np.clip(np.floor(pos + 1e-9).astype(int), 0, len(prefix) - 1)
        hi = np.minimum(lo + 1, len(prefix) - 1)
        frac = np.clip(pos - lo, 0.0, 1.0)[:, None]
        target = np.where(valid[:, None], prefix[lo] * (1.0 - frac) + prefix[hi] * frac, 0.0)
        first = int(np.argmax(valid)) if valid.any() else chunk
        last = int(chunk - np.argmax(valid[::-1])) if valid.any() else 0  # one past the last valid step
        end = min(last, first + cfg.execution_horizon)
        frozen = math.floor(frozen_until / ratio + 1e-9) + 1
        weights = prefix_weights(min(frozen, end), end, chunk, cfg.prefix_attention_schedule)
        weights[:first] = 0.0
        return cls(target[None].astype(np.float32), weights[None, :, None], cfg.max_guidance_weight, cfg.vjp)

    def velocity(self, x: F32, t: float, v: F32, expert: Callable[[F32], F32]) -> F32:
        """The guided velocity at time t (``expert(x)`` is the plain velocity at this t)."""
        g = guidance_weight(t, self.beta)
        if g == 0.0:
            return v
        e = self.weights * (self.target - (x - t * v))
        if self.vjp == "fd":
            scale = float(np.max(np.abs(e)))
            if scale > 0.0:
                h = FD_STEP / scale
                jv = (expert((x + h * e).astype(np.float32)) - v) / h
                self.expert_calls += 1
                corrected = e - t * jv
                self.shrink.append((t, float(np.linalg.norm(corrected) / np.linalg.norm(e))))
                e = corrected
        return (v - g * e).astype(np.float32)


__all__ = ["FD_STEP", "SCHEDULES", "VJPS", "Guide", "RTCConfig", "guidance_weight", "prefix_weights"]
