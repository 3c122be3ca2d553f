"""Train a LeRobot ACT with LeRobot's own trainer (``lerobot-train``) on a simbench dataset, on a CPU.

    python benchmarks/lerobot_train.py --dataset.repo_id=simbench/teabag_mug --dataset.root=DATA \
        --policy.type=act --policy.device=cpu --policy.push_to_hub=false ... (any lerobot-train flag)

Runs in its own environment beside simbench's (LeRobot 0.4.4 pins torch<2.11; this reuses simbench's
CPU torch 2.13.0 through ``--system-site-packages``, no CUDA build is downloaded)::

    python -m venv --system-site-packages lerobot-venv
    lerobot-venv/bin/pip install --no-deps lerobot==0.4.4 torchvision==0.28.0 draccus==0.10.0 \
        "pyyaml-include<2" datasets==4.0.0 diffusers==0.35.2 accelerate==1.16.0 huggingface_hub==0.35.3 \
        av==18.1.0 einops deepdiff orderly-set jsonlines mergedeep termcolor toml multiprocess dill xxhash cachebox

Two stand-ins for compiled parts that PyPI ships only as CUDA builds, nothing else of LeRobot changes:
torchvision's two operator schemas (ACT uses no compiled torchvision op) and the video decoder
(torchcodec's wheel needs CUDA libraries; frames are decoded with PyAV instead, once per file, and
looked up with LeRobot's own timestamp tolerance).
"""

from __future__ import annotations

import sys

import numpy as np
import torch


def torchvision_without_compiled_ops() -> None:
    """Import torchvision beside a CPU torch: a CUDA wheel's compiled ops cannot load, and ACT uses none of
    them; only the two operator schemas its Python side registers against are defined here."""
    try:
        import torchvision  # noqa: F401
    except RuntimeError as err:  # "operator torchvision::nms does not exist"
        if "does not exist" not in str(err):
            raise
        for name in [m for m in sys.modules if m.startswith("torchvision")]:
            del sys.modules[name]
        lib = torch.library.Library("torchvision", "DEF")
        lib.define("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
        lib.define("qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
        torchvision_without_compiled_ops.lib = lib  # type: ignore[attr-defined]
        import torchvision  # noqa: F401


class _PyAVFrames:
    """Frames at given timestamps from an mp4, decoded once per file with PyAV and kept in memory
    (simbench's default dataset: 58k frames x 2 cameras at 96x128, 4.3 GB), nearest frame within the
    tolerance LeRobot asks for."""

    def __init__(self) -> None:
        self._files: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def _decode(self, path: str) -> tuple[np.ndarray, np.ndarray]:
        import av

        with av.open(path) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            frames, times = [], []
            for frame in container.decode(stream):
                frames.append(frame.to_ndarray(format="rgb24"))
                times.append(float(frame.pts * stream.time_base))
        order = np.argsort(times)
        return np.asarray(times)[order], np.stack(frames)[order]

    def __call__(self, video_path, timestamps, tolerance_s, backend=None) -> torch.Tensor:
        key = str(video_path)
        if key not in self._files:
            self._files[key] = self._decode(key)
        times, frames = self._files[key]
        query = np.asarray(timestamps, dtype=np.float64)
        idx = np.clip(np.searchsorted(times, query), 1, len(times) - 1)
        idx = np.where(np.abs(times[idx - 1] - query) <= np.abs(times[idx] - query), idx - 1, idx)
        miss = np.abs(times[idx] - query) > tolerance_s
        if miss.any():
            raise RuntimeError(f"{key}: no frame within {tolerance_s} s of {query[miss][0]:.4f} s")
        return torch.from_numpy(frames[idx]).permute(0, 3, 1, 2).float() / 255.0


def main() -> None:
    torchvision_without_compiled_ops()
    import lerobot.datasets.lerobot_dataset as lerobot_dataset
    import lerobot.datasets.video_utils as video_utils

    decoder = _PyAVFrames()
    video_utils.decode_video_frames = decoder
    lerobot_dataset.decode_video_frames = decoder
    from lerobot.scripts.lerobot_train import main as lerobot_train_main

    lerobot_train_main()


if __name__ == "__main__":
    main()
