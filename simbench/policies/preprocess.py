"""Observation preprocessing shared by training and every runtime (numpy only: it runs on the board).

One resize function for both sides, so the pixels a policy was trained on are exactly the pixels
it sees in closed loop.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray


def resize_image(images: NDArray[np.uint8], size: tuple[int, int]) -> NDArray[np.uint8]:
    """Resize uint8 images (..., H, W, 3) to (..., h, w, 3).

    Integer down-scaling factors use a box filter (the rounded mean of each block: alias-free). It is
    computed as uint16 sums of strided views, rows then columns: about 0.3 ms for 480x640 -> 96x128,
    12x faster than a reshape-and-mean, which matters because it runs inside every timed
    ``predict_chunk``. Anything else falls back to
    nearest-neighbour sampling of pixel centres.
    """
    H, W = images.shape[-3], images.shape[-2]
    h, w = size
    if (H, W) == (h, w):
        return images
    if H % h == 0 and W % w == 0:
        fh, fw = H // h, W // w
        n = fh * fw
        dtype = np.uint16 if n <= 256 else np.uint32
        # Rows first (whole contiguous rows per add), then columns on the fh-times smaller array.
        rows = images[..., 0::fh, :, :].astype(dtype)
        for dy in range(1, fh):
            rows += images[..., dy::fh, :, :]
        acc = rows[..., 0::fw, :].copy()
        for dx in range(1, fw):
            acc += rows[..., dx::fw, :]
        acc += n // 2
        acc //= n
        return acc.astype(np.uint8)
    ys = ((np.arange(h) + 0.5) * H / h).astype(np.int64)
    xs = ((np.arange(w) + 0.5) * W / w).astype(np.int64)
    return images[..., ys[:, None], xs[None, :], :]


__all__ = ["resize_image"]
