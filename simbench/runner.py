"""One run: every episode of the env's protocol under one config, and everything it writes.

Files in the run directory (each written atomically; ``status.json`` last):
``metrics.json`` (flat keys, :mod:`simbench.metrics`), ``episodes.csv`` (one row per episode),
``timeline.parquet`` (:mod:`simbench.reporting.timeline`), ``timeline.png``, ``summary.txt`` (the
terminal summary), ``rerun/episode_NNN.rrd`` (with ``rerun=true``: :mod:`simbench.reporting.rerun_recording`),
``status.json``
(``complete`` or ``failed`` with the error line), which lets a resumed sweep skip finished runs.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from tqdm import tqdm

from simbench.atomic_io import write_json, write_text
from simbench.config.build import RunSpec
from simbench.errors import bad_value
from simbench.latency.base import RunsThePolicy
from simbench.metrics import episode_row, summarize
from simbench.provenance import describe as describe_versions
from simbench.provenance import policy_model_files, versions
from simbench.registry import ENVS, POLICY_RUNTIMES, resolve
from simbench.reporting.episode_video import EpisodeVideo, FrameSource
from simbench.reporting.rerun_recording import RERUN_DIR, EpisodeRecording, episode_path, tick_observers
from simbench.reporting.summary import published_table, summary_table
from simbench.reporting.timeline import plot_timeline, stall_window, write_timeline
from simbench.scheduler.episode import EpisodeResult, simulate_episode

STATUS_FILE = "status.json"
SUMMARY_FILE = "summary.txt"
"""The terminal summary, saved beside the metrics it prints."""


def is_complete(out_dir: Path) -> bool:
    """A run whose results are all written (used to resume sweeps)."""
    try:
        return json.loads((out_dir / STATUS_FILE).read_text()).get("status") == "complete"
    except (OSError, ValueError):
        return False


def preflight(specs: list[RunSpec]) -> None:
    """Build each distinct env and policy of ``specs`` once and close them, before anything is
    written: what only they can check (the model file and its metadata, the env's cameras and
    control rate) fails here, as one ConfigError line, instead of inside a started run."""
    seen: set[str] = set()
    for spec in specs:
        key = json.dumps([spec.env.config(), spec.policy.runtime_config()], sort_keys=True, default=str)
        if key in seen:
            continue
        seen.add(key)
        env = resolve(ENVS, "env", spec.env.name).from_config(spec.env.config())
        try:
            resolve(POLICY_RUNTIMES, "policy.runtime", spec.policy.runtime).from_config(
                spec.policy.runtime_config(), env
            )
        finally:
            env.close()


def run(
    spec: RunSpec,
    out_dir: Path,
    meta: dict[str, Any],
    progress: bool = True,
    plots: bool = True,
    plot_window_s: float = 20.0,
    video_episodes: int = 0,
    summary_to_console: bool = True,
    rerun: bool = False,
) -> dict[str, Any]:
    """Simulate every episode and write the run directory; returns the metrics.

    ``rerun``: also write a Rerun recording of each episode (needs rerun-sdk; checked with the config)."""
    env = resolve(ENVS, "env", spec.env.name).from_config(spec.env.config())
    if spec.policy.timing_only and summary_to_console:
        print(
            f"note: env={spec.env.name} has no cameras: {meta.get('policy')} runs timing-only (chunks of its shape, no "
            "network)"
        )
    if video_episodes and not isinstance(env, FrameSource):
        env.close()
        raise bad_value("video_episodes", video_episodes, f"needs an env with cameras; env={spec.env.name} has none")
    policy = None
    try:
        if isinstance(spec.latency, RunsThePolicy):  # latency=board: the policy runs on the board
            policy = spec.latency.open_policy(spec.policy.runtime_config(), env)
        else:
            policy = resolve(POLICY_RUNTIMES, "policy.runtime", spec.policy.runtime).from_config(
                spec.policy.runtime_config(), env
            )
        stamp = versions(policy_model_files(policy))
        if summary_to_console:
            print(f"versions: {describe_versions(stamp)}", flush=True)
        plan = env.episode_plan()
        if spec.episodes is not None:
            plan = plan[: spec.episodes]
        results: list[EpisodeResult] = []
        bar = tqdm(
            plan, desc=f"{meta.get('policy')} episodes", unit="ep", disable=not progress or len(plan) < 2, leave=False
        )
        for i, options in enumerate(bar):
            video = None
            if i < video_episodes:
                video = EpisodeVideo(
                    env, out_dir / "videos" / f"episode_{i:03d}.mp4", spec.settings.actions_per_chunk, spec.settings.fps
                )
            recording = None
            if rerun:
                recording = EpisodeRecording(episode_path(out_dir, i), spec.settings, env, policy,
                                             f"{meta.get('policy')} | episode {i}")
            results.append(
                simulate_episode(
                    spec.settings, recording.env if recording else env, recording.policy if recording else policy,
                    spec.latency, spec.seed, i, options, tick_observer=tick_observers(video, recording),
                )
            )
            if video is not None:
                video.close()
            if recording is not None:
                recording.write(results[-1])
            if any(r.outcome.success for r in results):
                bar.set_postfix(success=f"{sum(r.outcome.success for r in results)}/{len(results)}")
        has_success = bool(getattr(env, "has_success", True))
    finally:
        env.close()
        close = getattr(policy, "close", None)
        if callable(close):
            close()
    metrics = summarize(results, spec.settings, has_success)
    metrics.update({k: meta[k] for k in ("policy", "scheduler", "latency", "seed") if k in meta})
    metrics["latency_source"] = spec.latency.describe()
    metrics["versions"] = stamp
    rows = [episode_row(i, r, spec.settings, has_success) for i, r in enumerate(results)]
    out_dir.mkdir(parents=True, exist_ok=True)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    write_text(out_dir / "episodes.csv", buf.getvalue())
    write_timeline(out_dir / "timeline.parquet", results)
    if plots:
        episode, start, shown = stall_window(results, plot_window_s)
        end = min(start + plot_window_s, results[episode].sim_time_s)
        total = sum(r.recorder.stall_events for r in results)
        title = (f"{meta.get('policy')} | {meta.get('scheduler')} | latency {meta.get('latency')} | episode {episode}, "
                 f"{start:.1f}-{end:.1f} s: the window with the most stalls ({shown} of the run's {total})")
        trigger = spec.settings.trigger_queue_size if spec.settings.mode == "async" else None
        plot_timeline(out_dir / "timeline.png", results[episode], spec.settings.dt, plot_window_s, title, start, trigger)
    write_json(out_dir / "metrics.json", metrics)
    summary = summary_table(meta, metrics)
    if has_success:
        summary += "\n" + published_table(
            {**meta, "arch": spec.policy.arch, "precision": spec.policy.precision}, metrics
        )
    summary += f"\n  versions    {describe_versions(stamp)}"
    summary += f"\n  results     {out_dir}"
    if rerun:
        summary += f"\n  rerun       rerun {out_dir / RERUN_DIR}/*.rrd   (one recording per episode)"
    write_text(out_dir / SUMMARY_FILE, summary + "\n")
    write_json(out_dir / STATUS_FILE, {"status": "complete"})
    if summary_to_console:
        print(summary)
    return metrics
