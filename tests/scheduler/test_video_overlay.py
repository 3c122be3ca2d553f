"""Episode videos: frames sampled at the video rate with the queue and stall state drawn on them."""

from __future__ import annotations

from pathlib import Path

import imageio.v2 as imageio
import numpy as np

from simbench.reporting.episode_video import EpisodeVideo, overlay
from tests.scheduler.helpers import RecordingEnv, TimestepPolicy, settings
from simbench.latency.distributions import ConstantLatency
from simbench.scheduler.episode import simulate_episode


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
