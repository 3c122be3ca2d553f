"""LeRobot's aggregate functions and merge rules, and ACT temporal ensembling."""

from __future__ import annotations

import numpy as np
import pytest

from simbench.errors import ConfigError
from simbench.scheduler.action_queue import ActionQueue
from simbench.scheduler.aggregate import make_aggregator


@pytest.mark.parametrize(
    ("name", "w_old"), [("weighted_average", 0.3), ("latest_only", 0.0), ("average", 0.5), ("conservative", 0.7)]
)
def test_blends(name: str, w_old: float) -> None:
    old, new = np.array([[1.0, 2.0]]), np.array([[3.0, 6.0]])
    out = make_aggregator(name, 0.01, 20)(old, new, np.array([1]))
    np.testing.assert_allclose(out, w_old * old + (1 - w_old) * new)


def test_unknown_aggregate_lists_names() -> None:
    with pytest.raises(ConfigError, match="weighted_average"):
        make_aggregator("median", 0.01, 20)


def test_temporal_ensemble_is_the_exp_weighted_mean_of_all_predictions() -> None:
    """Incremental merging equals ACT's batch formula: sum w_i a_i / sum w_i, w_i = exp(-m i), i=0 oldest."""
    m = 0.3
    agg = make_aggregator("temporal_ensemble", m, 20)
    preds = np.array([[1.0], [4.0], [-2.0], [10.0]])
    value, n = preds[:1], np.array([1])
    for p in preds[1:]:
        value = agg(value, p[None], n)
        n = n + 1
    w = np.exp(-m * np.arange(len(preds)))
    assert value[0, 0] == pytest.approx(float((w * preds[:, 0]).sum() / w.sum()))


def _chunk(t0: int, H: int, value: float) -> np.ndarray:
    return np.full((H, 1), value) + np.arange(H)[:, None] * 0


def test_merge_drops_executed_appends_new_and_blends_overlap() -> None:
    q = ActionQueue(1)
    agg = make_aggregator("weighted_average", 0.01, 20)
    q.merge(_chunk(0, 10, 1.0), first_timestep=0, obs_time=0.0, aggregate=agg)
    assert len(q) == 10  # nothing executed yet: timestep 0 runs first
    q.pop(4)  # executed timesteps 0..3
    assert q.latest_executed == 3
    # a chunk from an observation stamped 2: timesteps 2,3 already ran, 4..9 overlap, 10..11 are new
    res = q.merge(_chunk(2, 10, 2.0), first_timestep=2, obs_time=0.1, aggregate=agg)
    assert (res.kept, res.overlapped, res.discarded) == (8, 6, 0)
    actions, path = q.pop(8)
    np.testing.assert_allclose(actions[:6, 0], 0.3 * 1.0 + 0.7 * 2.0)
    np.testing.assert_allclose(actions[6:, 0], 2.0)
    assert q.latest_executed == 11 and len(q) == 0
    assert q.obs_time == 0.1
    assert path == pytest.approx(float(np.abs(np.diff(actions[:, 0])).sum()))  # one step of 0.3


def test_queued_actions_beyond_the_new_chunk_are_discarded() -> None:
    q = ActionQueue(1)
    agg = make_aggregator("latest_only", 0.01, 20)
    q.merge(_chunk(0, 20, 1.0), 0, 0.0, agg)
    q.pop(1)
    res = q.merge(_chunk(0, 5, 2.0), 0, 0.0, agg)  # covers timesteps 0..4: 1..4 are kept
    assert (res.kept, res.overlapped, res.discarded) == (4, 4, 15)
    assert len(q) == 4
