"""Dataset -> training tensors, against a stand-in with the recorder's documented reader API."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import simbench.dataset
from simbench.errors import ConfigError
from simbench.training.data import load_training_data
from simbench.training.synthetic import FakeDataset


@pytest.fixture
def fake_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "meta").mkdir()
    (tmp_path / "meta" / "info.json").write_text("{}")
    monkeypatch.setitem(vars(simbench.dataset), "load_dataset", lambda root: FakeDataset(Path(root)))
    return tmp_path


def test_strided_samples_full_rate_chunks(fake_root: Path) -> None:
    data = load_training_data(fake_root, ("top", "gripper"), (4, 4), val_fraction=0.25, frame_stride=3, state_dim=6)
    assert data.state.shape == (40, 6) and data.stats["observation.state"]["mean"].shape == (6,)
    assert len(data.val_episodes) == 1
    frames = np.concatenate([data.train_frames, data.val_frames])
    assert np.all(np.isin(frames % 10, [0, 3, 6, 9]))
    batch = data.batch(data.train_frames[:2], chunk_size=5)
    assert batch["images"].shape == (2, 2, 4, 4, 3)
    assert int(batch["images"][0, 0, 0, 0, 0]) == data.train_frames[0] % 250  # the frame's own image
    f = int(data.train_frames[1])
    np.testing.assert_array_equal(batch["action"][1].numpy(), data.action[f : f + 5])
    assert data.stats["observation.images"]["mean"].shape == (3, 1, 1)


def test_chunk_padding_at_episode_end(fake_root: Path) -> None:
    data = load_training_data(fake_root, ("top",), (4, 4), val_fraction=0, frame_stride=1, state_dim=6)
    batch = data.batch(np.array([8]), chunk_size=4)
    assert batch["action_is_pad"][0].tolist() == [False, False, True, True]
    np.testing.assert_array_equal(batch["action"][0, 2].numpy(), data.action[9])


def test_missing_camera_and_state_width(fake_root: Path) -> None:
    with pytest.raises(ConfigError, match="no camera 'left'"):
        load_training_data(fake_root, ("left",), (4, 4))
    with pytest.raises(ConfigError, match="state_dim=20"):
        load_training_data(fake_root, ("top",), (4, 4), state_dim=20)


def test_two_datasets_train_as_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Episodes of both, in order; a chunk never runs into the next dataset; stats pooled."""
    from simbench.dataset.stats import vector_stats

    roots = []
    for name, episodes in (("a", 4), ("b", 2)):
        (tmp_path / name / "meta").mkdir(parents=True)
        (tmp_path / name / "meta" / "info.json").write_text("{}")
        roots.append(tmp_path / name)

    def fake(root: Path) -> FakeDataset:
        ds = FakeDataset(Path(root), episodes=4 if Path(root).name == "a" else 2)
        ds.action = ds.action + (100.0 if Path(root).name == "b" else 0.0)
        ds.stats["action"] = vector_stats(ds.action)
        return ds

    monkeypatch.setitem(vars(simbench.dataset), "load_dataset", fake)
    data = load_training_data([str(r) for r in roots], ("top",), (4, 4), val_fraction=0, frame_stride=1, state_dim=6)
    assert data.state.shape == (60, 6) and len(np.unique(data.episode_index)) == 6
    assert data.episode_end[39] == 40 and data.episode_end[40] == 50  # b's first episode starts after a's last
    batch = data.batch(np.array([38]), chunk_size=4)  # a's last frames: padded, not b's actions
    assert batch["action_is_pad"][0].tolist() == [False, False, True, True]
    np.testing.assert_array_equal(batch["action"][0].numpy(), data.action[[38, 39, 39, 39]])
    assert float(data.action[40, 0]) == 100.0  # b's first action (its own arange, offset by 100)
    np.testing.assert_allclose(data.stats["action"]["mean"], data.action.mean(0), rtol=1e-6)
    np.testing.assert_allclose(data.stats["action"]["std"], data.action.std(0), rtol=1e-5)
    assert int(data.images_of(np.array([45]))[0, 0, 0, 0, 0]) == 5  # b's frame 5 image
    # max_episodes counts over both datasets.
    assert (
        len(np.unique(load_training_data([str(r) for r in roots], ("top",), (4, 4), max_episodes=5).episode_index)) == 5
    )


def test_empty_dataset_list_is_a_config_error(fake_root: Path) -> None:
    with pytest.raises(ConfigError, match=r"dataset=\[\]"):
        load_training_data([], ("top",), (4, 4))


def test_datasets_of_different_fps_fail_before_any_frame_is_decoded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    decoded: list[str] = []

    def fake(root: Path) -> FakeDataset:
        ds = FakeDataset(Path(root))
        ds.fps = 30 if Path(root).name == "a" else 15
        frames = ds.frames
        ds.frames = lambda cam, idx: (decoded.append(cam), frames(cam, idx))[1]  # type: ignore[method-assign]
        return ds

    for name in ("a", "b"):
        (tmp_path / name / "meta").mkdir(parents=True)
        (tmp_path / name / "meta" / "info.json").write_text("{}")
    monkeypatch.setitem(vars(simbench.dataset), "load_dataset", fake)
    with pytest.raises(ConfigError, match="must share fps"):
        load_training_data([str(tmp_path / "a"), str(tmp_path / "b")], ("top",), (4, 4))
    assert decoded == []
