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
