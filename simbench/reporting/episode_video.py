"""mp4 of an episode with the scheduler's state drawn over the frames.

Each frame shows the camera image, a bar with the action-queue fill, the simulated time and, while
the arm is stalled, a red border and "STALL": what the policy's latency does to the motion is
visible at a glance. Frames are taken from the env (``render_frame()``) every ``every`` control
ticks, only for the episodes asked for (``video_episodes``), so other runs pay nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageDraw

from simbench.atomic_io import atomic_path


@runtime_checkable
class FrameSource(Protocol):
    def render_frame(self) -> NDArray[np.uint8]:
        """An RGB frame (H x W x 3) of the current state, for videos."""


def overlay(frame: NDArray[np.uint8], queue: int, capacity: int, stalled: bool, time_s: float) -> NDArray[np.uint8]:
    img = Image.fromarray(np.ascontiguousarray(frame))
    draw = ImageDraw.Draw(img)
    w, h = img.size
    bar_h = max(6, h // 24)
    fill = 0 if capacity <= 0 else min(1.0, queue / capacity)
    draw.rectangle([0, 0, w - 1, bar_h], fill=(40, 40, 40))
    draw.rectangle([0, 0, int((w - 1) * fill), bar_h], fill=(60, 200, 60) if not stalled else (220, 40, 40))
    draw.text((4, bar_h + 2), f"t={time_s:5.2f}s  queue {queue}/{capacity}", fill=(255, 255, 0))
    if stalled:
        draw.rectangle([0, 0, w - 1, h - 1], outline=(255, 0, 0), width=max(2, w // 80))
        draw.text((w - 44, bar_h + 2), "STALL", fill=(255, 40, 40))
    return np.asarray(img)


class EpisodeVideo:
    """Tick observer that samples frames and writes them as an mp4 (h264, yuv420p) on close."""

    def __init__(self, env: FrameSource, path: Path, capacity: int, control_hz: float, video_fps: float = 30.0) -> None:
        self.env = env
        self.path = path
        self.capacity = capacity
        self.dt = 1.0 / control_hz
        self.every = max(1, round(control_hz / video_fps))
        self.video_fps = control_hz / self.every
        self.frames: list[NDArray[np.uint8]] = []

    def __call__(self, tick: int, queue_after: int, stalled: bool) -> None:
        if tick % self.every == 0:
            self.frames.append(overlay(self.env.render_frame(), queue_after, self.capacity, stalled, tick * self.dt))

    def close(self) -> None:
        if not self.frames:
            return
        import imageio.v2 as imageio

        with atomic_path(self.path) as tmp:
            with imageio.get_writer(
                tmp, format="FFMPEG", fps=self.video_fps, codec="libx264", pixelformat="yuv420p", macro_block_size=1
            ) as writer:
                for f in self.frames:
                    writer.append_data(f)
