"""Latency statistics the field reports: percentiles and MLPerf-style early-stopping estimates."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

EARLY_STOPPING_MIN_COUNT = 64
"""MLPerf LoadGen needs at least 64 queries for an early-stopping estimate."""


def _binom_cdf(k: int, n: int, p: float) -> float:
    """P(Binomial(n, p) <= k), summed in log space (numpy only: no scipy on the board)."""
    if k < 0:
        return 0.0
    if k >= n:
        return 1.0
    logs = [
        math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1) + i * math.log(p) + (n - i) * math.log1p(-p)
        for i in range(k + 1)
    ]
    top = max(logs)
    return min(1.0, math.exp(top) * sum(math.exp(v - top) for v in logs))


def early_stopping_percentile(
    latencies: Sequence[float], percentile: float = 90.0, confidence: float = 0.99
) -> float | None:
    """An upper bound of the true percentile at the given confidence (None below 64 samples).

    The number of samples below the true p-quantile is Binomial(n, p); the k-th smallest sample
    exceeds that quantile with probability P(Bin(n, p) <= k - 1). The estimate is the smallest such
    order statistic with that probability >= ``confidence`` (None when even the maximum falls short).
    """
    n = len(latencies)
    if n < EARLY_STOPPING_MIN_COUNT:
        return None
    p = percentile / 100.0
    ordered = np.sort(np.asarray(latencies, dtype=np.float64))
    k = int(math.floor(n * p))  # start near the quantile; the cdf there is ~0.5
    while k <= n and _binom_cdf(k - 1, n, p) < confidence:
        k += 1
    return float(ordered[k - 1]) if k <= n else None


def summarize(latencies: Sequence[float]) -> dict[str, float | int | None]:
    """count, mean, min, max, p50/p90/p99 and the early-stopping p90/p99 of seconds per run."""
    values = np.asarray(latencies, dtype=np.float64)
    if values.size == 0:
        return {"count": 0}
    p50, p90, p99 = (float(v) for v in np.percentile(values, [50, 90, 99]))
    return {
        "count": int(values.size),
        "mean_s": float(values.mean()),
        "min_s": float(values.min()),
        "max_s": float(values.max()),
        "p50_s": p50,
        "p90_s": p90,
        "p99_s": p99,
        "p90_early_stopping_s": early_stopping_percentile(values, 90.0),
        "p99_early_stopping_s": early_stopping_percentile(values, 99.0),
    }


__all__ = ["EARLY_STOPPING_MIN_COUNT", "early_stopping_percentile", "summarize"]
