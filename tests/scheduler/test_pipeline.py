"""Inference as stages on compute units: sharing, repeats and pipelining."""

from __future__ import annotations

import pytest

from simbench.scheduler.settings import Stage
from tests.scheduler.helpers import settings, simulate


def stage_rows(result):  # (inference_id, name, unit, start, end)
    tl = result.recorder.timeline
    return [
        (i, n, u, a, b)
        for k, n, u, i, a, b in zip(tl.kind, tl.name, tl.unit, tl.inference_id, tl.start_s, tl.end_s)
        if k == "inference"
    ]


def test_stage_shares_and_repeats_split_the_sampled_latency() -> None:
    stages = (Stage("vision", "npu", 0.2), Stage("prefill", "npu", 0.3), Stage("expert", "cpu", 0.5, repeat=10))
    result, _ = simulate(settings("async", H=50, seconds=10, stages=stages), 1.0)
    first = [r for r in stage_rows(result) if r[0] == 0]
    assert [r[1] for r in first] == ["vision", "prefill"] + ["expert"] * 10
    durations = [r[4] - r[3] for r in first]
    assert durations[:2] == pytest.approx([0.2, 0.3])
    assert durations[2:] == pytest.approx([0.05] * 10)
    assert first[-1][4] - first[0][3] == pytest.approx(1.0)
    # back to back: each stage starts when the previous ends
    assert all(first[j][4] == pytest.approx(first[j + 1][3]) for j in range(len(first) - 1))


def test_pipelining_overlaps_units_and_raises_throughput() -> None:
    """Encoder on the NPU, action head on the CPU: with pipelining the NPU takes the next frame while
    the CPU finishes the previous one, so inferences overlap and more chunks arrive."""
    stages = (Stage("encoder", "npu", 0.5), Stage("head", "cpu", 0.5))
    kw = dict(H=100, seconds=60, threshold=1.0, stages=stages)
    serial, _ = simulate(settings("async", pipelined=False, **kw), 1.0)
    piped, _ = simulate(settings("async", pipelined=True, **kw), 1.0)
    assert piped.inference_count > 1.8 * serial.inference_count
    rows = stage_rows(piped)
    enc = {i: (a, b) for i, n, _, a, b in rows if n == "encoder"}
    head = {i: (a, b) for i, n, _, a, b in rows if n == "head"}
    overlaps = sum(1 for i in head if i + 1 in enc and enc[i + 1][0] < head[i][1] - 1e-9)
    assert overlaps > 10
    # a unit never runs two stages at once
    for unit in ("npu", "cpu"):
        spans = sorted((a, b) for _, _, u, a, b in rows if u == unit)
        assert all(spans[j][1] <= spans[j + 1][0] + 1e-9 for j in range(len(spans) - 1))
