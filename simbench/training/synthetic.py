"""A tiny learnable synthetic dataset for tests and smoke runs (no recorder, no video): the action
chunk is a function of the state and of where a bright square sits in the image, so a working ACT must
reduce its loss."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from simbench.training.data import TrainingData


def synthetic_data(
    episodes: int = 6,
    length: int = 30,
    cameras: tuple[str, ...] = ("top",),
    size: tuple[int, int] = (16, 16),
    seed: int = 0,
) -> TrainingData:
    rng = np.random.default_rng(seed)
    n = episodes * length
    h, w = size
    images = rng.integers(0, 40, size=(n, len(cameras), h, w, 3), dtype=np.uint8)
    state = np.zeros((n, 6), np.float32)
    action = np.zeros((n, 6), np.float32)
    episode_index = np.repeat(np.arange(episodes), length)
    episode_end = (episode_index + 1) * length
    for e in range(episodes):
        y, x = rng.integers(0, h - 4), rng.integers(0, w - 4)
        target = np.array([y / h, x / w, 0, 0, 0, 0], np.float32)
        sl = slice(e * length, (e + 1) * length)
        images[sl, :, y : y + 4, x : x + 4] = 255
        t = np.linspace(0, 1, length, dtype=np.float32)[:, None]
        state[sl] = t * target
        action[sl] = np.minimum(t + 1 / length, 1) * target
    stats = {
        "observation.state": {"mean": state.mean(0), "std": state.std(0) + 1e-3},
        "action": {"mean": action.mean(0), "std": action.std(0) + 1e-3},
    }
    frames = np.arange(n)
    is_val = episode_index == episodes - 1
    return TrainingData(
        state=state, action=action, images=images, episode_index=episode_index, episode_end=episode_end,
        train_frames=frames[~is_val], val_frames=frames[is_val], stats=stats, fps=30, cameras=cameras,
        val_episodes=(episodes - 1,),
    )


def tiny_config(**kw):
    """conf/policy/act.yaml shrunk to a network that trains in seconds (tests and smoke runs)."""
    from simbench.config.options import load_option
    from simbench.policies.act import ACTConfig

    base = load_option("policy", "act") or {}
    base.update(
        cameras=("top",), image_size=(16, 16), chunk_size=8, n_action_steps=8, backbone_channels=(8, 16),
        dim_model=32, n_heads=2, dim_feedforward=64, n_encoder_layers=1, n_decoder_layers=1,
        n_vae_encoder_layers=1, latent_dim=8, dropout=0.0, kl_weight=1.0,
    )
    base.update(kw)
    return ACTConfig.from_dict(base)


class FakeDataset:
    """A stand-in with the parts of ``simbench.dataset.LeRobotDataset``'s reader API the trainer uses
    (tests of the data path and CLIs without the recorder)."""

    def __init__(self, root: Path, episodes: int = 4, length: int = 10, state_width: int = 12) -> None:
        self.root = root
        self.fps = 30
        self.cameras = ["top", "gripper"]
        self.camera_keys = [f"observation.images.{c}" for c in self.cameras]
        n = episodes * length
        self.episode_ranges = np.array([[e * length, (e + 1) * length] for e in range(episodes)])
        self.state = np.arange(n * state_width, dtype=np.float32).reshape(n, state_width)
        self.action = np.arange(n * 6, dtype=np.float32).reshape(n, 6)
        count = np.array([n])
        self.stats = {
            "observation.state": {"mean": np.zeros(state_width), "std": np.ones(state_width), "count": count},
            "action": {"mean": np.zeros(6), "std": np.ones(6), "count": count},
            **{
                k: {"mean": np.full((3, 1, 1), 0.4), "std": np.full((3, 1, 1), 0.2), "count": count}
                for k in self.camera_keys
            },
        }

    def frames(self, camera: str, index) -> np.ndarray:
        index = np.asarray(index)
        out = np.zeros((len(index), 8, 8, 3), np.uint8)
        out[...] = (index % 250)[:, None, None, None]
        return out
