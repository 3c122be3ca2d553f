"""Recording scripted-expert demonstrations as a LeRobotDataset v3.0 (``python -m simbench record``).

Each *slot* (cluster, start kind, index) gets deterministic seeds; the expert runs in worker
processes, and only successful episodes are kept: a failed start is discarded, counted, and the
slot tries a fresh start (up to ``max_tries``). The parent writes episodes in slot order, so the
dataset does not depend on the number of workers.

``takeover`` slots (off by default) let a trained policy drive first and record the expert's
finish from the state the policy reached (:mod:`simbench.expert.takeover`, DAgger-style data).
"""

from __future__ import annotations

import multiprocessing as mp
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from simbench.envs.base import CONTROL_HZ
from simbench.errors import ConfigError, bad_value
from simbench.expert.action_noise import ActionNoiseConfig

_ENV: Any = None
_DRIVER: Any = None
"""(scheduler env, policy, n_action_steps, TakeoverConfig) in a worker when takeover slots are recorded."""

SLOT_KINDS = {"table": 0, "holding": 1, "beside": 2, "takeover": 3}
"""Start kind of a slot -> its entry in the slot's seed sequence."""


@dataclass(frozen=True)
class Slot:
    cluster: int
    start: str
    """A start kind of the scene (table, holding, beside) or "takeover" (a table start the policy begins)."""
    index: int


@dataclass(frozen=True)
class TakeoverConfig:
    """A trained policy drives until a drawn time, then the expert finishes (``takeover`` in conf/record.yaml)."""

    policy: str | None = None
    """conf/policy/ config that drives (e.g. act_fp32); None: no takeover slots."""
    model_path: str | None = None
    """Another ONNX export for that config (default: the config's own model)."""
    episodes_per_cluster: int = 0
    switch_s: tuple[float, float] = (1.0, 8.0)
    """The switch time is drawn uniformly from this range (simulated seconds)."""
    finish_grasp: bool = False
    """The expert finishes a grasp the policy made instead of re-approaching (off by default:
    :mod:`simbench.expert.takeover` says why)."""

    @property
    def enabled(self) -> bool:
        return self.policy is not None and self.episodes_per_cluster > 0


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
    takeover: TakeoverConfig = field(default_factory=TakeoverConfig)

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
            if self.takeover.enabled:
                out += [Slot(k, "takeover", i) for i in range(self.takeover.episodes_per_cluster)]
        return out


def record_config(cfg: dict[str, Any]) -> RecordConfig:
    """Validate a composed ``conf/record.yaml`` (ConfigError naming the key) and refuse an output
    folder that is neither empty nor a dataset, before anything is written."""
    from simbench.envs.teabag_mug import CAMERAS
    from simbench.envs.workspace import check_cluster

    takeover = _takeover_config(cfg.get("takeover") or {})
    n = cfg["episodes_per_cluster"]
    minimum = 0 if takeover.enabled else 1
    if isinstance(n, bool) or not isinstance(n, int) or n < minimum:
        raise bad_value("episodes_per_cluster", n, f"must be an integer >= {minimum} (0 only with takeover episodes)")
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
    if not isinstance(fps, int) or fps < 1 or CONTROL_HZ % fps:
        raise bad_value("fps", fps, f"must divide the {CONTROL_HZ} Hz control rate (60, 30, 20, 15, ...)")
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
    if isinstance(cfg.get("seed"), bool) or not isinstance(cfg.get("seed"), int) or cfg["seed"] < 0:
        raise bad_value("seed", cfg.get("seed"), "must be an integer >= 0")
    if not isinstance(cfg.get("progress"), bool):
        raise bad_value("progress", cfg.get("progress"), "must be true or false")
    output = cfg.get("output")
    if not isinstance(output, str) or not output.strip():
        raise bad_value("output", output, "give a directory path for the dataset")
    from simbench.dataset.writer import check_output

    check_output(Path(output))
    return RecordConfig(
        output=Path(output),
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
        takeover=takeover,
    )


def _takeover_config(node: Any) -> TakeoverConfig:
    from simbench.config.build import available, load_option

    if not isinstance(node, dict) or set(node) - {
        "policy",
        "model_path",
        "episodes_per_cluster",
        "switch_s",
        "finish_grasp",
    }:
        raise bad_value(
            "takeover", node, "a mapping of policy, model_path, episodes_per_cluster, switch_s, finish_grasp"
        )
    policy = node.get("policy")
    if policy is not None and load_option("policy", str(policy)) is None:
        raise bad_value("takeover.policy", policy, f"choose one of: {', '.join(available('policy'))}")
    n = node.get("episodes_per_cluster", 0)
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise bad_value("takeover.episodes_per_cluster", n, "must be an integer >= 0")
    switch = node.get("switch_s", [1.0, 8.0])
    if (
        not isinstance(switch, list)
        or len(switch) != 2
        or any(isinstance(v, bool) or not isinstance(v, (int, float)) for v in switch)
        or not 0 < switch[0] <= switch[1]
    ):
        raise bad_value("takeover.switch_s", switch, "give [earliest, latest] seconds, 0 < earliest <= latest")
    model_path = node.get("model_path")
    if model_path is not None:
        from simbench.policies.onnx_model import resolve_model_path

        model_path = str(resolve_model_path(str(model_path)))
    finish = node.get("finish_grasp", False)
    if not isinstance(finish, bool):
        raise bad_value("takeover.finish_grasp", finish, "must be true or false")
    return TakeoverConfig(
        None if policy is None else str(policy), model_path, n, (float(switch[0]), float(switch[1])), finish
    )


def _worker_init(cameras: tuple[str, ...], size: tuple[int, int], takeover: TakeoverConfig | None = None) -> None:
    global _ENV, _DRIVER
    os.environ.setdefault("MUJOCO_GL", "egl")
    from simbench.envs.teabag_mug import TeaBagMugEnv

    _ENV = TeaBagMugEnv(cameras=cameras, image_height=size[0], image_width=size[1])
    if takeover is not None and takeover.enabled:
        _DRIVER = _build_driver(_ENV, takeover)


def _build_driver(sim: Any, takeover: TakeoverConfig) -> tuple[Any, Any, int, TakeoverConfig]:
    """The policy a takeover slot starts with, on a scheduler view of the recording env."""
    from simbench.config.build import load_option
    from simbench.envs.teabag_scheduler_env import TeaBagSchedulerEnv
    from simbench.registry import POLICY_RUNTIMES, resolve

    env = TeaBagSchedulerEnv(sim)
    cfg = load_option("policy", str(takeover.policy)) or {}
    if takeover.model_path is not None:
        cfg["model_path"] = takeover.model_path
    cfg["fps"] = env.control_hz
    cfg["threads"] = 1  # one simulation process per core
    policy = resolve(POLICY_RUNTIMES, "policy.runtime", cfg.get("runtime", "onnx")).from_config(cfg, env)
    return env, policy, int(cfg.get("n_action_steps", policy.actions_per_chunk)), takeover


def _run_slot(args: tuple[Slot, int, int, int, float, float]) -> tuple[Slot, Any, int, dict[str, int]]:
    """Try fresh starts for a slot until the expert succeeds; (slot, episode or None, discards,
    what the takeover attempts ended in)."""
    import numpy as np

    from simbench.expert.rollout import run_expert_episode
    from simbench.expert.takeover import run_takeover_episode

    slot, seed, max_tries, record_every, noise_std, noise_tau = args
    discards = 0
    outcomes: dict[str, int] = {}
    for attempt in range(max_tries):
        episode_seed = _slot_seed(seed, slot, attempt)
        start = "table" if slot.start == "takeover" else slot.start
        options = {"cluster": slot.cluster, "start": start, "start_index": slot.index + 1000 * attempt}
        if slot.start == "takeover":
            env, policy, n_steps, takeover = _DRIVER
            switch_s = float(np.random.default_rng([episode_seed, 13]).uniform(*takeover.switch_s))
            ep, info = run_takeover_episode(
                env,
                policy,
                n_steps,
                episode_seed,
                options,
                switch_s,
                record_every,
                noise_std_rad=noise_std,
                noise_tau_s=noise_tau,
                finish_grasp=takeover.finish_grasp,
            )
            outcome = info.outcome if ep is None or ep.success else "expert_failed"
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
            if ep is not None:
                ep.takeover = info  # type: ignore[attr-defined]
        else:
            ep = run_expert_episode(_ENV, episode_seed, options, record_every=record_every,
                                    noise_std_rad=noise_std, noise_tau_s=noise_tau)
        if ep is not None and ep.success:
            ep.seed = episode_seed  # type: ignore[attr-defined]
            return slot, ep, discards, outcomes
        discards += 1
    return slot, None, discards, outcomes


def _slot_seed(seed: int, slot: Slot, attempt: int) -> int:
    import numpy as np

    return int(
        np.random.SeedSequence([seed, slot.cluster, SLOT_KINDS[slot.start], slot.index, attempt]).generate_state(1)[0]
    )


def record(cfg: RecordConfig) -> dict[str, Any]:
    """Record into a staging directory beside ``cfg.output``; the dataset replaces ``cfg.output``
    only once complete (an interrupted recording leaves the old one as it was)."""
    from simbench.dataset.writer import DatasetWriter

    slots = cfg.slots()
    record_every = CONTROL_HZ // cfg.fps
    noise = cfg.action_noise
    jobs = [(s, cfg.seed, cfg.max_tries, record_every, noise.std_rad if noise.perturbs(s.index) else 0.0, noise.tau_s)
            for s in slots]
    if cfg.takeover.enabled:  # build the driving policy once here: a bad config fails before any worker starts
        from simbench.envs.teabag_mug import TeaBagMugEnv

        probe = TeaBagMugEnv(cameras=cfg.cameras, image_height=cfg.image_size[0], image_width=cfg.image_size[1])
        try:
            _build_driver(probe, cfg.takeover)
        finally:
            probe.close()
    with DatasetWriter(cfg.output, cfg.fps, cfg.cameras, (*cfg.image_size, 3)) as writer:
        return _record_into(writer, cfg, slots, jobs)


def _record_into(
    writer: Any, cfg: RecordConfig, slots: list[Slot], jobs: list[tuple[Slot, int, int, int, float, float]]
) -> dict[str, Any]:
    from tqdm import tqdm

    from simbench.dataset.writer import EpisodeBuffer

    t0 = time.perf_counter()
    kept, discarded, missing, perturbed = 0, 0, 0, 0
    per_cluster: dict[int, list[int]] = {}
    takeover_outcomes: dict[str, int] = {}
    ctx = mp.get_context("forkserver" if sys.platform != "win32" else "spawn")
    with ctx.Pool(cfg.workers, initializer=_worker_init, initargs=(cfg.cameras, cfg.image_size, cfg.takeover)) as pool:
        bar = tqdm(total=len(slots), desc="record", unit="ep", disable=not cfg.progress)
        for slot, ep, discards, outcomes in pool.imap(_run_slot, jobs):
            discarded += discards
            for key, count in outcomes.items():
                takeover_outcomes[key] = takeover_outcomes.get(key, 0) + count
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
                        states=ep.states,
                        actions=ep.actions,
                        images=ep.images,
                        task=cfg.task,
                        extra={
                            "cluster": slot.cluster,
                            "start": slot.start,
                            "recovery": slot.start not in ("table", "takeover"),
                            "seed": ep.seed,
                            "perturbed": ep.perturbed,
                            **_takeover_extra(ep),
                        },
                    )
                )
            bar.set_postfix(kept=kept, discarded=discarded)
            bar.update()
        bar.close()
    if kept == 0:
        raise ConfigError("the expert succeeded in no episode; nothing to write")
    wall = time.perf_counter() - t0
    summary = {
        "kept": kept,
        "discarded": discarded,
        "perturbed": perturbed,
        "slots_without_success": missing,
        "wall_time_s": round(wall, 1),
        "per_cluster_kept_discarded": {str(k): v for k, v in sorted(per_cluster.items())},
    }
    if cfg.takeover.enabled:
        summary["takeover"] = {
            "policy": cfg.takeover.policy,
            "model_path": cfg.takeover.model_path,
            "switch_s": list(cfg.takeover.switch_s),
            "finish_grasp": cfg.takeover.finish_grasp,
            "attempts": dict(sorted(takeover_outcomes.items())),
        }
    writer.finalize(extra_info={"simbench": summary})
    return summary


def _takeover_extra(ep: Any) -> dict[str, Any]:
    """Episode metadata of a takeover (switch time, the expert's first phase; NaN / "" for an expert episode)."""
    info = getattr(ep, "takeover", None)
    return {
        "takeover_s": float("nan") if info is None else info.switch_s,
        "takeover_phase": "" if info is None else info.phase,
    }
