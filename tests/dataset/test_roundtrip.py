"""Write a small dataset, read it back: counts, shapes, frame order and stats must match."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from simbench.dataset import DatasetWriter, EpisodeBuffer, load_dataset
from simbench.errors import ConfigError

LENGTHS = (12, 20, 9)


def _episode(e: int, length: int) -> EpisodeBuffer:
    rng = np.random.default_rng(e)
    # Flat frames whose grey level encodes (episode, frame): survives h264 exactly enough to check order.
    level = (np.arange(length) * 6 + e * 40) % 250
    img = np.broadcast_to(level[:, None, None, None], (length, 32, 48, 3)).astype(np.uint8)
    return EpisodeBuffer(
        states=rng.normal(size=(length, 6)).astype(np.float32),
        actions=rng.normal(size=(length, 6)).astype(np.float32),
        images={"top": img, "gripper": 255 - img},
        task="put the tea bag in the mug",
        extra={"cluster": e + 1, "recovery": e == 2, "start": "table", "seed": e},
    )


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[EpisodeBuffer]]:
    root = tmp_path_factory.mktemp("ds") / "set"
    writer = DatasetWriter(root, fps=30, cameras=("top", "gripper"), image_shape=(32, 48, 3))
    eps = [_episode(e, n) for e, n in enumerate(LENGTHS)]
    for ep in eps:
        writer.add_episode(ep)
    writer.finalize()
    return root, eps


def test_layout_and_info(written: tuple[Path, list[EpisodeBuffer]]) -> None:
    root, _ = written
    info = json.loads((root / "meta/info.json").read_text())
    assert info["codebase_version"] == "v3.0"
    assert info["total_episodes"] == 3 and info["total_frames"] == sum(LENGTHS) and info["total_tasks"] == 1
    assert info["features"]["observation.images.top"]["dtype"] == "video"
    assert info["features"]["observation.images.top"]["shape"] == [32, 48, 3]
    for rel in ("data/chunk-000/file-000.parquet", "meta/tasks.parquet", "meta/stats.json",
                "meta/episodes/chunk-000/file-000.parquet", "videos/observation.images.top/chunk-000/file-000.mp4"):
        assert (root / rel).is_file(), rel
    episodes = pd.read_parquet(root / "meta/episodes/chunk-000/file-000.parquet")
    assert list(episodes["length"]) == list(LENGTHS)
    assert episodes["videos/observation.images.top/to_timestamp"].iloc[-1] == pytest.approx(sum(LENGTHS) / 30)


def test_read_back_counts_arrays_and_frames(written: tuple[Path, list[EpisodeBuffer]]) -> None:
    root, eps = written
    ds = load_dataset(root)
    assert ds.num_episodes == 3 and ds.num_frames == sum(LENGTHS) and ds.fps == 30
    assert ds.cameras == ["top", "gripper"] and ds.image_shape == (32, 48, 3)
    assert ds.episode_ranges.tolist() == [[0, 12], [12, 32], [32, 41]]
    assert np.allclose(ds.state, np.concatenate([e.states for e in eps]))
    assert np.allclose(ds.action, np.concatenate([e.actions for e in eps]))
    assert ds.episode_index.tolist() == sum(([i] * n for i, n in enumerate(LENGTHS)), [])
    assert list(ds.extra["cluster"]) == [1, 2, 3]
    for e, ep in enumerate(eps):
        frames = ds.episode_frames("top", e)
        assert frames.shape == (LENGTHS[e], 32, 48, 3)
        assert np.abs(frames.astype(int) - ep.images["top"]).max() <= 3
    picked = ds.frames("observation.images.gripper", [0, 13, 40])
    expected = np.stack([eps[0].images["gripper"][0], eps[1].images["gripper"][1], eps[2].images["gripper"][8]])
    assert np.abs(picked.astype(int) - expected).max() <= 3
    ds.cache_images()
    assert np.abs(ds.frames("top", [5]).astype(int) - eps[0].images["top"][5]).max() <= 3


def test_stats_match_the_data(written: tuple[Path, list[EpisodeBuffer]]) -> None:
    root, eps = written
    ds = load_dataset(root)
    states = np.concatenate([e.states for e in eps])
    s = ds.stats["observation.state"]
    assert np.allclose(s["mean"], states.mean(0), atol=1e-5) and np.allclose(s["max"], states.max(0))
    assert int(s["count"][0]) == sum(LENGTHS)
    for q in ("q01", "q10", "q50", "q90", "q99"):
        assert s[q].shape == (6,)
    img = ds.stats["observation.images.top"]
    assert img["mean"].shape == (3, 1, 1) and 0 <= img["min"].min() <= img["max"].max() <= 1
    pixels = np.concatenate([e.images["top"] for e in eps]).reshape(-1, 3) / 255
    assert np.allclose(img["mean"].ravel(), pixels.mean(0), atol=0.02)


def test_missing_dataset_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="info.json"):
        load_dataset(tmp_path / "nothing")


def test_unknown_camera_is_a_config_error(written: tuple[Path, list[EpisodeBuffer]]) -> None:
    with pytest.raises(ConfigError, match="camera"):
        load_dataset(written[0]).frames("left", [0])
