"""Several datasets' stats pooled into one equal the stats of their frames concatenated."""

from __future__ import annotations

import numpy as np

from simbench.dataset.stats import aggregate_stats, image_stats, vector_stats


def test_pooled_vector_stats_equal_the_concatenation() -> None:
    rng = np.random.default_rng(0)
    a = rng.normal(1.0, 2.0, (300, 6))
    b = rng.normal(-3.0, 0.5, (50, 6))
    pooled = aggregate_stats([{"action": vector_stats(a)}, {"action": vector_stats(b)}])["action"]
    whole = vector_stats(np.concatenate([a, b]))
    for key in ("mean", "std", "min", "max", "count"):
        np.testing.assert_allclose(pooled[key], whole[key], rtol=1e-12, atol=1e-12)


def test_pooled_image_stats_keep_their_shape_and_skip_partial_features() -> None:
    rng = np.random.default_rng(1)
    a = rng.integers(0, 256, (4, 6, 8, 3), dtype=np.uint8)
    b = rng.integers(0, 100, (2, 6, 8, 3), dtype=np.uint8)
    key = "observation.images.top"
    pooled = aggregate_stats([{key: image_stats(a), "only_a": vector_stats(np.ones((2, 1)))}, {key: image_stats(b)}])
    whole = image_stats(np.concatenate([a, b]))
    assert set(pooled) == {key}  # a feature only one dataset has is left out
    assert pooled[key]["mean"].shape == (3, 1, 1)
    np.testing.assert_allclose(pooled[key]["mean"], whole["mean"], rtol=1e-12)
    np.testing.assert_allclose(pooled[key]["std"], whole["std"], rtol=1e-12)
    assert int(pooled[key]["count"][0]) == 6
