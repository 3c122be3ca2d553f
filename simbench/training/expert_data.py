"""Training tensors straight from scripted-expert rollouts (``dataset=expert``), no files.

Why: the LeRobot dataset written by ``python -m simbench record`` is the normal source, but
recording, encoding and decoding 120 episodes of video takes an hour on this machine. The same
expert in the same scene, rolled out here with the published layout (10 training clusters x
(10 table starts + 2 recovery starts)) and kept at 30 fps like the recorder keeps it, gives the same
demonstrations minutes after the scene works. Failed expert episodes are dropped, as the recorder
drops them. The arrays are cached under ``outputs/`` so a resumed run does not roll out again.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np

from simbench.envs.base import CONTROL_HZ
from simbench.policies.preprocess import resize_image
from simbench.training.data import TrainingData

RECORD_EVERY = 2
"""60 Hz control, frames kept every 2 ticks: 30 fps, as the recorder does."""


def expert_training_data(
    cameras: tuple[str, ...],
    image_size: tuple[int, int],
    table_per_cluster: int = 10,
    recovery_per_cluster: int = 2,
    seed: int = 0,
    val_fraction: float = 0.05,
    frame_stride: int = 3,
    state_dim: int = 6,
    cache_dir: str | Path = "outputs/expert_data",
    progress: bool = True,
) -> TrainingData:
    os.environ.setdefault("MUJOCO_GL", "egl")
    key = json.dumps([list(cameras), list(image_size), table_per_cluster, recovery_per_cluster, seed])
    cache = Path(cache_dir) / f"expert_{hashlib.sha1(key.encode()).hexdigest()[:10]}.npz"
    if cache.is_file():
        z = np.load(cache)
        state, action, images, lengths = z["state"], z["action"], z["images"], z["lengths"]
    else:
        state, action, images, lengths = _roll_out(
            cameras, image_size, table_per_cluster, recovery_per_cluster, seed, progress
        )
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.savez(cache, state=state, action=action, images=images, lengths=lengths)
    return _to_training_data(state[:, :state_dim], action, images, lengths, cameras, seed, val_fraction, frame_stride)


def _roll_out(cameras, image_size, table_per_cluster, recovery_per_cluster, seed, progress):
    from tqdm import tqdm

    from simbench.envs.teabag_mug import TeaBagMugEnv
    from simbench.envs.workspace import TRAINING_CLUSTERS
    from simbench.expert.rollout import run_expert_episode

    plan = []
    for c in TRAINING_CLUSTERS:
        plan += [{"cluster": c, "start": "table", "start_index": i} for i in range(table_per_cluster)]
        plan += [
            {"cluster": c, "start": ("holding", "beside")[i % 2], "start_index": i} for i in range(recovery_per_cluster)
        ]
    env = TeaBagMugEnv(cameras=cameras, image_height=image_size[0], image_width=image_size[1])
    states, actions, imgs, lengths = [], [], [], []
    kept = 0
    bar = tqdm(plan, desc="expert rollouts", disable=not progress)
    for i, options in enumerate(bar):
        ep = run_expert_episode(
            env, seed=seed * 100_003 + i, options=options, record_every=RECORD_EVERY, cameras=cameras
        )
        if not ep.success:
            continue
        kept += 1
        bar.set_postfix(kept=f"{kept}/{i + 1}")
        states.append(ep.states)
        actions.append(ep.actions)
        imgs.append(np.stack([resize_image(ep.images[c], image_size) for c in cameras], axis=1))
        lengths.append(len(ep.states))
    env.close()
    if not lengths:
        from simbench.errors import ConfigError

        raise ConfigError("dataset=expert: the scripted expert succeeded in no episode; record a dataset instead")
    return (np.concatenate(states), np.concatenate(actions), np.concatenate(imgs), np.asarray(lengths))


def _to_training_data(state, action, images, lengths, cameras, seed, val_fraction, frame_stride) -> TrainingData:
    ends = np.cumsum(lengths)
    starts = ends - lengths
    n = int(ends[-1])
    episode_index = np.repeat(np.arange(len(lengths)), lengths)
    episode_end = np.repeat(ends, lengths)
    keep = np.concatenate([np.arange(a, b, frame_stride) for a, b in zip(starts, ends)])
    image_row = np.full(n, -1, dtype=np.int64)
    image_row[keep] = np.arange(len(keep))
    rng = np.random.default_rng(seed)
    n_val = max(1, int(round(val_fraction * len(lengths)))) if len(lengths) >= 2 and val_fraction > 0 else 0
    val_eps = np.sort(rng.choice(len(lengths), size=n_val, replace=False)) if n_val else np.zeros(0, np.int64)
    is_val = np.isin(episode_index[keep], val_eps)
    pix = images[keep].reshape(-1, 3).astype(np.float64) / 255.0
    stats = {
        "observation.state": {"mean": state.mean(0).astype(np.float32), "std": state.std(0).astype(np.float32)},
        "action": {"mean": action.mean(0).astype(np.float32), "std": action.std(0).astype(np.float32)},
        "observation.images": {"mean": pix.mean(0).reshape(3, 1, 1).astype(np.float32),
                               "std": pix.std(0).reshape(3, 1, 1).astype(np.float32)},
    }
    return TrainingData(
        state=state.astype(np.float32),
        action=action.astype(np.float32),
        images=images[keep],
        episode_index=episode_index,
        episode_end=episode_end,
        train_frames=keep[~is_val],
        val_frames=keep[is_val],
        stats=stats,
        fps=CONTROL_HZ // RECORD_EVERY,
        cameras=tuple(cameras),
        val_episodes=tuple(int(e) for e in val_eps),
        image_row=image_row,
    )


__all__ = ["expert_training_data"]
