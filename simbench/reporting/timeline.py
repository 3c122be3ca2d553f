"""Timeline table (``timeline.parquet``) and its Gantt picture (``timeline.png``).

One long table for every episode: inference stages per compute unit, merges (queue size before and after), stalls;
:data:`COLUMNS` (and ``docs/timeline.md``) says what each column holds. The picture shows a ``window_s`` window of
one episode (the run picks the one with the most stalls, :func:`stall_window`): the robot executing or stalled, each
inference's pipeline stages on its compute units, the merges, and the queue size (:func:`timeline_figure` says how to
read it). The queue between two merges is reconstructed exactly: it drops by one action per tick until it is empty.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from simbench.atomic_io import write_with
from simbench.scheduler.episode import EpisodeResult
from simbench.scheduler.recorder import INFERENCE, MERGE, STALL, TimelineRows

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


STALL_COLOR = "#d62728"
EXECUTING_COLOR = "#bbbbbb"
STAGE_COLORS = ("#2ca02c", "#1f77b4", "#ff7f0e", "#9467bd", "#17becf", "#8c564b", "#e377c2", "#bcbd22")
"""Stage colours in pipeline order; red and grey are the robot's (stalled, executing)."""
UNIT_NAMES = {"cpu": "CPU", "npu": "NPU", "gpu": "GPU", "link": "link"}
MIN_STALL_WIDTH = 1 / 150
"""Shortest stall drawn, as a share of the window: a one-tick stall in 20 s would be a hairline."""


def _stage_summary(tl: TimelineRows) -> dict[str, tuple[str, int, float]]:
    """Stage name -> (unit, runs per inference, mean seconds per inference), in pipeline order."""
    per: dict[str, dict[int, list[float]]] = {}
    units: dict[str, str] = {}
    for kind, name, unit, iid, s, e in zip(tl.kind, tl.name, tl.unit, tl.inference_id, tl.start_s, tl.end_s):
        if kind == INFERENCE:
            per.setdefault(name, {}).setdefault(iid, []).append(e - s)
            units.setdefault(name, unit)
    return {
        name: (units[name], max(len(d) for d in runs.values()), float(np.mean([sum(d) for d in runs.values()])))
        for name, runs in per.items()
    }


def plot_timeline(
    path: Path, result: EpisodeResult, dt: float, window_s: float, title: str, start_s: float = 0.0,
    trigger: int | None = None,
) -> None:
    """Write :func:`timeline_figure` as a PNG (wide enough for its legends)."""
    import matplotlib.pyplot as plt
    from matplotlib.legend import Legend

    fig = timeline_figure(result, dt, window_s, title, start_s, trigger)
    legends = [a for ax in fig.axes for a in ax.get_children() if isinstance(a, Legend)]
    # bbox "tight": the image grows to hold the legends right of the lanes
    write_with(path, lambda tmp: fig.savefig(tmp, dpi=110, format="png", bbox_inches="tight", pad_inches=0.1,
                                              bbox_extra_artists=legends))
    plt.close(fig)


def timeline_figure(
    result: EpisodeResult, dt: float, window_s: float, title: str, start_s: float = 0.0, trigger: int | None = None
) -> Any:
    """Gantt of ``[start_s, start_s + window_s]`` of one episode (clipped to the episode), as a figure.

    Lanes, top to bottom: the robot (grey executing, red stalled: every stall at least
    :data:`MIN_STALL_WIDTH` of the window wide, so a one-tick stall still shows), then one lane per
    compute unit with each inference outlined and its pipeline stages coloured by name (the legend
    gives each stage's unit and mean time per inference). Black triangles and lines: chunks merged
    into the queue. Below, the queue, with the trigger size (``trigger``: observations are sent at or
    below it) dashed and the stalls shaded.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch, Rectangle

    tl = result.recorder.timeline
    end = min(start_s + window_s, result.sim_time_s)
    span = max(end - start_s, dt)
    stages = _stage_summary(tl)
    colors = {name: STAGE_COLORS[i % len(STAGE_COLORS)] for i, name in enumerate(stages)}
    units = list(dict.fromkeys(u for u, _, _ in stages.values()))  # in pipeline order
    lanes = {u: len(units) - 1 - i for i, u in enumerate(units)}  # the first stage's unit just under the robot
    robot_y = len(units)
    fig, (ax, axq) = plt.subplots(2, 1, figsize=(11, 4.6), sharex=True, gridspec_kw={"height_ratios": [2.2, 1]})
    shown = [
        (kind, name, unit, iid, s, e, v, v2)
        for kind, name, unit, iid, s, e, v, v2 in zip(
            tl.kind, tl.name, tl.unit, tl.inference_id, tl.start_s, tl.end_s, tl.value, tl.value2
        )
        if not (s > end or e < start_s)
    ]
    # compute lanes: stages coloured by name, each inference outlined on each unit it used
    outline: dict[tuple[int, str], list[float]] = {}
    for kind, name, unit, iid, s, e, _, _ in shown:
        if kind != INFERENCE:
            continue
        y = lanes[unit]
        ax.broken_barh([(s, e - s)], (y - 0.3, 0.6), facecolors=colors[name], edgecolors="white", linewidth=0.4)
        box = outline.setdefault((iid, unit), [s, e])
        box[0], box[1] = min(box[0], s), max(box[1], e)
        if (e - s) > span / 14:
            ax.text((max(s, start_s) + min(e, end)) / 2, y, name, ha="center", va="center", fontsize=7,
                    color="white", clip_on=True)
    for (iid, unit), (s, e) in outline.items():
        ax.add_patch(Rectangle((s, lanes[unit] - 0.36), e - s, 0.72, fill=False, edgecolor="black", linewidth=0.9))
        if e - s > span / 30:  # room for its id (short inferences stay unlabelled: the ids would overlap)
            ax.text((max(s, start_s) + min(e, end)) / 2, lanes[unit] + 0.38, f"#{iid}", ha="center", va="bottom",
                    fontsize=6, clip_on=True)
    # robot lane: executing underneath, stalls on top, merges as triangles
    ax.broken_barh([(start_s, end - start_s)], (robot_y - 0.3, 0.6), facecolors=EXECUTING_COLOR, zorder=0)
    min_w = span * MIN_STALL_WIDTH
    stalls = [(s, max(e - s, min_w)) for kind, _, _, _, s, e, _, _ in shown if kind == STALL]
    if stalls:
        ax.broken_barh(stalls, (robot_y - 0.3, 0.6), facecolors=STALL_COLOR)
        for s, w in stalls:
            axq.axvspan(s, s + w, color=STALL_COLOR, alpha=0.18, linewidth=0)
    merges = [(e, v2) for kind, _, _, _, _, e, _, v2 in shown if kind == MERGE and start_s <= e <= end]
    for e, _ in merges:
        for a in (ax, axq):
            a.axvline(e, color="black", linewidth=0.5, alpha=0.35)
    if merges:
        ax.plot([e for e, _ in merges], [robot_y + 0.42] * len(merges), "v", color="black", markersize=5,
                clip_on=False)
    ax.set_yticks([robot_y, *lanes.values()],
                  ["robot arm", *(f"{UNIT_NAMES.get(u, u)}\n(inference)" for u in lanes)])
    ax.set_ylim(-0.6, robot_y + 0.6)
    ax.set_title(title, fontsize=9)
    robot = [
        Patch(color=EXECUTING_COLOR, label="executing an action"),
        Patch(color=STALL_COLOR, label=f"stalled, queue empty: {len(stalls)} in this window"),
        Line2D([], [], color="black", marker="v", linestyle="none", label=f"chunk merged into the queue: {len(merges)}"),
    ]
    compute = [Patch(facecolor="white", edgecolor="black", label="one inference (#id), outlined")]
    for name, (unit, runs, mean_s) in stages.items():
        times = f" \u00d7{runs}" if runs > 1 else ""
        compute.append(Patch(color=colors[name], label=f"{name}{times} ({UNIT_NAMES.get(unit, unit)}): {mean_s:.2f} s"))
    style = {"loc": "upper left", "fontsize": 7.5, "frameon": False, "title_fontsize": 7.5, "alignment": "left"}
    robot_legend = ax.legend(handles=robot, bbox_to_anchor=(1.005, 1.03), title="robot arm", **style)
    ax.add_artist(robot_legend)
    ax.legend(handles=compute, bbox_to_anchor=(1.005, 0.62), title="inference stages (unit): mean time each", **style)
    xs, ys = queue_curve(tl, dt, end)
    axq.plot(xs, ys, color="black", linewidth=1, label="actions in the queue")
    if trigger is not None:
        axq.axhline(trigger, color="#555555", linestyle="--", linewidth=0.8,
                    label=f"trigger: observations sent at \u2264 {trigger}")
    axq.set_ylabel("queue\n(actions)")
    axq.set_xlabel("simulated time (s)")
    axq.set_xlim(start_s, end)
    axq.set_ylim(bottom=-2)
    axq.legend(loc="upper left", bbox_to_anchor=(1.005, 1.05), fontsize=7.5, frameon=False)
    fig.tight_layout()
    return fig
