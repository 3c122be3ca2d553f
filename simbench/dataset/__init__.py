"""LeRobotDataset v3.0 writer and reader for simbench's expert demonstrations.

The recorder (``python -m simbench record``) writes a directory that LeRobot's loader accepts
(layout in ``/work/shared/reference/lerobot-dataset-v3.md``); training code reads it back through
:func:`load_dataset`, never by poking at parquet files itself, so the on-disk format can change in
one place.

Reader API (stable; the ACT trainer codes against it)::

    from simbench.dataset import load_dataset

    ds = load_dataset("data/teabag_mug")     # -> LeRobotDataset; raises ConfigError if not a dataset
    ds.root                                  # Path
    ds.info                                  # dict, meta/info.json as written
    ds.fps                                   # int, frames per second of data and videos
    ds.stats                                 # {feature: {"mean"|"std"|"min"|"max"|"q01".."q99": ndarray,
                                             #            "count": ndarray}}; images: shape (3, 1, 1), in [0, 1]
    ds.camera_keys                           # ["observation.images.top", ...] (video features)
    ds.cameras                               # ["top", ...] (the same without the prefix)
    ds.image_shape                           # (H, W, 3)
    ds.num_episodes, ds.num_frames           # ints
    ds.tasks                                 # ["put the tea bag in the mug"]
    ds.episodes                              # pandas.DataFrame, one row per episode (episodes parquet)
    ds.episode_ranges                        # int64 (E, 2): [from, to) global frame indices per episode
    ds.state                                 # float32 (N, 6)  observation.state (joint positions, rad)
    ds.action                                # float32 (N, 6)  action (joint position targets, rad)
    ds.episode_index, ds.frame_index, ds.index, ds.task_index   # int64 (N,)
    ds.timestamp                             # float32 (N,) seconds since the episode's start
    ds.frames("top", [0, 5, 9])              # uint8 (3, H, W, 3); key may be "top" or
                                             # "observation.images.top"; any global frame indices
    ds.episode_frames("top", 4)              # uint8 (T, H, W, 3), all frames of episode 4
    ds.extra                                 # {"cluster", "recovery", "seed"} per episode if recorded

``frames`` decodes whole episodes from the mp4 files and keeps a small LRU of them; for random
access during training call ``ds.cache_images()`` once, which decodes every camera into
``<root>/.cache/<key>.npy`` (uint8 (N, H, W, 3), memory-mapped afterwards) and makes ``frames`` a
plain array lookup.

Writer API (used by the recorder)::

    from simbench.dataset import DatasetWriter, EpisodeBuffer

Only the recorder writes; see :mod:`simbench.dataset.writer`.
"""

from __future__ import annotations

__all__ = ["load_dataset", "LeRobotDataset", "DatasetWriter", "EpisodeBuffer"]


def __getattr__(name: str):  # lazy: importing the package must not import pyarrow or imageio
    if name in ("load_dataset", "LeRobotDataset"):
        from simbench.dataset import reader

        return getattr(reader, name)
    if name in ("DatasetWriter", "EpisodeBuffer"):
        from simbench.dataset import writer

        return getattr(writer, name)
    raise AttributeError(name)
