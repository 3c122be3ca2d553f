"""Read a LeRobotDataset v3.0 directory written by :mod:`simbench.dataset.writer` (or LeRobot).

The API is documented in :mod:`simbench.dataset`. Frames are decoded from the mp4 files on
demand, a whole episode at a time (videos are concatenated episodes, so an episode is a
contiguous run of frames from its ``from_timestamp``), with a small LRU of decoded episodes;
``cache_images`` decodes everything once into memory-mapped ``.npy`` files for random access.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from functools import cached_property
from pathlib import Path
from typing import Any

import imageio.v2 as imageio
import numpy as np
import pandas as pd
from numpy.typing import NDArray

from simbench.errors import ConfigError

PREFIX = "observation.images."


def load_dataset(root: str | Path, episode_cache: int = 8) -> LeRobotDataset:
    root = Path(root)
    if not (root / "meta/info.json").is_file():
        raise ConfigError(
            f"dataset={str(root)!r} is not a complete LeRobot dataset (no meta/info.json); record one with: python -m "
            "simbench record"
        )
    try:
        return LeRobotDataset(root, episode_cache)
    except ConfigError:
        raise
    except (OSError, ValueError, KeyError, TypeError, IndexError, AttributeError) as err:
        # a truncated parquet, a bad footer, wrong column types, a missing data/ folder: one line, no traceback
        raise ConfigError(f"dataset={str(root)!r} is corrupt or incomplete ({_first_line(err)}); "
                          "record it again with: python -m simbench record") from None


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return f"{type(err).__name__}: {text[0][:200]}" if text else type(err).__name__


def _check_info(root: Path, info: Any) -> None:
    """meta/info.json's fields this reader uses, typed; ``video_path`` must stay inside the dataset."""
    if not isinstance(info, dict):
        raise ConfigError(f"dataset {root}: meta/info.json must be a JSON object")
    fps = info.get("fps")
    if isinstance(fps, bool) or not isinstance(fps, int) or not 1 <= fps <= 1_000:
        raise ConfigError(f"dataset {root}: meta/info.json fps={fps!r} must be an integer in [1, 1000]")
    features = info.get("features")
    if not isinstance(features, dict) or not all(isinstance(f, dict) for f in features.values()):
        raise ConfigError(f"dataset {root}: meta/info.json features must map names to feature objects")
    video_path = info.get("video_path")
    if any(f.get("dtype") == "video" for f in features.values()):
        if not isinstance(video_path, str) or not video_path:
            raise ConfigError(f"dataset {root}: meta/info.json video_path must be a path template")
        probe = video_path.replace("{", "").replace("}", "")
        if Path(probe).is_absolute() or ".." in Path(probe).parts:
            raise ConfigError(f"dataset {root}: meta/info.json video_path={video_path[:80]!r} leaves the dataset")


class LeRobotDataset:
    def __init__(self, root: Path, episode_cache: int = 8) -> None:
        self.root = root
        self.info: dict[str, Any] = json.loads((root / "meta/info.json").read_text())
        _check_info(root, self.info)
        if not str(self.info.get("codebase_version", "")).startswith("v3"):
            raise ConfigError(
                f"dataset {root} has codebase_version {self.info.get('codebase_version')!r}; expected v3.x"
            )
        self.fps = int(self.info["fps"])
        raw = json.loads((root / "meta/stats.json").read_text())
        self.stats = {f: {k: np.asarray(v) for k, v in s.items()} for f, s in raw.items()}
        self.camera_keys = [k for k, f in self.info["features"].items() if f["dtype"] == "video"]
        self.cameras = [k[len(PREFIX) :] for k in self.camera_keys]
        shapes = {tuple(self.info["features"][k]["shape"]) for k in self.camera_keys}
        self.image_shape: tuple[int, int, int] = tuple(shapes.pop()) if shapes else (0, 0, 3)  # type: ignore[assignment]
        self.episodes = pd.concat(
            [pd.read_parquet(p) for p in sorted((root / "meta/episodes").glob("chunk-*/file-*.parquet"))],
            ignore_index=True,
        ).sort_values("episode_index", ignore_index=True)
        self.tasks = list(pd.read_parquet(root / "meta/tasks.parquet").sort_values("task_index").index)
        frames = pd.concat(
            [pd.read_parquet(p) for p in sorted((root / "data").glob("chunk-*/file-*.parquet"))], ignore_index=True
        ).sort_values("index", ignore_index=True)
        self.state = np.stack(frames["observation.state"].to_numpy()).astype(np.float32)
        self.action = np.stack(frames["action"].to_numpy()).astype(np.float32)
        self.timestamp = frames["timestamp"].to_numpy(np.float32)
        self.frame_index = frames["frame_index"].to_numpy(np.int64)
        self.episode_index = frames["episode_index"].to_numpy(np.int64)
        self.index = frames["index"].to_numpy(np.int64)
        self.task_index = frames["task_index"].to_numpy(np.int64)
        self.episode_ranges = self.episodes[["dataset_from_index", "dataset_to_index"]].to_numpy(np.int64)
        self.num_episodes = len(self.episodes)
        self.num_frames = len(self.index)
        self._lru: OrderedDict[tuple[str, int], NDArray[np.uint8]] = OrderedDict()
        self._lru_size = episode_cache
        self._memmaps: dict[str, NDArray[np.uint8]] = {}

    @cached_property
    def extra(self) -> pd.DataFrame:
        wanted = ("episode_index", "cluster", "recovery", "start", "seed", "perturbed", "takeover_s", "takeover_phase")
        cols = [c for c in wanted if c in self.episodes]
        return self.episodes[cols]

    def _key(self, camera: str) -> str:
        key = camera if camera.startswith(PREFIX) else PREFIX + camera
        if key not in self.camera_keys:
            raise ConfigError(f"camera={camera!r} is not in this dataset; choose one of: {', '.join(self.cameras)}")
        return key

    def episode_frames(self, camera: str, episode: int) -> NDArray[np.uint8]:
        key = self._key(camera)
        if key in self._memmaps:
            lo, hi = self.episode_ranges[episode]
            return np.asarray(self._memmaps[key][lo:hi])
        cached = self._lru.get((key, episode))
        if cached is not None:
            self._lru.move_to_end((key, episode))
            return cached
        row = self.episodes.iloc[episode]
        length = int(row["length"])
        path = self.root / self.info["video_path"].format(
            video_key=key,
            chunk_index=int(row[f"videos/{key}/chunk_index"]),
            file_index=int(row[f"videos/{key}/file_index"]),
        )
        if not path.resolve().is_relative_to(self.root.resolve()):  # a template or key that escapes (a symlink)
            raise ConfigError(f"dataset {self.root}: video {path} lies outside the dataset")
        first = int(round(float(row[f"videos/{key}/from_timestamp"]) * self.fps))
        try:
            frames = _decode(path, first, length)
        except Exception as err:  # noqa: BLE001 - imageio/ffmpeg raise many types for a corrupt or short video
            raise ConfigError(f"dataset {self.root}: video {path.name} is unreadable ({_first_line(err)})") from None
        self._lru[(key, episode)] = frames
        if len(self._lru) > self._lru_size:
            self._lru.popitem(last=False)
        return frames

    def frames(self, camera: str, indices: Any) -> NDArray[np.uint8]:
        key = self._key(camera)
        idx = np.atleast_1d(np.asarray(indices, dtype=np.int64))
        if key in self._memmaps:
            return np.asarray(self._memmaps[key][idx])
        out = np.empty((len(idx), *self.image_shape), dtype=np.uint8)
        episodes = self.episode_index[idx]
        for ep in np.unique(episodes):
            sel = episodes == ep
            out[sel] = self.episode_frames(key, int(ep))[idx[sel] - self.episode_ranges[ep, 0]]
        return out

    def cache_images(self) -> None:
        """Decode every camera once into ``<root>/.cache/<key>.npy`` and memory-map it."""
        cache = self.root / ".cache"
        cache.mkdir(exist_ok=True)
        for key in self.camera_keys:
            path = cache / f"{key}.npy"
            if not path.exists() or np.load(path, mmap_mode="r").shape[0] != self.num_frames:
                tmp = cache / f"{key}.tmp.npy"
                arr = np.lib.format.open_memmap(
                    tmp, mode="w+", dtype=np.uint8, shape=(self.num_frames, *self.image_shape)
                )
                for ep in range(self.num_episodes):
                    lo, hi = self.episode_ranges[ep]
                    arr[lo:hi] = self.episode_frames(key, ep)
                arr.flush()
                del arr
                tmp.replace(path)
            self._memmaps[key] = np.load(path, mmap_mode="r")


def _decode(path: Path, first: int, length: int) -> NDArray[np.uint8]:
    reader = imageio.get_reader(str(path), "ffmpeg")
    try:
        if first:
            reader.set_image_index(first)
        frames = [reader.get_next_data() for _ in range(length)]
    finally:
        reader.close()
    return np.asarray(frames, dtype=np.uint8)
