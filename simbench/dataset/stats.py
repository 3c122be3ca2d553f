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


def image_stats(
    frames: NDArray[np.uint8], max_pixels: int = 2_000_000, seed: int = 0
) -> dict[str, NDArray[np.float64]]:
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


def aggregate_stats(
    parts: list[dict[str, dict[str, NDArray[np.floating]]]],
) -> dict[str, dict[str, NDArray[np.float64]]]:
    """Stats of several datasets as one, weighted by their frame counts (LeRobot's ``aggregate_stats``): pooled mean and
    variance (within plus between datasets), min of mins, max of maxes (where every part has them). Quantiles cannot be
    pooled exactly and are left out, and so is a feature that not every part has."""
    out: dict[str, dict[str, NDArray[np.float64]]] = {}
    for feature in [f for f in parts[0] if all(f in p for p in parts)]:
        missing = [i for i, p in enumerate(parts) if not {"count", "mean", "std"} <= set(p[feature])]
        if missing:
            raise KeyError(f"stats of dataset {missing[0]} have no count, mean or std for {feature!r}")
        counts = np.array([float(np.asarray(p[feature]["count"]).reshape(-1)[0]) for p in parts])
        w = counts / counts.sum()
        means = [np.asarray(p[feature]["mean"], dtype=np.float64) for p in parts]
        stds = [np.asarray(p[feature]["std"], dtype=np.float64) for p in parts]
        mean = sum(wi * m for wi, m in zip(w, means))
        var = sum(wi * (s**2 + (m - mean) ** 2) for wi, m, s in zip(w, means, stds))
        out[feature] = {"mean": mean, "std": np.sqrt(var), "count": np.array([int(counts.sum())])}
        for key, reduce in (("min", np.min), ("max", np.max)):
            if all(key in p[feature] for p in parts):
                out[feature][key] = reduce([np.asarray(p[feature][key], dtype=np.float64) for p in parts], axis=0)
    return out


def to_json(stats: dict[str, dict[str, NDArray[np.float64]]]) -> dict[str, dict[str, list]]:
    return {feature: {k: np.asarray(v).tolist() for k, v in s.items()} for feature, s in stats.items()}
