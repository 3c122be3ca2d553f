"""Replay a LeRobotDataset v3 through the scheduler, open loop: what latency does to *your* data.

``python -m simbench replay DATASET +policy=NAME [latency=...] [scheduler=sync]`` (:mod:`simbench.cli.replay`).

Each episode of the dataset becomes an episode of the scheduler (async or sync, the run's settings)
at the dataset's fps: the control loop ticks once per frame and every observation the policy takes
is the dataset's frame and state *at that tick* (:class:`DatasetEnv`); what the arm executes does
not change what it sees next (open loop). Per tick three actions are compared:

* ``executed``: what the scheduler made the arm do (the queue's action, or the last one held while
  stalled; ticks before the first chunk arrives are left out);
* ``recorded``: the dataset's ``action`` at that frame (what the demonstrator did);
* ``zero-latency``: the policy's own first action for that frame (inference takes no time).

The table gives, per run, the mean and p95 of the per-tick L2 distance (action units: radians for
the scene) of executed to recorded and of executed to zero-latency, and the scheduler's own jump at
merges, action age and stall share (:func:`simbench.metrics.summarize`); the line under it is the
policy's zero-latency distance to the recording (its imitation error, which no latency removes).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from tqdm import tqdm

from simbench.envs.base import EpisodeOutcome, Observation
from simbench.errors import ConfigError
from simbench.policies.request import PolicyRequest

IMAGE_PREFIX = "observation.images."


class DatasetEnv:
    """A SchedulerEnv whose observations are a recorded episode's frames (open loop)."""

    physical = True  # stepped tick by tick: every observation is the frame of its own tick
    has_success = False
    name = "dataset"

    def __init__(self, dataset: Any, episodes: Sequence[int]) -> None:
        self.ds = dataset
        self.action_dim = int(dataset.action.shape[1])
        self.cameras = tuple(dataset.cameras)
        self.control_hz = float(dataset.fps)
        self.episodes = list(episodes)
        self._lo = self._hi = 0
        self._episode = -1
        self._frames: dict[str, NDArray[np.uint8]] = {}
        self.t = 0
        self.executed: list[NDArray[np.float64] | None] = []

    def episode_plan(self) -> list[dict[str, Any]]:
        return [{"episode": e, "split": "replay"} for e in self.episodes]

    def reset(self, seed: int, options: dict[str, Any] | None = None) -> None:
        episode = int((options or {}).get("episode", self.episodes[0]))
        self._lo, self._hi = (int(v) for v in self.ds.episode_ranges[episode])
        if episode != self._episode:
            self._frames = {c: self.ds.episode_frames(c, episode) for c in self.cameras}
            self._episode = episode
        self.t = 0
        self.executed = []

    @property
    def length(self) -> int:
        return self._hi - self._lo

    def frame(self, t: int) -> Observation:
        """The dataset's observation at tick ``t`` of the current episode (the last frame past the end)."""
        t = min(max(t, 0), self.length - 1)
        obs: Observation = {"observation.state": self.ds.state[self._lo + t].copy(), "timestep": t}
        for c in self.cameras:
            obs[IMAGE_PREFIX + c] = self._frames[c][t]
        return obs

    def joint_state(self) -> NDArray[np.float64]:
        return self.ds.state[self._lo + min(self.t, self.length - 1)].astype(np.float64)

    def snapshot(self) -> int:
        return self.t

    def observation(self, snapshot: int) -> Observation:
        return self.frame(int(snapshot))

    def apply(self, action: NDArray[np.float64] | None) -> None:
        held = self.executed[-1] if self.executed else None
        self.executed.append(np.asarray(action, dtype=np.float64).copy() if action is not None else held)
        self.t += 1

    def apply_span(self, actions: NDArray[np.float64], holds_after: int) -> None:
        for a in actions:
            self.apply(a)
        for _ in range(holds_after):
            self.apply(None)

    @property
    def done(self) -> bool:
        return self.t >= self.length

    def outcome(self) -> EpisodeOutcome:
        return EpisodeOutcome(success=False, completion_time_s=None)

    def close(self) -> None:
        self._frames = {}


@dataclass
class ReplayRow:
    label: str
    metrics: dict[str, Any]
    to_recorded: NDArray[np.float64]
    to_ideal: NDArray[np.float64]
    ideal_to_recorded: NDArray[np.float64]

    def as_dict(self) -> dict[str, Any]:
        def stat(v: NDArray[np.float64]) -> dict[str, float | None]:
            return {"mean": float(v.mean()) if v.size else None, "p95": float(np.percentile(v, 95)) if v.size else None}

        keys = (
            "stall_fraction",
            "action_age_mean_s",
            "boundary_jump_mean",
            "within_chunk_jump_mean",
            "inference_count",
            "ticks",
            "latency_mean_s",
        )
        return {
            "run": self.label,
            **{k: self.metrics.get(k) for k in keys},
            "error_vs_recorded": stat(self.to_recorded),
            "error_vs_zero_latency": stat(self.to_ideal),
            "zero_latency_vs_recorded": stat(self.ideal_to_recorded),
        }


def required_inputs(policy: Any) -> tuple[dict[str, str], int | None]:
    """(observation key -> what the policy needs of it, state size) for the shipped ACT runtime
    and contract models (images are checked by camera; the ACT runtime resizes them)."""
    contract = getattr(policy, "contract", None)
    if contract is not None:
        needs = {}
        for spec in contract.inputs:
            needs[spec.key] = (
                f"{spec.image_size[0]}x{spec.image_size[1]} images"
                if spec.kind == "image"
                else f"{spec.shape[1]} values"
            )
        return needs, contract.state_dim or None
    cameras = getattr(policy, "cameras", ())
    state_dim = getattr(policy, "state_dim", None)
    needs = {IMAGE_PREFIX + c: "images" for c in cameras}
    if state_dim:
        needs["observation.state"] = f"{state_dim} values"
    return needs, state_dim


def check_features(dataset: Any, policy: Any, where: str) -> None:
    """One line naming every policy input the dataset lacks or gives in another size; exit 2 upstream."""
    problems = []
    needs, _ = required_inputs(policy)
    given = {IMAGE_PREFIX + c: f"{dataset.image_shape[0]}x{dataset.image_shape[1]} images" for c in dataset.cameras}
    given["observation.state"] = f"{dataset.state.shape[1]} values"
    contract = getattr(policy, "contract", None)
    for key, need in needs.items():
        if key not in given:
            problems.append(f"{key} ({need}) is not in the dataset")
        elif (contract is not None or key == "observation.state") and given[key] != need:
            problems.append(f"{key} is {given[key]} in the dataset, the policy takes {need}")
    if dataset.action.shape[1] != policy.action_dim:
        problems.append(
            f"action has {dataset.action.shape[1]} values in the dataset, the policy predicts {policy.action_dim}"
        )
    if problems:
        features = ", ".join([*(IMAGE_PREFIX + c for c in dataset.cameras), "observation.state", "action"])
        raise ConfigError(
            f"dataset={where!r} does not match policy {getattr(policy, 'name', '?')}: "
            f"{'; '.join(problems)} (the dataset has {features})"
        )


def zero_latency_actions(policy: Any, env: DatasetEnv) -> NDArray[np.float64]:
    """(length, action_dim): the policy's first action for every frame of the current episode."""
    policy.reset(0)
    return np.stack([np.asarray(policy.predict_chunk(PolicyRequest(env.frame(t), t)))[0] for t in range(env.length)])


def replay_run(
    spec: Any,
    policy: Any,
    dataset: Any,
    episodes: Sequence[int],
    label: str,
    ideal_cache: dict[int, NDArray[np.float64]],
) -> ReplayRow:
    """Every episode through the scheduler under ``spec``; the distances pooled over episodes."""
    from simbench.metrics import summarize
    from simbench.scheduler.episode import simulate_episode

    env = DatasetEnv(dataset, episodes)
    longest = max(int(dataset.episode_ranges[e][1] - dataset.episode_ranges[e][0]) for e in episodes)
    settings = dataclasses.replace(spec.settings, max_ticks=longest + 1)
    results, to_rec, to_ideal, ideal_rec = [], [], [], []
    plan = env.episode_plan()
    for i, options in enumerate(tqdm(plan, desc=f"replay {label}", unit="ep", disable=None, leave=False)):
        episode = int(options["episode"])
        env.reset(0, options)
        if episode not in ideal_cache:
            ideal_cache[episode] = zero_latency_actions(policy, env)
        ideal = ideal_cache[episode]
        results.append(simulate_episode(settings, env, policy, spec.latency, spec.seed, i, options))
        lo, hi = dataset.episode_ranges[episode]
        recorded = dataset.action[lo:hi].astype(np.float64)
        executed = env.executed[: hi - lo]
        ticks = [t for t, a in enumerate(executed) if a is not None]
        if ticks:
            ex = np.stack([executed[t] for t in ticks])
            to_rec.append(np.linalg.norm(ex - recorded[ticks], axis=1))
            to_ideal.append(np.linalg.norm(ex - ideal[ticks], axis=1))
        ideal_rec.append(np.linalg.norm(ideal - recorded, axis=1))
    env.close()

    def cat(parts: list[NDArray[np.float64]]) -> NDArray[np.float64]:
        return np.concatenate(parts) if parts else np.zeros(0)

    metrics = summarize(results, settings, False)
    return ReplayRow(label, metrics, cat(to_rec), cat(to_ideal), cat(ideal_rec))


def format_table(rows: Sequence[ReplayRow], dataset: str, policy: str, frames: int, episodes: int, fps: float) -> str:
    def pct(v: Any) -> str:
        return "-" if v is None else f"{100 * v:.1f}%"

    def num(v: Any, fmt: str = ".4f") -> str:
        return "-" if v is None else format(v, fmt)

    width = max([len("run"), *(len(r.label) for r in rows)]) + 2
    header = (
        f"{'run':<{width}}{'err rec mean':>13}{'p95':>8}{'err 0-lat mean':>15}{'p95':>8}{'jump@merge':>11}"
        f"{'age s':>7}{'stall':>7}"
    )
    lines = [
        f"replay of {dataset}: {episodes} episodes, {frames} frames at {fps:g} fps, policy {policy} (open loop)",
        "",
        header,
    ]
    for r in rows:
        d = r.as_dict()
        rec, ide = d["error_vs_recorded"], d["error_vs_zero_latency"]
        lines.append(
            f"{r.label:<{width}}{num(rec['mean']):>13}{num(rec['p95']):>8}{num(ide['mean']):>15}"
            f"{num(ide['p95']):>8}{num(d['boundary_jump_mean']):>11}{num(d['action_age_mean_s'], '.3f'):>7}"
            f"{pct(d['stall_fraction']):>7}"
        )
    if rows:
        base = rows[0].as_dict()["zero_latency_vs_recorded"]
        lines += [
            "",
            (
                f"zero-latency policy vs recorded: mean {num(base['mean'])}, p95 {num(base['p95'])} "
                "(its imitation error: no latency removes it)"
            ),
            (
                "errors: L2 over the action vector per tick (action units); err rec = executed vs the dataset's "
                "action, err 0-lat = executed vs the policy's own action with no latency"
            ),
        ]
    return "\n".join(lines)


class DatasetFrames:
    """Robot-side feeds (uint8 H x W x 3 images, float32 states) from a dataset's frames, for
    static int8 calibration of an import (``import-lerobot dataset=``)."""

    def __init__(self, dataset: Any, features: Sequence[Any]) -> None:
        self.ds = dataset
        self.features = list(features)

    @classmethod
    def open(cls, path: Path, features: Sequence[Any]) -> DatasetFrames:
        from simbench.dataset.reader import load_dataset

        ds = load_dataset(path)
        missing = [f.key for f in features if f.type == "VISUAL" and f.key[len(IMAGE_PREFIX) :] not in ds.cameras]
        if missing:
            raise ConfigError(f"dataset={str(path)!r} lacks {', '.join(missing)} (it has {', '.join(ds.cameras)})")
        return cls(ds, features)

    def feeds(self, n: int, seed: int) -> list[dict[str, np.ndarray]]:
        rng = np.random.default_rng(seed)
        idx = np.sort(rng.choice(self.ds.num_frames, size=min(n, self.ds.num_frames), replace=False))
        out: list[dict[str, np.ndarray]] = [{} for _ in idx]
        for f in self.features:
            if f.type == "VISUAL":
                frames = self.ds.frames(f.key[len(IMAGE_PREFIX) :], idx)
                if frames.shape[1:3] != tuple(f.shape[1:]):
                    raise ConfigError(
                        f"dataset images of {f.key} are {frames.shape[1]}x{frames.shape[2]}, the "
                        f"checkpoint takes {f.shape[1]}x{f.shape[2]}"
                    )
                for i in range(len(idx)):
                    out[i][f.key] = frames[i : i + 1]
            elif f.key == "observation.state":
                for i, j in enumerate(idx):
                    out[i][f.key] = self.ds.state[j : j + 1].astype(np.float32)
            else:
                raise ConfigError(f"calibration from a dataset reads images and observation.state, not {f.key}")
        return out


__all__ = [
    "DatasetEnv",
    "DatasetFrames",
    "ReplayRow",
    "check_features",
    "format_table",
    "replay_run",
    "zero_latency_actions",
]
