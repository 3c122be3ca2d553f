"""ONNX Runtime against torch on the same observations: the largest absolute action difference, and
what every exporter compares with ``max_parity`` (raising :class:`simbench.errors.ParityFailed`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from numpy.typing import NDArray

from simbench.export.onnx_export import STATE_INPUT, image_input
from simbench.policies.act import ACTPolicy


def make_feeds(
    state: NDArray[np.float32], images: NDArray[np.uint8], cameras: tuple[str, ...]
) -> list[dict[str, np.ndarray]]:
    """(N, S) states and (N, n_cam, h, w, 3) images -> one batch-1 ORT feed per frame."""
    return [
        {
            STATE_INPUT: state[i : i + 1].astype(np.float32),
            **{image_input(c): images[i : i + 1, j] for j, c in enumerate(cameras)},
        }
        for i in range(len(state))
    ]


def random_feeds(cameras: tuple[str, ...] | list[str], image_size: tuple[int, int], state_dim: int, n: int = 16,
                 seed: int = 0) -> list[dict[str, np.ndarray]]:
    """``n`` random observations as ORT feeds: for timing and kernel selection, where the weights'
    calibration ranges do not change which kernels run."""
    rng = np.random.default_rng(seed)
    h, w = image_size
    state = rng.normal(0, 1, (n, state_dim)).astype(np.float32)
    images = rng.integers(0, 256, (n, len(cameras), h, w, 3), dtype=np.uint8)
    return make_feeds(state, images, tuple(cameras))


def run_onnx(path: str | Path, feeds: list[dict[str, np.ndarray]], threads: int = 1) -> NDArray[np.float32]:
    """Action chunks (N, chunk, A) from an ONNX file."""
    from simbench.policies.onnx_model import load_session

    sess = load_session(path, threads)
    return np.concatenate([sess.run(None, f)[0] for f in feeds], axis=0)


@torch.no_grad()
def run_torch(policy: ACTPolicy, state: NDArray[np.float32], images: NDArray[np.uint8]) -> NDArray[np.float32]:
    policy.eval()
    out = [
        policy.predict_action_chunk(torch.from_numpy(state[i : i + 1]), torch.from_numpy(images[i : i + 1])).numpy()
        for i in range(len(state))
    ]
    return np.concatenate(out, axis=0)


def max_abs_diff(a: NDArray, b: NDArray) -> float:
    return float(np.max(np.abs(a.astype(np.float64) - b.astype(np.float64))))


def action_error(pred: NDArray, ref: NDArray) -> dict[str, float]:
    """How far a variant's chunks are from the reference's (same units as the actions: radians).

    ``rel_spread`` divides the L2 error by the L2 spread of the reference around its per-joint mean,
    i.e. error relative to how much the actions actually vary (1.0 = as bad as predicting the mean).
    """
    d = pred.astype(np.float64) - ref.astype(np.float64)
    return {
        "max_abs": float(np.abs(d).max()),
        "mean_abs": float(np.abs(d).mean()),
        "rel_spread": float(
            np.linalg.norm(d) / max(np.linalg.norm(ref.astype(np.float64) - ref.mean(axis=(0, 1))), 1e-12)
        ),
    }


__all__ = ["action_error", "make_feeds", "max_abs_diff", "random_feeds", "run_onnx", "run_torch"]
