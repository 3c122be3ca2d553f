"""timeline.png reads at a glance: named lanes, stages named with their units, stalls that show, merges marked."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

from matplotlib.colors import to_hex
from matplotlib.legend import Legend

from simbench.reporting.timeline import MIN_STALL_WIDTH, STALL_COLOR, plot_timeline, timeline_figure
from simbench.scheduler.recorder import INFERENCE, MERGE, STALL, TimelineRows

DT = 1 / 60


def episode() -> Any:
    """Two SmolVLA-like inferences (vision on the NPU, three expert steps on the CPU), their merges,
    a one-tick stall and a long one, in a 20 s episode."""
    tl = TimelineRows()
    for iid, t0 in enumerate((0.0, 6.0)):
        tl.add(INFERENCE, "vision", "npu", iid, t0, t0 + 2.0)
        for k in range(3):
            tl.add(INFERENCE, "expert", "cpu", iid, t0 + 2.0 + k, t0 + 3.0 + k)
        tl.add(MERGE, "merge", "robot", iid, t0 + 5.0, t0 + 5.0, 0.0, 50.0)
    tl.add(STALL, "stall", "robot", -1, 0.0, 5.0, 300.0)
    tl.add(STALL, "stall", "robot", -1, 10.0, 10.0 + DT, 1.0)
    return SimpleNamespace(recorder=SimpleNamespace(timeline=tl), sim_time_s=20.0)


def legend_texts(fig: Any) -> list[str]:
    return [t.get_text() for a in fig.axes for c in a.get_children() if isinstance(c, Legend) for t in c.get_texts()]


def test_lanes_stages_stalls_and_merges_are_named() -> None:
    fig = timeline_figure(episode(), DT, 20.0, "my title", 0.0, trigger=10)
    ax = fig.axes[0]
    assert ax.get_title() == "my title"
    # the robot on top, then the compute units in pipeline order
    assert [t.get_text() for t in ax.get_yticklabels()] == ["robot arm", "NPU\n(inference)", "CPU\n(inference)"]
    texts = legend_texts(fig)
    assert "vision (NPU): 2.00 s" in texts and "expert \u00d73 (CPU): 3.00 s" in texts
    assert "stalled, queue empty: 2 in this window" in texts
    assert "chunk merged into the queue: 2" in texts
    assert "trigger: observations sent at \u2264 10" in texts
    # the one-tick stall is drawn as a band, not a hairline
    stall_bars = [c for c in ax.collections if to_hex(c.get_facecolor()[0]) == STALL_COLOR]
    widths = sorted(p.get_extents().width for c in stall_bars for p in c.get_paths())
    assert widths[0] >= 20.0 * MIN_STALL_WIDTH - 1e-9 and widths[-1] == 5.0


def test_plot_timeline_writes_a_png_holding_its_legends(tmp_path: Path) -> None:
    import numpy as np
    from PIL import Image

    plot_timeline(tmp_path / "timeline.png", episode(), DT, 20.0, "t", 0.0, 10)
    with Image.open(tmp_path / "timeline.png") as img:
        pixels = np.asarray(img.convert("RGB"))
    assert pixels.shape[1] > 11 * 110  # wider than the figure: it grew to hold the legends ...
    assert (pixels[:, -5:] == 255).all()  # ... and nothing is cut at its right edge
