"""What the scene and the expert do, as pictures (``python -m simbench look``).

:func:`look` writes ``contact_sheet.png`` (rows: start, grasp, release, each labelled with its time;
columns: the cameras, each titled) and ``episode.mp4`` (the cameras side by side) for one expert
episode.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from simbench.envs.base import CONTROL_HZ
from simbench.errors import bad_value


def look_config(cfg: dict[str, Any]) -> dict[str, Any]:
    """Validate a composed ``conf/look.yaml`` (ConfigError naming the key)."""
    from simbench.envs.teabag_mug import CAMERAS
    from simbench.envs.workspace import StartKind, check_cluster

    check_cluster(cfg["cluster"])
    StartKind.parse(cfg["start"])
    for cam in cfg["cameras"]:
        if cam not in CAMERAS:
            raise bad_value("cameras", cam, f"choose from: {', '.join(CAMERAS)}")
    size = cfg["image_size"]
    if len(size) != 2 or any(int(v) % 2 or int(v) < 16 for v in size):
        raise bad_value("image_size", size, "give [height, width], even integers >= 16")
    if int(cfg["fps"]) < 1 or CONTROL_HZ % int(cfg["fps"]):
        raise bad_value("fps", cfg["fps"], f"must divide {CONTROL_HZ}")
    return cfg


def write_contact_sheet(path: Path, rows: list[tuple[str, list[np.ndarray]]], cameras: tuple[str, ...]) -> None:
    """A grid of camera images: one row per moment (labelled with its name and time), one column per
    camera (titled with its name), so the sheet reads without the command that made it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from simbench.atomic_io import write_with

    h, w = rows[0][1][0].shape[:2]
    scale = 2.2 / h  # inches per pixel: tiles about 2.2 in high
    fig, axes = plt.subplots(
        len(rows), len(cameras), figsize=(len(cameras) * w * scale + 0.8, len(rows) * h * scale + 0.5), squeeze=False
    )
    for r, (label, images) in enumerate(rows):
        for c, (camera, image) in enumerate(zip(cameras, images)):
            ax = axes[r][c]
            ax.imshow(image)
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(f"camera: {camera}", fontsize=10)
            if c == 0:
                ax.set_ylabel(label, fontsize=10)
    fig.tight_layout()
    write_with(path, lambda tmp: fig.savefig(tmp, dpi=100, format="png"))
    plt.close(fig)


def look(cfg: dict[str, Any]) -> tuple[Path, Path, bool]:
    os.environ.setdefault("MUJOCO_GL", "egl")
    import imageio.v2 as imageio

    from simbench.envs.teabag_mug import TeaBagMugEnv
    from simbench.expert.rollout import run_expert_episode

    h, w = (int(v) for v in cfg["image_size"])
    cams = tuple(cfg["cameras"])
    env = TeaBagMugEnv(cameras=cams, image_height=h, image_width=w)
    options = {"cluster": cfg["cluster"], "start": cfg["start"]}
    ep = run_expert_episode(env, int(cfg["seed"]), options, record_every=CONTROL_HZ // int(cfg["fps"]))
    env.close()
    out = Path(cfg["output_dir"])
    out.mkdir(parents=True, exist_ok=True)
    fps = int(cfg["fps"])
    n = len(ep.states)
    moments = {
        "start": 0.0,
        "grasp": ep.events.get("grasp", 0.0) + 0.4,
        "release": ep.events.get("release", n / fps) + 0.6,
    }
    rows = []
    for name, t in moments.items():
        i = min(n - 1, int(round(t * fps)))
        rows.append((f"{name} (t = {i / fps:.1f} s)", [ep.images[c][i] for c in cams]))
    sheet_path = out / "contact_sheet.png"
    write_contact_sheet(sheet_path, rows, cams)
    video_path = out / "episode.mp4"
    frames = np.concatenate([ep.images[c] for c in cams], axis=2)
    imageio.mimwrite(
        video_path,
        list(frames),
        fps=fps,
        codec="libx264",
        pixelformat="yuv420p",
        macro_block_size=2,
        ffmpeg_log_level="error",
    )
    return sheet_path, video_path, ep.success
