"""Timeline table (``timeline.parquet``) and its Gantt picture (``timeline.png``).

One long table for every episode: inference stages per compute unit, merges (queue size before and after), stalls;
:data:`COLUMNS` (and ``docs/timeline.md``) says what each column holds. The picture shows the first ``window_s`` seconds
of the first episode: busy time per compute unit, the robot executing or stalled, and the queue size. The queue between
two merges is reconstructed exactly: it drops by one action per tick until it is empty.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from simbench.atomic_io import write_with
from simbench.scheduler.episode import EpisodeResult
from simbench.scheduler.recorder import INFERENCE, MERGE, STALL, TimelineRows

UNIT_COLORS = {"cpu": "#1f77b4", "npu": "#2ca02c", "gpu": "#9467bd", "link": "#8c564b"}


COLUMNS: dict[str, str] = {
    "episode": "episode index within the run (0-based, the order of episodes.csv)",
    "kind": "inference (one pipeline stage of one inference) | merge (a chunk merged into the queue) | stall (no "
            "action)",
    "name": "inference: the stage name from policy.pipeline; merge or stall otherwise",
    "unit": "inference: compute unit (cpu, npu, gpu, link); robot for merges and stalls",
    "inference_id": "the inference the row belongs to (its stages and its merge share it); -1 for stalls",
    "start_s": "start, simulated seconds since the episode began (merge: when the chunk arrived)",
    "end_s": "end, simulated seconds (merge: the control tick that merged it)",
    "value": "stall: length in control ticks; merge: queue size before the merge; inference: 0",
    "value2": "merge: queue size after the merge; otherwise 0",
}
"""What each column holds (docs/timeline.md); stored in the file's schema metadata as ``simbench.columns``."""


def timeline_table(results: Sequence[EpisodeResult]) -> pa.Table:
    cols: dict[str, list] = {k: [] for k in ("episode", *TimelineRows.__dataclass_fields__)}
    for i, r in enumerate(results):
        tl = r.recorder.timeline
        n = len(tl.kind)
        cols["episode"] += [i] * n
        for k in TimelineRows.__dataclass_fields__:
            cols[k] += getattr(tl, k)
    assert list(cols) == list(COLUMNS), "COLUMNS must describe every timeline column"
    return pa.table(cols).replace_schema_metadata({"simbench.columns": json.dumps(COLUMNS)})


def write_timeline(path: Path, results: Sequence[EpisodeResult]) -> None:
    table = timeline_table(results)
    write_with(path, lambda tmp: pq.write_table(table, tmp))


def queue_curve(tl: TimelineRows, dt: float, end_s: float) -> tuple[np.ndarray, np.ndarray]:
    """Queue size after each tick's pop, as (time, size) breakpoints of a piecewise-linear curve."""
    xs: list[float] = [0.0]
    ys: list[float] = [0.0]
    merges = [(e, v2) for k, e, v2 in zip(tl.kind, tl.end_s, tl.value2) if k == MERGE and e <= end_s]
    for j, (t, q) in enumerate(merges):
        nxt = merges[j + 1][0] if j + 1 < len(merges) else end_s
        # merged at tick time t, then one pop per tick: size after this tick's pop is q - 1
        xs += [t, t]
        ys += [ys[-1], max(q - 1, 0)]
        t_empty = t + max(q - 1, 0) * dt
        if t_empty < nxt:
            xs.append(t_empty)
            ys.append(0.0)
        else:
            xs.append(nxt)
            ys.append(max(q - 1 - (nxt - t) / dt, 0.0))
    if xs[-1] < end_s:
        xs.append(end_s)
        ys.append(ys[-1])
    return np.asarray(xs), np.asarray(ys)


def stall_window(results: Sequence[EpisodeResult], window_s: float) -> tuple[int, float, int]:
    """The ``window_s`` window with the most stall events: (episode, start_s, stalls in it).

    Candidate windows start at a stall (pulled back so the window fits in its episode); the first
    of equal windows wins. With no stall anywhere it is the start of episode 0."""
    best = (0, 0.0, 0)
    for i, r in enumerate(results):
        tl = r.recorder.timeline
        starts = sorted(s for k, s in zip(tl.kind, tl.start_s) if k == STALL)
        latest = max(r.sim_time_s - window_s, 0.0)
        for s in starts:
            t0 = min(s, latest)
            n = sum(1 for x in starts if t0 <= x < t0 + window_s)
            if n > best[2]:
                best = (i, t0, n)
    return best


def plot_timeline(
    path: Path, result: EpisodeResult, dt: float, window_s: float, title: str, start_s: float = 0.0
) -> None:
    """Gantt of ``[start_s, start_s + window_s]`` of one episode (clipped to the episode)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tl = result.recorder.timeline
    end = min(start_s + window_s, result.sim_time_s)
    units = sorted({u for k, u in zip(tl.kind, tl.unit) if k == INFERENCE})
    lanes = units + ["robot"]
    fig, (ax, axq) = plt.subplots(2, 1, figsize=(11, 4.2), sharex=True, gridspec_kw={"height_ratios": [2.2, 1]})
    for kind, name, unit, iid, s, e in zip(tl.kind, tl.name, tl.unit, tl.inference_id, tl.start_s, tl.end_s):
        if s > end or e < start_s:
            continue
        if kind == INFERENCE:
            y = lanes.index(unit)
            ax.broken_barh(
                [(s, e - s)],
                (y - 0.35, 0.7),
                facecolors=UNIT_COLORS.get(unit, "grey"),
                edgecolors="white",
                linewidth=0.5,
            )
            if (e - s) > (end - start_s) / 25:
                ax.text(
                    (max(s, start_s) + min(e, end)) / 2,
                    y,
                    name,
                    ha="center",
                    va="center",
                    fontsize=6,
                    color="white",
                    clip_on=True,
                )
        elif kind == STALL:
            ax.broken_barh([(s, e - s)], (len(units) - 0.35, 0.7), facecolors="#d62728")
    # executing = everything in the robot lane that is not a stall
    ax.broken_barh([(start_s, end - start_s)], (len(units) - 0.35, 0.7), facecolors="#bbbbbb", zorder=0)
    for kind, e in zip(tl.kind, tl.end_s):
        if kind == MERGE and start_s <= e <= end:
            ax.axvline(e, color="black", linewidth=0.4, alpha=0.4)
    ax.set_yticks(range(len(lanes)), [f"{u} (busy)" for u in units] + ["robot (grey: executing, red: stall)"])
    ax.set_title(title, fontsize=9)
    xs, ys = queue_curve(tl, dt, end)
    axq.plot(xs, ys, color="black", linewidth=1)
    axq.set_ylabel("queue")
    axq.set_xlabel("simulated time (s); vertical lines: chunk merges")
    axq.set_xlim(start_s, end)
    fig.tight_layout()
    write_with(path, lambda tmp: fig.savefig(tmp, dpi=110, format="png"))
    plt.close(fig)
