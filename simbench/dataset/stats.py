"""Per-feature statistics in LeRobot's layout (mean, std, min, max, count, q01..q99).

Vectors get per-dimension stats; images get per-channel stats of values scaled to [0, 1], shaped
(3, 1, 1) so they broadcast over (C, H, W) tensors, as LeRobot stores them.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

QUANTILES: dict[str, float] = {"q01": 0.01, "q10": 0.10, "q50": 0.50, "q90": 0.90, "q99": 0.99}


def vector_stats(values: NDArray[np.floating]) -> dict[str, NDArray[np.float64]]:
    """Stats over axis 0 of an (N, D) array."""
    x = np.asarray(values, dtype=np.float64)
    out = {
        "mean": x.mean(0),
        "std": x.std(0),
        "min": x.min(0),
        "max": x.max(0),
        "count": np.array([len(x)]),
    }
    out.update({name: np.quantile(x, q, axis=0) for name, q in QUANTILES.items()})
    return out


def image_stats(frames: NDArray[np.uint8], max_pixels: int = 2_000_000, seed: int = 0) -> dict[str, NDArray[np.float64]]:
    """Per-channel stats of (N, H, W, 3) uint8 frames, in [0, 1], each shaped (3, 1, 1).

    Quantiles use a fixed random subsample of pixels (exact mean/std/min/max over all of them).
    """
    n = len(frames)
    pixels = frames.reshape(-1, 3)
    x = pixels.astype(np.float64) / 255.0
    rng = np.random.default_rng(seed)
    sample = x if len(x) <= max_pixels else x[rng.choice(len(x), max_pixels, replace=False)]
    out = {
        "mean": x.mean(0),
        "std": x.std(0),
        "min": x.min(0),
        "max": x.max(0),
    }
    out.update({name: np.quantile(sample, q, axis=0) for name, q in QUANTILES.items()})
    shaped = {k: v.reshape(3, 1, 1) for k, v in out.items()}
    shaped["count"] = np.array([n])
    return shaped


def to_json(stats: dict[str, dict[str, NDArray[np.float64]]]) -> dict[str, dict[str, list]]:
    return {feature: {k: np.asarray(v).tolist() for k, v in s.items()} for feature, s in stats.items()}
