"""Real-Time Chunking's guided velocity on the board, for the ``vla`` op (numpy only).

The host computes the target and weights (simbench.policies.smolvla.rtc.Guide) and sends them; this is
the per-step arithmetic of ``Guide.velocity``, operation for operation, so a guided chunk computed here
equals the host's (tests/hil/test_vla_board.py holds the two to each other).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray

VJPS = ("identity", "fd")
MAX_GUIDANCE = 100.0
FD_STEP = 1e-2


def guidance_weight(t: float, beta: float) -> float:
    if t <= 0.0 or t >= 1.0:
        return beta
    return min(beta, (t / (1.0 - t)) * (t * t + (1.0 - t) ** 2) / (t * t))


def guided_velocity(x: NDArray[np.float32], t: float, v: NDArray[np.float32], guide: dict[str, Any],
                    expert: Callable[[NDArray[np.float32]], NDArray[np.float32]]) -> NDArray[np.float32]:
    """``guide``: {target (1, chunk, A), weights (1, chunk, 1), beta, vjp}, validated by the caller."""
    g = guidance_weight(t, guide["beta"])
    if g == 0.0:
        return v
    e = guide["weights"] * (guide["target"] - (x - t * v))
    if guide["vjp"] == "fd":
        scale = float(np.max(np.abs(e)))
        if scale > 0.0:
            h = FD_STEP / scale
            e = e - t * ((expert((x + h * e).astype(np.float32)) - v) / h)
    return (v - g * e).astype(np.float32)
