"""``python -m simbench record``: record scripted-expert demonstrations as a LeRobotDataset v3.0.

Hydra-composed from ``conf/record.yaml``; every value is validated before anything is written.
Each *slot* (cluster, start kind, index) gets deterministic seeds; the expert runs in worker
processes, and only successful episodes are kept: a failed start is discarded, counted, and the
slot tries a fresh start (up to ``max_tries``). The parent writes episodes in slot order, so the
dataset does not depend on the number of workers.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from simbench.errors import ConfigError, bad_value
from simbench.expert.action_noise import ActionNoiseConfig

_ENV: Any = None


@dataclass(frozen=True)
class Slot:
    cluster: int
    start: str
    index: int


@dataclass(frozen=True)
class RecordConfig:
    output: Path
    clusters: tuple[int, ...]
    episodes_per_cluster: int
    recovery_share: float
    cameras: tuple[str, ...]
    image_size: tuple[int, int]
    fps: int
    max_tries: int
    workers: int
    seed: int
    task: str
    progress: bool
    action_noise: ActionNoiseConfig = field(default_factory=ActionNoiseConfig)

    @property
    def recovery_per_cluster(self) -> int:
        return int(round(self.episodes_per_cluster * self.recovery_share))

    def slots(self) -> list[Slot]:
        from simbench.envs.workspace import RECOVERY_KINDS

        out = []
        for k in self.clusters:
            n_rec = self.recovery_per_cluster
            out += [Slot(k, "table", i) for i in range(self.episodes_per_cluster - n_rec)]
            out += [Slot(k, RECOVERY_KINDS[i % len(RECOVERY_KINDS)].value, i) for i in range(n_rec)]
        return out


def parse_config(argv: list[str]) -> RecordConfig:
    from hydra import compose, initialize_config_dir
    from hydra.errors import HydraException
    from omegaconf import OmegaConf

    from simbench.envs.teabag_mug import CAMERAS
    from simbench.envs.workspace import check_cluster
    from simbench.paths import CONF_DIR

    try:
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base=None):
            cfg = OmegaConf.to_container(compose("record", overrides=argv), resolve=True)
    except HydraException as err:
        raise ConfigError(str(err).splitlines()[0]) from None
    assert isinstance(cfg, dict)
    n = cfg["episodes_per_cluster"]
    if not isinstance(n, int) or n < 1:
        raise bad_value("episodes_per_cluster", n, "must be an integer >= 1")
    share = cfg["recovery_share"]
    if not isinstance(share, (int, float)) or not 0 <= share < 1:
        raise bad_value("recovery_share", share, "must be in [0, 1)")
    clusters = cfg["clusters"] if isinstance(cfg["clusters"], list) else [cfg["clusters"]]
    clusters = tuple(check_cluster(k) for k in clusters)
    cameras = cfg["cameras"] if isinstance(cfg["cameras"], list) else [cfg["cameras"]]
    for cam in cameras:
        if cam not in CAMERAS:
            raise bad_value("cameras", cam, f"choose from: {', '.join(CAMERAS)}")
    size = cfg["image_size"]
    if not isinstance(size, list) or len(size) != 2 or any(not isinstance(v, int) or v < 8 or v % 2 for v in size):
        raise bad_value("image_size", size, "give [height, width], even integers >= 8")
    fps = cfg["fps"]
    if not isinstance(fps, int) or fps < 1 or 60 % fps:
        raise bad_value("fps", fps, "must divide the 60 Hz control rate (60, 30, 20, 15, ...)")
    noise = cfg.get("action_noise") or {}
    if not isinstance(noise, dict) or set(noise) - {"share", "std_rad", "tau_s"}:
        raise bad_value("action_noise", noise, "a mapping of share, std_rad, tau_s")
    for key, value in noise.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise bad_value(f"action_noise.{key}", value, "must be a number")
    action_noise = ActionNoiseConfig(**{k: float(v) for k, v in noise.items()})
    for key in ("max_tries", "workers"):
        if not isinstance(cfg[key], int) or cfg[key] < 1:
            raise bad_value(key, cfg[key], "must be an integer >= 1")
    return RecordConfig(
        output=Path(cfg["output"]),
        clusters=clusters,
        episodes_per_cluster=n,
        recovery_share=float(share),
        cameras=tuple(cameras),
        image_size=(size[0], size[1]),
        fps=fps,
        max_tries=cfg["max_tries"],
        workers=cfg["workers"],
        seed=int(cfg["seed"]),
        task=str(cfg["task"]),
        progress=bool(cfg["progress"]),
        action_noise=action_noise,
    )


def _worker_init(cameras: tuple[str, ...], size: tuple[int, int]) -> None:
    global _ENV
    os.environ.setdefault("MUJOCO_GL", "egl")
    from simbench.envs.teabag_mug import TeaBagMugEnv

    _ENV = TeaBagMugEnv(cameras=cameras, image_height=size[0], image_width=size[1])


def _run_slot(args: tuple[Slot, int, int, int, float, float]) -> tuple[Slot, Any, int]:
    """Try fresh starts for a slot until the expert succeeds; (slot, episode or None, discards)."""
    from simbench.expert.rollout import run_expert_episode

    slot, seed, max_tries, record_every, noise_std, noise_tau = args
    discards = 0
    for attempt in range(max_tries):
        episode_seed = _slot_seed(seed, slot, attempt)
        options = {"cluster": slot.cluster, "start": slot.start, "start_index": slot.index + 1000 * attempt}
        ep = run_expert_episode(_ENV, episode_seed, options, record_every=record_every,
                                noise_std_rad=noise_std, noise_tau_s=noise_tau)
        if ep.success:
            ep.seed = episode_seed  # type: ignore[attr-defined]
            return slot, ep, discards
        discards += 1
    return slot, None, discards


def _slot_seed(seed: int, slot: Slot, attempt: int) -> int:
    import numpy as np

    kinds = {"table": 0, "holding": 1, "beside": 2}
    return int(np.random.SeedSequence([seed, slot.cluster, kinds[slot.start], slot.index, attempt]).generate_state(1)[0])


def record(cfg: RecordConfig) -> dict[str, Any]:
    from tqdm import tqdm

    from simbench.dataset.writer import DatasetWriter, EpisodeBuffer

    slots = cfg.slots()
    writer = DatasetWriter(cfg.output, cfg.fps, cfg.cameras, (*cfg.image_size, 3))
    record_every = 60 // cfg.fps
    noise = cfg.action_noise
    jobs = [(s, cfg.seed, cfg.max_tries, record_every, noise.std_rad if noise.perturbs(s.index) else 0.0, noise.tau_s)
            for s in slots]
    t0 = time.perf_counter()
    kept, discarded, missing, perturbed = 0, 0, 0, 0
    per_cluster: dict[int, list[int]] = {}
    ctx = mp.get_context("forkserver" if sys.platform != "win32" else "spawn")
    with ctx.Pool(cfg.workers, initializer=_worker_init, initargs=(cfg.cameras, cfg.image_size)) as pool:
        bar = tqdm(total=len(slots), desc="record", unit="ep", disable=not cfg.progress)
        for slot, ep, discards in pool.imap(_run_slot, jobs):
            discarded += discards
            stats = per_cluster.setdefault(slot.cluster, [0, 0])
            stats[1] += discards
            if ep is None:
                missing += 1
            else:
                kept += 1
                perturbed += int(ep.perturbed)
                stats[0] += 1
                writer.add_episode(
                    EpisodeBuffer(
                        states=ep.states, actions=ep.actions, images=ep.images, task=cfg.task,
                        extra={"cluster": slot.cluster, "start": slot.start, "recovery": slot.start != "table", "seed": ep.seed,
                               "perturbed": ep.perturbed},
                    )
                )
            bar.set_postfix(kept=kept, discarded=discarded)
            bar.update()
        bar.close()
    if kept == 0:
        raise ConfigError("the expert succeeded in no episode; nothing to write")
    wall = time.perf_counter() - t0
    summary = {"kept": kept, "discarded": discarded, "perturbed": perturbed, "slots_without_success": missing, "wall_time_s": round(wall, 1),
               "per_cluster_kept_discarded": {str(k): v for k, v in sorted(per_cluster.items())}}
    writer.finalize(extra_info={"simbench": summary})
    return summary


def main(argv: list[str]) -> int:
    if any(a in ("-h", "--help") for a in argv):
        print(__doc__)
        print("Overrides (conf/record.yaml): output=, clusters=, episodes_per_cluster=, recovery_share=, cameras=, image_size=, fps=, max_tries=, workers=, seed=, action_noise.share=, action_noise.std_rad=, action_noise.tau_s=")
        return 0
    cfg = parse_config(argv)
    summary = record(cfg)
    print(f"wrote {cfg.output}: {summary['kept']} episodes kept, {summary['discarded']} discarded, "
          f"{summary['slots_without_success']} slots without success, {summary['wall_time_s']} s")
    return 0
