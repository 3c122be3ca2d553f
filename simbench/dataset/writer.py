"""Write a LeRobotDataset v3.0 directory (layout: shared/reference/lerobot-dataset-v3.md).

One parquet file of frames (``data/chunk-000/file-000.parquet``), one mp4 per camera with all
episodes concatenated (``videos/<key>/chunk-000/file-000.mp4``, h264 yuv420p, which every
decoder reads), the episodes table with each episode's frame range, video time range and
per-episode stats, ``meta/tasks.parquet``, ``meta/stats.json``, and ``meta/info.json`` written
**last**: its presence marks a complete dataset.

Nothing is written into the target directory itself until the end: the dataset is built in a hidden
staging directory beside it (``.<name>.partial-*``) and renamed into place by :meth:`finalize`, so an
interrupted recording leaves the previous dataset untouched. :func:`check_output` refuses a target
that is a file or a non-empty directory other than a dataset: recording never deletes anything else.

Episodes are added one at a time in order; videos are encoded as they arrive, so memory holds one
episode's frames at most.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import imageio.v2 as imageio
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from numpy.typing import NDArray

from simbench.atomic_io import umask
from simbench.dataset.stats import image_stats, to_json, vector_stats
from simbench.errors import bad_value

CODEBASE_VERSION = "v3.0"
DATA_PATH = "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet"
VIDEO_PATH = "videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4"
JOINT_NAMES = ["shoulder_pan", "shoulder_lift", "elbow_flex", "wrist_flex", "wrist_roll", "gripper"]
INFO_FILE = "meta/info.json"


@dataclass
class EpisodeBuffer:
    """One episode's frames: what the writer needs and nothing about how it was produced."""

    states: NDArray[np.float32]  # (T, 6)
    actions: NDArray[np.float32]  # (T, 6)
    images: dict[str, NDArray[np.uint8]]  # camera -> (T, H, W, 3)
    task: str
    extra: dict[str, Any] = field(default_factory=dict)
    """Scalars stored as extra episode columns (``cluster``, ``recovery``, ``seed``...)."""


def is_dataset(root: Path) -> bool:
    """A complete dataset this writer (or LeRobot v3) made: ``meta/info.json`` with a codebase version."""
    try:
        info = json.loads((root / INFO_FILE).read_text())
    except (OSError, ValueError):
        return False
    return isinstance(info, dict) and str(info.get("codebase_version", "")).startswith("v")


def check_output(root: Path, key: str = "output") -> None:
    """Refuse a target the writer may not replace (ConfigError naming ``key``): a file, a directory
    under a file, or a non-empty directory that is not a dataset (a home directory, a typo)."""
    for parent in [root, *root.parents]:
        if parent.exists() and not parent.is_dir():
            what = "is a file" if parent == root else f"is under a file ({parent})"
            raise bad_value(key, str(root), f"{what}; give a directory for the dataset")
    if root.is_dir() and any(root.iterdir()) and not is_dataset(root):
        raise bad_value(key, str(root), "is a non-empty directory that is not a dataset (no meta/info.json); "
                        "recording replaces only a dataset: give a new or empty directory")


class DatasetWriter:
    """Build a dataset in a staging directory; :meth:`finalize` moves it to ``root``.

    Use as a context manager: leaving the block with an exception (Ctrl-C included) removes the
    staging directory and leaves ``root`` as it was."""

    def __init__(
        self,
        root: str | Path,
        fps: int,
        cameras: tuple[str, ...],
        image_shape: tuple[int, int, int],
        robot_type: str = "so101_follower",
    ) -> None:
        self.root = Path(root)
        check_output(self.root)
        h, w, _ = image_shape
        if h % 2 or w % 2:
            raise ValueError("image height and width must be even for yuv420p video")
        self.root.parent.mkdir(parents=True, exist_ok=True)
        self.staging = Path(tempfile.mkdtemp(prefix=f".{self.root.name}.partial-", dir=self.root.parent))
        (self.staging / "meta").mkdir()
        self.fps = int(fps)
        self.cameras = tuple(cameras)
        self.image_shape = (int(h), int(w), 3)
        self.robot_type = robot_type
        self._writers: dict[str, Any] = {}
        for cam in self.cameras:
            path = self.staging / VIDEO_PATH.format(video_key=f"observation.images.{cam}", chunk_index=0, file_index=0)
            path.parent.mkdir(parents=True, exist_ok=True)
            self._writers[cam] = imageio.get_writer(
                str(path), fps=self.fps, codec="libx264", pixelformat="yuv420p", macro_block_size=2,
                ffmpeg_log_level="error", output_params=["-crf", "18", "-g", "30"],
            )
        self._frames: list[pd.DataFrame] = []
        self._episodes: list[dict[str, Any]] = []
        self._tasks: dict[str, int] = {}
        self._n_frames = 0
        self._image_sums: dict[str, list[dict[str, NDArray[np.float64]]]] = {c: [] for c in self.cameras}

    def __enter__(self) -> DatasetWriter:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is not None:
            self.abort()

    def abort(self) -> None:
        """Drop what was staged; ``root`` is untouched."""
        for writer in self._writers.values():
            try:
                writer.close()
            except Exception:  # noqa: BLE001 - the staging directory goes anyway
                pass
        self._writers.clear()
        shutil.rmtree(self.staging, ignore_errors=True)

    def add_episode(self, ep: EpisodeBuffer) -> int:
        """Append an episode; returns its index."""
        index = len(self._episodes)
        length = len(ep.states)
        if length == 0 or len(ep.actions) != length:
            raise ValueError("episode needs as many actions as states, at least one")
        task_index = self._tasks.setdefault(ep.task, len(self._tasks))
        start = self._n_frames
        ts = (np.arange(length) / self.fps).astype(np.float32)
        self._frames.append(
            pd.DataFrame(
                {
                    "observation.state": list(np.asarray(ep.states, dtype=np.float32)),
                    "action": list(np.asarray(ep.actions, dtype=np.float32)),
                    "timestamp": ts,
                    "frame_index": np.arange(length, dtype=np.int64),
                    "episode_index": np.full(length, index, dtype=np.int64),
                    "index": np.arange(start, start + length, dtype=np.int64),
                    "task_index": np.full(length, task_index, dtype=np.int64),
                }
            )
        )
        row: dict[str, Any] = {
            "episode_index": index,
            "tasks": [ep.task],
            "length": length,
            "data/chunk_index": 0,
            "data/file_index": 0,
            "dataset_from_index": start,
            "dataset_to_index": start + length,
        }
        for cam in self.cameras:
            frames = np.asarray(ep.images[cam])
            if frames.shape != (length, *self.image_shape):
                raise ValueError(f"camera {cam}: frames {frames.shape}, expected {(length, *self.image_shape)}")
            for frame in frames:
                self._writers[cam].append_data(frame)
            key = f"observation.images.{cam}"
            row[f"videos/{key}/chunk_index"] = 0
            row[f"videos/{key}/file_index"] = 0
            row[f"videos/{key}/from_timestamp"] = start / self.fps
            row[f"videos/{key}/to_timestamp"] = (start + length) / self.fps
            stats = image_stats(frames[:: max(1, length // 20)], max_pixels=200_000, seed=index)
            stats["count"] = np.array([length])
            self._image_sums[cam].append(stats)
            for stat, value in stats.items():
                row[f"stats/{key}/{stat}"] = np.asarray(value).ravel().tolist()
        for name, values in (("observation.state", ep.states), ("action", ep.actions)):
            for stat, value in vector_stats(values).items():
                row[f"stats/{name}/{stat}"] = np.asarray(value).tolist()
        for key, value in ep.extra.items():
            row[key] = value
        self._episodes.append(row)
        self._n_frames += length
        return index

    def finalize(self, extra_info: dict[str, Any] | None = None) -> Path:
        """Close videos, write tables and stats, then ``meta/info.json`` (the completion marker), and
        move the staged dataset to ``root`` (a dataset already there is replaced only now)."""
        for writer in self._writers.values():
            writer.close()
        self._writers.clear()
        self._write_tables(extra_info)
        os.chmod(self.staging, 0o777 & ~umask())  # mkdtemp makes it 0700
        old = None
        if self.root.exists():
            if any(self.root.iterdir()):
                check_output(self.root)  # still a dataset: it may be replaced
                old = Path(tempfile.mkdtemp(prefix=f".{self.root.name}.old-", dir=self.root.parent))
                os.replace(self.root, old / "dataset")
            else:
                self.root.rmdir()
        os.replace(self.staging, self.root)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        return self.root

    def _write_tables(self, extra_info: dict[str, Any] | None) -> None:
        frames = pd.concat(self._frames, ignore_index=True)
        data_path = self.staging / DATA_PATH.format(chunk_index=0, file_index=0)
        data_path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.Table.from_pandas(frames, preserve_index=False), data_path, compression="snappy")
        episodes_path = self.staging / "meta/episodes/chunk-000/file-000.parquet"
        episodes_path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.Table.from_pandas(pd.DataFrame(self._episodes), preserve_index=False), episodes_path)
        tasks = pd.DataFrame({"task_index": list(self._tasks.values())}, index=pd.Index(list(self._tasks), name="task"))
        pq.write_table(pa.Table.from_pandas(tasks), self.staging / "meta/tasks.parquet")
        stats = {
            "observation.state": vector_stats(np.stack(frames["observation.state"].to_numpy())),
            "action": vector_stats(np.stack(frames["action"].to_numpy())),
            "timestamp": vector_stats(frames["timestamp"].to_numpy()[:, None]),
            "frame_index": vector_stats(frames["frame_index"].to_numpy()[:, None]),
            "episode_index": vector_stats(frames["episode_index"].to_numpy()[:, None]),
            "index": vector_stats(frames["index"].to_numpy()[:, None]),
            "task_index": vector_stats(frames["task_index"].to_numpy()[:, None]),
        }
        for cam, per_episode in self._image_sums.items():
            stats[f"observation.images.{cam}"] = _merge_image_stats(per_episode)
        (self.staging / "meta/stats.json").write_text(json.dumps(to_json(stats), indent=2))
        info = self._info()
        info.update(extra_info or {})
        (self.staging / INFO_FILE).write_text(json.dumps(info, indent=2))

    def _info(self) -> dict[str, Any]:
        h, w, c = self.image_shape
        features: dict[str, Any] = {
            "observation.state": {"dtype": "float32", "shape": [6], "names": JOINT_NAMES},
            "action": {"dtype": "float32", "shape": [6], "names": JOINT_NAMES},
            "timestamp": {"dtype": "float32", "shape": [1], "names": None},
            "frame_index": {"dtype": "int64", "shape": [1], "names": None},
            "episode_index": {"dtype": "int64", "shape": [1], "names": None},
            "index": {"dtype": "int64", "shape": [1], "names": None},
            "task_index": {"dtype": "int64", "shape": [1], "names": None},
        }
        for cam in self.cameras:
            features[f"observation.images.{cam}"] = {
                "dtype": "video",
                "shape": [h, w, c],
                "names": ["height", "width", "channels"],
                "info": {
                    "video.height": h,
                    "video.width": w,
                    "video.codec": "h264",
                    "video.pix_fmt": "yuv420p",
                    "video.is_depth_map": False,
                    "video.fps": self.fps,
                    "video.channels": c,
                    "has_audio": False,
                },
            }
        return {
            "codebase_version": CODEBASE_VERSION,
            "robot_type": self.robot_type,
            "total_episodes": len(self._episodes),
            "total_frames": self._n_frames,
            "total_tasks": len(self._tasks),
            "chunks_size": 1000,
            "data_files_size_in_mb": 100,
            "video_files_size_in_mb": 200,
            "fps": self.fps,
            "splits": {"train": f"0:{len(self._episodes)}"},
            "data_path": DATA_PATH,
            "video_path": VIDEO_PATH,
            "features": features,
        }


def _merge_image_stats(per_episode: list[dict[str, NDArray[np.float64]]]) -> dict[str, NDArray[np.float64]]:
    """Frame-count weighted mean/std, global min/max, averaged quantiles (LeRobot's aggregation)."""
    counts = np.array([float(s["count"][0]) for s in per_episode])
    w = (counts / counts.sum())[:, None, None, None]
    means = np.stack([s["mean"] for s in per_episode])
    variances = np.stack([s["std"] ** 2 for s in per_episode])
    mean = (w * means).sum(0)
    var = (w * (variances + (means - mean) ** 2)).sum(0)
    out = {
        "mean": mean,
        "std": np.sqrt(var),
        "min": np.stack([s["min"] for s in per_episode]).min(0),
        "max": np.stack([s["max"] for s in per_episode]).max(0),
        "count": np.array([int(counts.sum())]),
    }
    for q in ("q01", "q10", "q50", "q90", "q99"):
        out[q] = (w * np.stack([s[q] for s in per_episode])).sum(0)
    return out
