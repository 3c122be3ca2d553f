"""A Rerun recording of every episode of a run (``rerun=true``): the run as a person can scrub it.

One file per episode, ``<run_dir>/rerun/episode_NNN.rrd`` (beside ``videos/episode_NNN.mp4``); open
them with ``rerun <run_dir>/rerun/*.rrd`` (each episode is one recording in the viewer's list). Two
timelines: ``sim_time`` (simulated seconds since the episode began) and ``tick`` (control ticks).

==============================  ===========================================================  ====================
entity                          what                                                         logged
==============================  ===========================================================  ====================
``camera/<name>``               the image the policy consumed                                each inference start
``joints/<joint>/target``       the action the arm was given that tick (held while stalled)  every tick
``joints/<joint>/position``     the joint's position as the tick began                       every tick
``joints/<joint>/plan/<id>``    chunk ``<id>`` as planned: its actions at the ticks they     each chunk
                                would reach the arm if no later chunk replaced them
``queue/length``                actions left after the tick's pop                            every tick
``queue/merge``                 the queue's size just after a chunk merged (a dot)           each merge
``robot/stalled``               1 while the arm has no action, else 0                        every tick
``server/in_flight``            inferences running                                           every tick
``events/inference``            an inference starts (its stages) or ends                     start and end
``events/chunk``                a chunk arrives                                              each arrival
``events/merge``                a chunk is merged into the queue                             each merge
``events/stall``                a stall begins (with its length)                             each stall
``about``                       this table, in the viewer                                    static
==============================  ===========================================================  ====================

How it sees the run without a line in the scheduler: the episode's env and policy are wrapped
(:class:`RecordedEnv`, :class:`RecordedPolicy`), so what the policy consumes and returns and what the
arm is given are copied as they pass; the queue comes from the tick observer (as for videos);
inferences, arrivals, merges and stalls are read from the episode's recorder timeline when it ends,
and the file is written then. Nothing is rendered for the recording: the images are the
observations the server rendered for its inferences. The wrappers hand every call through
unchanged, so the same config and seed give the same metrics with or without ``rerun=true``.

The k-th ``predict_chunk`` call of an episode is its inference ``k`` (the server numbers inferences
in the order it starts them, and each starts with its policy call).

``rerun-sdk`` is imported only when a file is written; the scheduler never imports it.
"""

from __future__ import annotations

import math
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from simbench.atomic_io import atomic_path
from simbench.policies.request import PolicyRequest
from simbench.scheduler.episode import EpisodeResult
from simbench.scheduler.recorder import INFERENCE, MERGE, STALL
from simbench.scheduler.settings import SchedulerSettings

Array = NDArray[np.float64]

RERUN_DIR = "rerun"
"""Where a run's recordings go, inside its run directory."""
APPLICATION_ID = "simbench"
IMAGE_PREFIX = "observation.images."
PLAN_WINDOW_S = (-2.0, 2.0)
"""The joint plots follow the time cursor: this many seconds before and after it."""

TARGET_COLOR = (31, 119, 180)
POSITION_COLOR = (20, 20, 20)
PLAN_COLOR = (255, 127, 14, 150)
STALL_COLOR = (214, 39, 40)
MERGE_COLOR = (44, 160, 44)


def episode_path(out_dir: Path, episode: int) -> Path:
    """The recording of episode ``episode`` of the run in ``out_dir``."""
    return out_dir / RERUN_DIR / f"episode_{episode:03d}.rrd"


def joint_names(env: Any, action_dim: int) -> list[str]:
    """The env's joint names when it states them, the SO-101's for a 6-joint action, else joint_<i>."""
    names = getattr(env, "joint_names", None)
    if names is not None and len(names) == action_dim:
        return [str(n) for n in names]
    if action_dim == 6:
        from simbench.envs.teabag_mug import JOINTS

        return list(JOINTS)
    return [f"joint_{i}" for i in range(action_dim)]


class RecordedEnv:
    """The episode's env, every call handed through; each tick's target and start position are copied."""

    def __init__(self, env: Any, recording: EpisodeRecording) -> None:
        self._env = env
        self._recording = recording

    def __getattr__(self, name: str) -> Any:
        return getattr(self._env, name)

    def apply(self, action: Array | None) -> None:
        self._recording.arm_tick(self._env.joint_state(), action)
        self._env.apply(action)

    def apply_span(self, actions: Array, holds_after: int) -> None:
        self._recording.arm_span(self._env.joint_state(), actions, holds_after)
        self._env.apply_span(actions, holds_after)


class RecordedPolicy:
    """The episode's policy, every call handed through; what it consumes and returns is copied."""

    def __init__(self, policy: Any, recording: EpisodeRecording) -> None:
        self._policy = policy
        self._recording = recording

    def __getattr__(self, name: str) -> Any:
        return getattr(self._policy, name)

    def predict_chunk(self, request: PolicyRequest) -> Array:
        self._recording.observation_consumed(request.observation, request.timestep)
        chunk = self._policy.predict_chunk(request)
        self._recording.chunk_planned(chunk)
        return chunk


@dataclass
class _Inference:
    """What the timeline says about one inference, gathered from its rows."""

    start_s: float = math.inf
    end_s: float = -math.inf
    stages: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    units: dict[str, str] = field(default_factory=dict)
    merge: tuple[float, float, float, float] | None = None
    """(arrival s, merge tick time s, queue before, queue after)."""


class EpisodeRecording:
    """Collects one episode while it runs and writes its ``.rrd`` when it ends.

    Hooks: :meth:`tick` (the tick observer: queue and stall per tick), :meth:`observation_consumed`
    and :meth:`chunk_planned` (through :attr:`policy`), :meth:`arm_tick` / :meth:`arm_span` (through
    :attr:`env`); :meth:`write` adds the inferences, arrivals, merges and stalls of the result.
    """

    def __init__(self, path: Path, settings: SchedulerSettings, env: Any, policy: Any, name: str) -> None:
        self.path = path
        self.settings = settings
        self.name = name
        self.joints = joint_names(env, settings.action_dim)
        self.env = RecordedEnv(env, self)
        self.policy = RecordedPolicy(policy, self)
        self._ticks: list[int] = []
        self._queue: list[int] = []
        self._stalled: list[bool] = []
        self._positions: list[Array] = []
        self._targets: list[Array] = []
        self._target = np.full(settings.action_dim, np.nan)
        self._observations: list[tuple[int | None, dict[str, NDArray[np.uint8]]]] = []
        self._chunks: list[Array] = []

    # --- hooks, while the episode runs -------------------------------------------------------
    def tick(self, tick: int, queue_after: int, stalled: bool) -> None:
        self._ticks.append(tick)
        self._queue.append(queue_after)
        self._stalled.append(stalled)

    __call__ = tick  # a tick observer is called like a function

    def observation_consumed(self, observation: dict[str, Any], timestep: int) -> None:
        images = {k[len(IMAGE_PREFIX):]: np.array(v, copy=True) for k, v in observation.items()
                  if k.startswith(IMAGE_PREFIX)}
        self._observations.append((int(timestep), images))

    def chunk_planned(self, chunk: Array) -> None:
        self._chunks.append(np.array(chunk[: self.settings.actions_per_chunk], dtype=np.float64, copy=True))

    def arm_tick(self, position: Array, action: Array | None) -> None:
        if action is not None:
            self._target = np.array(action, dtype=np.float64, copy=True)
        self._positions.append(np.array(position, dtype=np.float64, copy=True)[None])
        self._targets.append(self._target[None])

    def arm_span(self, position: Array, actions: Array, holds_after: int) -> None:
        """Ticks of an env without physics: its state after a tick is that tick's action (the
        :class:`~simbench.envs.base.SchedulerEnv` contract), so each tick starts where the last ended."""
        actions = np.array(actions, dtype=np.float64, copy=True).reshape(-1, self.settings.action_dim)
        start = np.array(position, dtype=np.float64, copy=True)[None]
        if len(actions):
            self._positions.append(np.concatenate([start, actions[:-1]]))
            self._targets.append(actions)
            self._target = actions[-1]
            start = actions[-1:]
        if holds_after:
            self._positions.append(np.repeat(start, holds_after, axis=0))
            self._targets.append(np.repeat(self._target[None], holds_after, axis=0))

    # --- the file, when it ends --------------------------------------------------------------
    def write(self, result: EpisodeResult) -> None:
        """Write ``path`` (atomically) from what the hooks saw and ``result``'s timeline."""
        import rerun as rr

        dt = self.settings.dt
        inferences = self._inferences(result)
        with atomic_path(self.path) as tmp:
            rec = rr.RecordingStream(APPLICATION_ID, recording_id=uuid.uuid5(uuid.NAMESPACE_URL, str(self.path)))
            rec.set_log_time_enabled(False)  # simulated time only: the file does not depend on the wall clock
            rec.save(tmp, default_blueprint=self._blueprint())
            rec.send_recording_name(self.name)
            self._log_styles(rec)
            self._log_ticks(rec, inferences)
            self._log_inferences(rec, inferences)
            self._log_stalls(rec, result, dt)
            rec.flush()
            rec.disconnect()

    def _inferences(self, result: EpisodeResult) -> dict[int, _Inference]:
        tl = result.recorder.timeline
        out: dict[int, _Inference] = defaultdict(_Inference)
        for kind, name, unit, iid, s, e, v, v2 in zip(
            tl.kind, tl.name, tl.unit, tl.inference_id, tl.start_s, tl.end_s, tl.value, tl.value2
        ):
            if kind == INFERENCE:
                inf = out[iid]
                inf.start_s, inf.end_s = min(inf.start_s, s), max(inf.end_s, e)
                inf.stages[name].append(e - s)
                inf.units[name] = unit
            elif kind == MERGE:
                out[iid].merge = (s, e, v, v2)
        return dict(sorted(out.items()))

    def _times(self, seconds: Any, ticks: Any) -> list[Any]:
        import rerun as rr

        return [rr.TimeColumn("sim_time", duration=np.asarray(seconds, dtype=np.float64)),
                rr.TimeColumn("tick", sequence=np.asarray(ticks, dtype=np.int64))]

    def _tick_of(self, t: float) -> int:
        """The tick during which ``t`` falls (float noise tolerated)."""
        return max(0, math.floor(t / self.settings.dt + 1e-6))

    def _log_styles(self, rec: Any) -> None:
        import rerun as rr

        rec.log("about", rr.TextDocument(ABOUT, media_type="text/markdown"), static=True)
        for j in self.joints:
            rec.log(f"joints/{j}/target", rr.SeriesLines(colors=[TARGET_COLOR], widths=[2.0], names=["target"]),
                    static=True)
            rec.log(f"joints/{j}/position", rr.SeriesLines(colors=[POSITION_COLOR], widths=[1.5], names=["position"]),
                    static=True)
        step = rr.components.InterpolationMode.StepAfter
        rec.log("queue/length", rr.SeriesLines(colors=[(90, 90, 90)], names=["queue"], interpolation_mode=step),
                static=True)
        rec.log("queue/merge", rr.SeriesPoints(colors=[MERGE_COLOR], names=["after merge"], marker_sizes=[3.0]),
                static=True)
        rec.log("robot/stalled", rr.SeriesLines(colors=[STALL_COLOR], names=["stalled"], interpolation_mode=step),
                static=True)
        rec.log("server/in_flight", rr.SeriesLines(colors=[MERGE_COLOR], names=["inferences running"],
                                                   interpolation_mode=step), static=True)

    def _log_ticks(self, rec: Any, inferences: dict[int, _Inference]) -> None:
        import rerun as rr

        dt = self.settings.dt
        if self._ticks:
            ticks = np.asarray(self._ticks, dtype=np.int64)
            times = self._times(ticks * dt, ticks)
            rec.send_columns("queue/length", times, rr.Scalars.columns(scalars=np.asarray(self._queue, float)))
            rec.send_columns("robot/stalled", times, rr.Scalars.columns(scalars=np.asarray(self._stalled, float)))
            starts = np.sort([i.start_s for i in inferences.values() if math.isfinite(i.start_s)])
            ends = np.sort([i.end_s for i in inferences.values() if math.isfinite(i.end_s)])
            t = ticks * dt + 1e-9
            running = np.searchsorted(starts, t, "right") - np.searchsorted(ends, t, "right")
            rec.send_columns("server/in_flight", times, rr.Scalars.columns(scalars=running.astype(float)))
        if self._positions:
            positions = np.concatenate(self._positions)
            targets = np.concatenate(self._targets)
            ticks = np.arange(len(positions))
            has_target = np.isfinite(targets).all(axis=1)
            for i, j in enumerate(self.joints):
                rec.send_columns(f"joints/{j}/position", self._times(ticks * dt, ticks),
                                 rr.Scalars.columns(scalars=positions[:, i]))
                if has_target.any():
                    rec.send_columns(f"joints/{j}/target", self._times(ticks[has_target] * dt, ticks[has_target]),
                                     rr.Scalars.columns(scalars=targets[has_target, i]))

    def _log_inferences(self, rec: Any, inferences: dict[int, _Inference]) -> None:
        import rerun as rr

        s = self.settings
        dt = s.dt
        events: dict[str, list[tuple[float, str, str]]] = defaultdict(list)
        merges: list[tuple[float, float]] = []
        for iid, inf in inferences.items():
            timestep, images = self._observations[iid] if iid < len(self._observations) else (None, {})
            on = f" on the observation of timestep {timestep}" if timestep is not None else ""
            if math.isfinite(inf.start_s):
                stages = ", ".join(
                    f"{name}{f' x{len(d)}' if len(d) > 1 else ''} {sum(d):.3f} s ({inf.units[name]})"
                    for name, d in inf.stages.items()
                )
                events["inference"].append((inf.start_s, f"inference {iid} starts{on}: {stages}", "DEBUG"))
                events["inference"].append(
                    (inf.end_s, f"inference {iid} ends, {inf.end_s - inf.start_s:.3f} s after it started", "DEBUG"))
                rec.set_time("sim_time", duration=inf.start_s)
                rec.set_time("tick", sequence=self._tick_of(inf.start_s))
                for cam, image in images.items():
                    rec.log(f"camera/{cam}", rr.Image(image))
            if inf.merge is None:
                continue
            arrival, merged_at, before, after = inf.merge
            m = round(merged_at / dt)
            chunk = self._chunks[iid] if iid < len(self._chunks) else None
            n = len(chunk) if chunk is not None else 0
            span = f": {n} actions for timesteps {timestep}-{timestep + n - 1}" if timestep is not None and n else ""
            events["chunk"].append((arrival, f"chunk {iid} arrives{span}", "INFO"))
            events["merge"].append(
                (merged_at, f"chunk {iid} merged at tick {m}: queue {before:.0f} -> {after:.0f} actions", "INFO"))
            merges.append((merged_at, after))
            if chunk is not None and n:
                # Async keeps the chunk's actions after the latest executed one (the queue is rebuilt
                # from them, `after` of them), the first running at the merge tick; sync runs it from its first.
                skip = 0 if s.mode == "sync" else n - int(after)
                ticks = m - skip + np.arange(n) + s.actuation_delay_ticks
                keep = ticks >= 0
                for i, j in enumerate(self.joints):
                    entity = f"joints/{j}/plan/{iid:04d}"
                    rec.log(entity, rr.SeriesLines(colors=[PLAN_COLOR], widths=[1.0], names=[f"chunk {iid}"]),
                            static=True)
                    rec.send_columns(entity, self._times(ticks[keep] * dt, ticks[keep]),
                                     rr.Scalars.columns(scalars=chunk[keep, i]))
        if merges:
            at, size = zip(*merges)
            rec.send_columns("queue/merge", self._times(at, [self._tick_of(t) for t in at]),
                             rr.Scalars.columns(scalars=np.asarray(size, float)))
        for kind, rows in events.items():
            self._send_text(rec, f"events/{kind}", rows)

    def _log_stalls(self, rec: Any, result: EpisodeResult, dt: float) -> None:
        tl = result.recorder.timeline
        rows = [(s, f"stall: no action for {v:.0f} ticks ({e - s:.3f} s)", "WARN")
                for k, s, e, v in zip(tl.kind, tl.start_s, tl.end_s, tl.value) if k == STALL]
        self._send_text(rec, "events/stall", rows)

    def _send_text(self, rec: Any, entity: str, rows: list[tuple[float, str, str]]) -> None:
        import rerun as rr

        if not rows:
            return
        rows = sorted(rows, key=lambda r: r[0])
        times = [r[0] for r in rows]
        rec.send_columns(entity, self._times(times, [self._tick_of(t) for t in times]),
                         rr.TextLog.columns(text=[r[1] for r in rows], level=[r[2] for r in rows]))

    def _blueprint(self) -> Any:
        import rerun.blueprint as rrb

        cameras = sorted({cam for _, images in self._observations for cam in images})
        window = rrb.VisibleTimeRange(
            "sim_time",
            start=rrb.TimeRangeBoundary.cursor_relative(seconds=PLAN_WINDOW_S[0]),
            end=rrb.TimeRangeBoundary.cursor_relative(seconds=PLAN_WINDOW_S[1]),
        )
        left: list[Any] = []
        if cameras:
            left.append(rrb.Horizontal(*[rrb.Spatial2DView(origin=f"camera/{c}", name=c) for c in cameras]))
        left += [
            rrb.TimeSeriesView(name="queue (actions left; dots: merges)", origin="queue"),
            rrb.TimeSeriesView(name="stalled / inferences running", contents=["robot/stalled", "server/in_flight"]),
            rrb.Tabs(rrb.TextLogView(name="events", origin="events"), rrb.TextDocumentView(name="about",
                                                                                          origin="about")),
        ]
        joints = rrb.Grid(
            *[rrb.TimeSeriesView(name=f"{j}: target, position, chunk plans", origin=f"joints/{j}",
                                 time_ranges=[window], plot_legend=rrb.PlotLegend(visible=False))
              for j in self.joints],
            grid_columns=2,
        )
        return rrb.Blueprint(rrb.Horizontal(rrb.Vertical(*left), joints, column_shares=[2, 3]),
                             rrb.TimePanel(timeline="sim_time"))


ABOUT = """# simbench episode

Timelines: `sim_time` (simulated seconds) and `tick` (control ticks).

| entity | what |
|---|---|
| `camera/<name>` | the image the policy consumed, at its inference's start |
| `joints/<joint>/target` | the action the arm was given that tick (held while stalled) |
| `joints/<joint>/position` | the joint's position as the tick began |
| `joints/<joint>/plan/<id>` | chunk `<id>`: its actions at the ticks they would reach the arm if no later chunk replaced them |
| `queue/length` | actions left after each tick's pop; `queue/merge`: the size right after a merge |
| `robot/stalled` | 1 while the arm has no action |
| `server/in_flight` | inferences running |
| `events/*` | inference start (with its stages) and end, chunk arrival, merge, stall |
"""


def tick_observers(*observers: Any) -> Any:
    """One tick observer calling each of ``observers`` that is not None (None when none is)."""
    active = [o for o in observers if o is not None]
    if len(active) <= 1:
        return active[0] if active else None

    def each(tick: int, queue_after: int, stalled: bool) -> None:
        for o in active:
            o(tick, queue_after, stalled)

    return each


__all__ = ["RERUN_DIR", "EpisodeRecording", "RecordedEnv", "RecordedPolicy", "episode_path", "joint_names",
           "tick_observers"]
