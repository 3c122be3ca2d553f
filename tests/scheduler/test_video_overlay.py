"""Episode videos: frames sampled at the video rate with the queue and stall state drawn on them."""

from __future__ import annotations

from pathlib import Path

import imageio.v2 as imageio
import numpy as np

from simbench.latency.distributions import ConstantLatency
from simbench.reporting.episode_video import EpisodeVideo, overlay
from simbench.scheduler.episode import simulate_episode
from tests.scheduler.helpers import RecordingEnv, TimestepPolicy, settings


class CameraEnv(RecordingEnv):
    def render_frame(self) -> np.ndarray:
        return np.full((64, 96, 3), 30, dtype=np.uint8)


def test_overlay_marks_stalls_red() -> None:
    calm = overlay(np.zeros((48, 64, 3), np.uint8), 10, 100, False, 1.0)
    stall = overlay(np.zeros((48, 64, 3), np.uint8), 0, 100, True, 1.0)
    assert stall[-1, 32, 0] == 255 and calm[-1, 32, 0] == 0  # red border only when stalled


def test_video_of_an_episode(tmp_path: Path) -> None:
    s = settings("async", H=50, seconds=4, threshold=0.2)
    env = CameraEnv(2, physical=True)
    video = EpisodeVideo(env, tmp_path / "ep.mp4", 50, s.fps)
    simulate_episode(s, env, TimestepPolicy(50, 2), ConstantLatency(0.5), 0, tick_observer=video)
    video.close()
    frames = imageio.mimread(tmp_path / "ep.mp4")
    assert len(frames) == 4 * 30  # 60 Hz control, 30 fps video
    # the first 0.5 s the arm waits for the first chunk: red border on those frames
    assert frames[0][-1, 48, 0] > 150 and frames[-1][-1, 48, 0] < 100


def test_timeline_window_is_the_one_with_the_most_stalls() -> None:
    """timeline.png shows the window holding most stalls, wherever it is in the run."""
    from types import SimpleNamespace

    from simbench.reporting.timeline import stall_window
    from simbench.scheduler.recorder import STALL, TimelineRows

    def episode(stalls: list[float], length: float = 60.0) -> SimpleNamespace:
        tl = TimelineRows()
        for s in stalls:
            tl.add(STALL, "stall", "robot", -1, s, s + 0.1, 6.0)
        return SimpleNamespace(recorder=SimpleNamespace(timeline=tl), sim_time_s=length)

    results = [episode([1.0]), episode([30.0, 35.0, 41.0, 49.9, 55.0]), episode([])]
    # episode 1: [30, 50) holds 4 stalls, more than any other 20 s window of the run
    assert stall_window(results, 20.0) == (1, 30.0, 4)
    assert stall_window(results, 100.0) == (1, 0.0, 5)  # longer than the episode: its start
    assert stall_window([episode([])], 20.0) == (0, 0.0, 0)
