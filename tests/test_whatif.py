"""What-if grids: the grid, the latency scaling, the DES rows (run metrics, deterministic), the Pareto front."""

from __future__ import annotations

import pytest

from simbench import whatif


def test_grid_is_the_cross_product_spread_evenly() -> None:
    every = whatif.grid()
    assert len(every) == 5 * 3 * 3 * 4 * 4 * 3 and len(set(every)) == len(every)
    some = whatif.grid(100)
    assert len(some) == 100 and len(set(some)) == 100 and some[0] == every[0]
    assert len(whatif.grid(None, whatif.NO_STEPS_AXES)) == 5 * 3 * 4 * 6 * 3


def test_point_seconds_scale_vision_with_pixels_and_expert_with_steps_times_chunk() -> None:
    pricing = whatif.Pricing({"fp32": {"vision": 1.0, "prefill": 0.5, "expert": 2.0}}, native_chunk=50,
                             native_steps=10, anchor=3.0)
    p = whatif.Point(resolution=2.0, chunk=100, steps=5, precision="fp32", threshold=0.2, actions_fraction=0.5)
    assert pricing.seconds(p) == pytest.approx(3.0 * (2.0 * 1.0 + 0.5 + 2.0 * 0.5 * 2.0))
    assert p.actions_per_chunk == 50


def test_rows_have_run_metrics_and_repeat_exactly() -> None:
    pricing = whatif.price("act_fp32")
    assert pricing.anchor > 1 and set(pricing.stages) == {"fp32", "fp16", "int8", "int4"}
    points = whatif.grid(6, whatif.NO_STEPS_AXES)
    a = whatif.run_grid(points, pricing, "act_fp32", duration_s=5.0, workers=1)
    b = whatif.run_grid(points, pricing, "act_fp32", duration_s=5.0, workers=1)
    assert a == b and len(a) == 6
    assert all(set(whatif.METRICS) <= set(r) and 0.0 <= r["stall_fraction"] <= 1.0 for r in a)
    # a slower point never stalls less at the same settings
    fast = whatif.Point(1.0, 100, 0, "int8", 0.2, 1.0)
    slow = whatif.Point(2.0, 100, 0, "fp32", 0.2, 1.0)
    rows = whatif.run_grid([fast, slow], pricing, "act_fp32", duration_s=20.0, workers=1)
    assert rows[0]["predicted_s"] < rows[1]["predicted_s"] and rows[0]["stall_fraction"] <= rows[1]["stall_fraction"]


def test_a_board_is_anchored_to_its_own_published_figure_only() -> None:
    """The i.MX95 grid is scaled to its published ACT fp32 figure (2.86 s); the RK3568 has no published
    ACT figure, so its grid is the device model's own prediction, not the i.MX95's number."""
    imx95, rk = whatif.price("act_fp32", "imx95"), whatif.price("act_fp32", "rk3568")
    fp32 = whatif.Point(1.0, 100, 0, "fp32", 0.2, 1.0)
    assert imx95.seconds(fp32) == pytest.approx(2.86)
    assert rk.anchor == 1.0 and rk.seconds(fp32) == pytest.approx(sum(rk.stages["fp32"].values()))


def test_pareto_front_by_hand() -> None:
    rows = [{"predicted_s": 1.0, "stall_fraction": 0.0}, {"predicted_s": 2.0, "stall_fraction": 0.3},
            {"predicted_s": 2.0, "stall_fraction": 0.1}, {"predicted_s": 3.0, "stall_fraction": 0.5},
            {"predicted_s": 1.5, "stall_fraction": 0.2}]
    assert whatif.pareto_front(rows) == [0, 2, 3]
