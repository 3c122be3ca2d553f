"""What every chunk runtime (ACT's ONNX Runtime and torch, SmolVLA's, the contract policy's) does
around the network, numpy only (it runs without torch, as on a board).

* ``observation -> inputs``: state as float32 (1, S); each configured camera resized with
  :func:`resize_image` to the policy's resolution, as in training. Keys the policy does not use
  (``privileged.*``, ``timestep``, other cameras) are ignored.
* ``chunk -> control ticks``: the network predicts ``chunk_size`` actions at the *dataset's* fps;
  the scheduler executes one action per control tick at ``control_hz``. When they differ the chunk
  is resampled by linear interpolation in time (action i of the output is the plan at
  ``i / control_hz`` seconds); past the predicted horizon the last action is held.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from simbench.errors import ConfigError
from simbench.policies.preprocess import resize_image


def observation_inputs(
    observation: dict[str, Any], cameras: tuple[str, ...], image_size: tuple[int, int], state_dim: int
) -> tuple[NDArray[np.float32], list[NDArray[np.uint8]]]:
    """-> state (1, S) float32 and one (1, h, w, 3) uint8 image per camera."""
    try:
        state = np.asarray(observation["observation.state"], dtype=np.float32).reshape(-1)[:state_dim]
        images = [
            resize_image(np.asarray(observation[f"observation.images.{c}"], dtype=np.uint8), image_size)
            for c in cameras
        ]
    except KeyError as err:
        raise ConfigError(
            f"observation lacks {err.args[0]!r}; this policy needs observation.state and cameras {list(cameras)}"
        ) from None
    if state.shape[0] != state_dim:
        raise ConfigError(f"observation.state has {state.shape[0]} values; the policy was trained on {state_dim}")
    return state[None, :], [im[None] for im in images]


def checked_actions_per_chunk(requested: int | None, chunk_size: int, model_fps: float, control_hz: float) -> int:
    """``policy.actions_per_chunk`` (None: the whole chunk), checked against the control ticks the
    model's chunk covers (``chunk_size`` actions at ``model_fps`` resampled to ``control_hz``)."""
    n = int(requested or chunk_size)
    horizon = chunk_size * control_hz / model_fps
    if n > horizon + 1e-9:
        raise ConfigError(f"policy.actions_per_chunk={n} exceeds the model's horizon: {chunk_size} actions at "
                          f"{model_fps:g} fps = {horizon:g} control ticks at {control_hz:g} Hz")
    return n


def resample_chunk(chunk: NDArray, model_fps: float, control_hz: float, actions_per_chunk: int) -> NDArray[np.float64]:
    """(chunk_size, A) at model_fps -> (actions_per_chunk, A) at control_hz."""
    chunk = np.asarray(chunk, dtype=np.float64)
    if model_fps == control_hz:
        if actions_per_chunk <= len(chunk):
            return chunk[:actions_per_chunk]
        return np.concatenate([chunk, np.repeat(chunk[-1:], actions_per_chunk - len(chunk), axis=0)])
    t = np.arange(actions_per_chunk) * (model_fps / control_hz)  # positions in model steps
    j = np.clip(np.floor(t).astype(np.int64), 0, len(chunk) - 1)
    k = np.minimum(j + 1, len(chunk) - 1)
    w = np.clip(t - j, 0.0, 1.0)[:, None]
    return (1 - w) * chunk[j] + w * chunk[k]


__all__ = ["checked_actions_per_chunk", "observation_inputs", "resample_chunk"]
