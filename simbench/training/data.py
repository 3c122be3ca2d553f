"""Dataset -> in-memory training tensors.

Why in memory: on a 2-core CPU the trainer cannot afford to decode video per sample, and the
default ACT uses small images, so every frame of every camera (resized once, uint8) fits in a few
hundred MB. Frames come from :func:`simbench.dataset.load_dataset` (the recorder's reader); the
resize here is the *same function* the runtime applies to live observations
(:func:`simbench.policies.preprocess.resize_image`), so training and inference see identical pixels.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray

from simbench.errors import ConfigError
from simbench.policies.preprocess import resize_image


@dataclass
class TrainingData:
    """Frames of a dataset as arrays plus the episode structure needed to cut action chunks."""

    state: NDArray[np.float32]  # (N, S)
    action: NDArray[np.float32]  # (N, A)
    images: NDArray[np.uint8]  # (M, n_cam, h, w, 3), already resized; row image_row[i] is frame i
    episode_index: NDArray[np.int64]  # (N,)
    episode_end: NDArray[np.int64]  # (N,) exclusive global end index of each frame's episode
    train_frames: NDArray[np.int64]  # global frame indices used for training
    val_frames: NDArray[np.int64]  # held-out frames (whole episodes) for validation loss
    stats: dict[str, dict[str, NDArray[np.float32]]]
    fps: int
    cameras: tuple[str, ...]
    val_episodes: tuple[int, ...]
    image_row: NDArray[np.int64] | None = None
    """Global frame -> row of ``images`` (-1: no image kept); None when every frame has its row."""

    def images_of(self, frames: NDArray[np.int64]) -> NDArray[np.uint8]:
        """(B, n_cam, h, w, 3) images of global frame indices (which must be sample frames)."""
        return self.images[frames] if self.image_row is None else self.images[self.image_row[frames]]

    def batch(self, frames: NDArray[np.int64], chunk_size: int) -> dict[str, torch.Tensor]:
        """Raw tensors for ``ACTPolicy.forward``: the chunk is the next ``chunk_size`` actions of the
        same episode, padded with the episode's last action (marked in ``action_is_pad``)."""
        offsets = np.arange(chunk_size)[None, :]  # (1, chunk)
        idx = frames[:, None] + offsets  # (B, chunk)
        end = self.episode_end[frames][:, None]  # (B, 1)
        pad = idx >= end
        idx = np.minimum(idx, end - 1)
        return {
            "state": torch.from_numpy(self.state[frames]),
            "images": torch.from_numpy(self.images_of(frames)),
            "action": torch.from_numpy(self.action[idx]),
            "action_is_pad": torch.from_numpy(pad),
        }


def dataset_stats(ds: Any, stats: dict[str, dict[str, Any]] | None = None) -> dict[str, dict[str, NDArray[np.float32]]]:
    """Mean/std for state, action and images (per channel) from the dataset's meta/stats.json
    (or from ``stats`` in its layout, e.g. several datasets' stats aggregated)."""
    raw = ds.stats if stats is None else stats
    out: dict[str, dict[str, NDArray[np.float32]]] = {}
    for key in ("observation.state", "action"):
        if key not in raw:
            raise ConfigError(f"dataset {ds.root} has no stats for {key!r} in meta/stats.json; re-record it")
        out[key] = {s: np.asarray(raw[key][s], dtype=np.float32) for s in ("mean", "std")}
    cams = [k for k in ds.camera_keys if k in raw]
    if cams:  # average the per-camera image stats: one normalization for the shared backbone
        out["observation.images"] = {
            s: np.mean([np.asarray(raw[k][s], dtype=np.float32).reshape(3, 1, 1) for k in cams], axis=0)
            for s in ("mean", "std")
        }
    return out


@dataclass
class _Part:
    """One dataset's episode structure, before any image is decoded (local frame indices)."""

    ds: Any
    ranges: NDArray[np.int64]
    stride: int
    """Every ``stride``-th frame of an episode is a sample."""

    @cached_property
    def samples(self) -> list[NDArray[np.int64]]:
        """Sample frames per episode (local indices): the one place the stride rule lives."""
        return [np.arange(a, b, self.stride) for a, b in self.ranges]

    @cached_property
    def keep(self) -> NDArray[np.int64]:
        """Sample frames, episode after episode (local indices)."""
        return np.concatenate(self.samples)

    @property
    def n(self) -> int:
        return int(self.ranges[-1, 1])


def _open_part(root: Path, cameras: tuple[str, ...], max_episodes: int | None, frame_stride: int) -> _Part:
    """Open a dataset (metadata and parquet only) and check it has the cameras."""
    if not (root / "meta" / "info.json").is_file():
        raise ConfigError(
            f"dataset not found: {root} has no meta/info.json; record one with 'python -m simbench record'"
        )
    from simbench.dataset import load_dataset

    ds = load_dataset(root)
    missing = [c for c in cameras if c not in ds.cameras]
    if missing:
        raise ConfigError(
            f"policy.cameras={list(cameras)}: dataset {root} has no camera {missing[0]!r}; it has {ds.cameras}"
        )
    ranges = np.asarray(ds.episode_ranges, dtype=np.int64)
    if max_episodes is not None:
        ranges = ranges[:max_episodes]
    return _Part(ds, ranges, frame_stride)


def _decode_images(part: _Part, cameras: tuple[str, ...], image_size: tuple[int, int], out: NDArray[np.uint8]) -> None:
    """Resize the part's sample frames into ``out`` (its rows of the joined image array), in place:
    several datasets fill one preallocated array instead of being copied together afterwards."""
    # No ds.cache_images(): it would write every full-resolution frame to disk; decoding episode by
    # episode (the reader keeps the current episode) is enough for one pass.
    for ci, cam in enumerate(cameras):
        row = 0  # samples are stored episode after episode, in the order of ``keep``
        for idx in part.samples:  # episode by episode keeps peak memory at one full-res episode
            out[row : row + len(idx), ci] = resize_image(part.ds.frames(cam, idx), image_size)
            row += len(idx)


def load_training_data(
    path: str | Path | Sequence[str | Path],
    cameras: tuple[str, ...],
    image_size: tuple[int, int],
    val_fraction: float = 0.05,
    seed: int = 0,
    max_episodes: int | None = None,
    frame_stride: int = 1,
    state_dim: int | None = None,
) -> TrainingData:
    """Read one LeRobot dataset, or several as one (their episodes in order), into training tensors.

    Only every ``frame_stride``-th frame of an episode is a training *sample* (and only those frames'
    images are kept in memory), while action chunks still come from every frame: neighbouring frames
    are nearly identical, and 120 episodes x 2 cameras at full rate would not fit in RAM.
    ``state_dim`` keeps the first entries of ``observation.state`` (joint positions when the recorder
    also stores velocities), as the runtimes do. ``max_episodes`` counts over all datasets.

    Several datasets (e.g. demonstrations plus expert takeovers of a policy's episodes,
    :mod:`simbench.expert.takeover`) must share fps and cameras; their normalisation stats are
    aggregated frame-weighted (:func:`simbench.dataset.stats.aggregate_stats`), as LeRobot does for
    a multi-dataset.

    Validation episodes are a seeded random ``val_fraction`` of all episodes (at least one when
    there are two or more), so validation loss measures generalisation to unseen episodes.
    """
    from simbench.dataset.stats import aggregate_stats

    if frame_stride < 1:
        raise ConfigError(f"frame_stride={frame_stride} is not allowed; must be >= 1")
    roots = [Path(path)] if isinstance(path, (str, Path)) else [Path(p) for p in path]
    if not roots:
        raise ConfigError("dataset=[] names no dataset; give a path or a list of paths")
    parts: list[_Part] = []
    left = max_episodes
    for root in roots:  # open and check every dataset before minutes of decoding
        if left is not None and left <= 0:
            break
        parts.append(_open_part(root, cameras, left, frame_stride))
        left = None if left is None else left - len(parts[-1].ranges)
        if parts[-1].ds.fps != parts[0].ds.fps:
            raise ConfigError(
                f"dataset={[str(r) for r in roots]}: {root} is {parts[-1].ds.fps} fps, {roots[0]} {parts[0].ds.fps}; "
                "datasets trained together must share fps"
            )
    offsets = np.cumsum([0] + [p.n for p in parts])
    ranges = np.concatenate([p.ranges + off for p, off in zip(parts, offsets)])
    keep = np.concatenate([p.keep + off for p, off in zip(parts, offsets)])
    n = int(offsets[-1])
    episode_end = np.zeros(n, dtype=np.int64)
    episode_index = np.zeros(n, dtype=np.int64)
    for e, (a, b) in enumerate(ranges):
        episode_end[a:b] = b
        episode_index[a:b] = e
    image_row = np.full(n, -1, dtype=np.int64)
    image_row[keep] = np.arange(len(keep))
    size = (int(image_size[0]), int(image_size[1]))
    images = np.empty((len(keep), len(cameras), *size, 3), dtype=np.uint8)
    first_row = 0
    for part in parts:
        _decode_images(part, cameras, size, images[first_row : first_row + len(part.keep)])
        first_row += len(part.keep)
    rng = np.random.default_rng(seed)
    n_ep = len(ranges)
    n_val = max(1, int(round(val_fraction * n_ep))) if n_ep >= 2 and val_fraction > 0 else 0
    val_eps = np.sort(rng.choice(n_ep, size=n_val, replace=False)) if n_val else np.zeros(0, dtype=np.int64)
    is_val = np.isin(episode_index[keep], val_eps)
    try:
        raw_stats = parts[0].ds.stats if len(parts) == 1 else aggregate_stats([p.ds.stats for p in parts])
    except KeyError as err:
        raise ConfigError(
            f"dataset={[str(r) for r in roots]}: cannot pool their stats ({err.args[0]}); re-record them"
        ) from None
    stats = dataset_stats(parts[0].ds, raw_stats)
    state = np.concatenate([np.asarray(p.ds.state[: p.n], dtype=np.float32) for p in parts])
    if state_dim is not None:
        if state.shape[1] < state_dim:
            raise ConfigError(
                f"policy.state_dim={state_dim} but the dataset's observation.state has {state.shape[1]} values"
            )
        state = state[:, :state_dim]
        stats["observation.state"] = {k: v[:state_dim] for k, v in stats["observation.state"].items()}
    return TrainingData(
        state=state,
        action=np.concatenate([np.asarray(p.ds.action[: p.n], dtype=np.float32) for p in parts]),
        images=images,
        episode_index=episode_index,
        episode_end=episode_end,
        train_frames=keep[~is_val],
        val_frames=keep[is_val],
        stats=stats,
        fps=int(parts[0].ds.fps),
        cameras=tuple(cameras),
        val_episodes=tuple(int(e) for e in val_eps),
        image_row=image_row,
    )


__all__ = ["TrainingData", "dataset_stats", "load_training_data"]
