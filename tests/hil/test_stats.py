"""Percentiles and the MLPerf-style early-stopping estimate."""

from __future__ import annotations

import math

import numpy as np
import pytest
from simbench_agent.stats import _binom_cdf, early_stopping_percentile, summarize


def test_binomial_cdf() -> None:
    exact = sum(math.comb(64, i) * 0.9**i * 0.1 ** (64 - i) for i in range(58))
    assert _binom_cdf(57, 64, 0.9) == pytest.approx(exact, rel=1e-9)
    assert _binom_cdf(0, 3, 0.5) == pytest.approx(0.125)
    assert _binom_cdf(64, 64, 0.9) == 1.0


def test_early_stopping_bounds_the_percentile() -> None:
    assert early_stopping_percentile(list(range(63))) is None  # MLPerf's minimum is 64
    values = np.arange(1, 65, dtype=float)
    assert (
        early_stopping_percentile(values) == 63.0
    )  # P(Bin(64, 0.9) <= 62) = 0.9904: the 63rd smallest bounds p90 at 99%
    big = np.random.default_rng(0).lognormal(0, 0.3, 5000)
    est = early_stopping_percentile(big)
    assert np.percentile(big, 90) < est < np.percentile(big, 92)
    s = summarize(big)
    assert s["count"] == 5000 and s["p50_s"] < s["p90_s"] < s["p99_s"] and s["p90_early_stopping_s"] == est
