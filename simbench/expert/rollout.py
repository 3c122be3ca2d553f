"""Run the scripted expert in the environment: one function for recording, tests and ``look``.

An episode runs at the env's control rate (60 Hz); frames are kept every ``record_every`` ticks
(2: 30 fps, as in the published set). A kept frame pairs the observation at that tick with the
action the expert sent at that tick, so ``action[t]`` is the servo target while ``state[t]`` is
observed, LeRobot's convention.

After the expert is done the episode keeps running (the arm holding still) until the env
reports success or a short grace period ends, so a kept episode always ends in the success state.

This is not a policy episode: the expert plans every tick from the true scene state, may execute
noisy targets while recording clean ones, and keeps frames. A chunk policy's ideal-timing episode is
:func:`simbench.rollout.run_episode` (evaluation and the policy's part of a takeover).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from simbench.envs.teabag_mug import TeaBagMugEnv
from simbench.envs.workspace import StartKind
from simbench.expert.action_noise import OUActionNoise
from simbench.expert.expert import SceneState, ScriptedExpert

SETTLE_AFTER_DONE_S = 1.5


@dataclass
class ExpertEpisode:
    """One expert episode, as recorded frames plus its outcome."""

    success: bool
    duration_s: float
    states: NDArray[np.float32]
    """(T, 6) joint positions at each kept frame."""
    actions: NDArray[np.float32]
    """(T, 6) joint targets sent at each kept frame."""
    images: dict[str, NDArray[np.uint8]] = field(default_factory=dict)
    """camera -> (T, H, W, 3)."""
    events: dict[str, float] = field(default_factory=dict)
    """Simulated times of "grasp" and "release"."""
    attempts: int = 0
    cluster: int = 0
    start: str = "table"
    perturbed: bool = False
    """Executed with an action-noise offset on the arm joints (the recorded actions stay clean)."""


def scene_state(env: TeaBagMugEnv) -> SceneState:
    p = env.privileged()
    return SceneState(
        qpos=p["qpos"], pouch_pos=p["pouch_pos"], pouch_yaw=p["pouch_yaw"], mug_pos=p["mug_pos"], time_s=p["time_s"]
    )


def run_expert_episode(
    env: TeaBagMugEnv,
    seed: int,
    options: dict[str, Any] | None = None,
    record_every: int = 2,
    cameras: tuple[str, ...] | None = None,
    on_frame: Callable[[TeaBagMugEnv], None] | None = None,
    noise_std_rad: float = 0.0,
    noise_tau_s: float = 0.3,
) -> ExpertEpisode:
    """Reset ``env`` with ``seed``/``options`` and let the expert do the task.

    ``cameras``: which cameras to render into the episode (default: the env's); ``()`` renders
    nothing (fast, for success-rate checks). ``on_frame`` is called at each kept frame.
    ``noise_std_rad`` > 0 executes the expert's arm targets plus an Ornstein-Uhlenbeck offset
    (:mod:`simbench.expert.action_noise`) while the clean targets are recorded as the actions.
    """
    env.reset(seed=seed, options=options)
    expert = ScriptedExpert(env.model)
    assert env.start is not None
    expert.reset(np.random.default_rng([seed, 7]), scene_state(env), holding=env.start.kind is StartKind.HOLDING)
    return finish_with_expert(env, expert, seed, record_every, cameras, on_frame, noise_std_rad, noise_tau_s)


def finish_with_expert(
    env: TeaBagMugEnv,
    expert: ScriptedExpert,
    seed: int,
    record_every: int = 2,
    cameras: tuple[str, ...] | None = None,
    on_frame: Callable[[TeaBagMugEnv], None] | None = None,
    noise_std_rad: float = 0.0,
    noise_tau_s: float = 0.3,
) -> ExpertEpisode:
    """Let an already reset ``expert`` drive ``env`` from its current state to the end, recording
    frames: the loop behind both a fresh expert episode and a takeover from a policy
    (:mod:`simbench.expert.takeover`). Arguments as in :func:`run_expert_episode`."""
    cams = env.cameras if cameras is None else tuple(cameras)
    states: list[NDArray[np.float32]] = []
    actions: list[NDArray[np.float32]] = []
    frames: dict[str, list[NDArray[np.uint8]]] = {c: [] for c in cams}
    noise = (OUActionNoise(np.random.default_rng([seed, 11]), 5, noise_std_rad, noise_tau_s, env.control_dt)
             if noise_std_rad > 0 else None)
    tick = 0
    done_at: float | None = None
    while env.time_s < env.time_limit_s - 1e-9:
        action = expert.act(scene_state(env))
        executed = action if noise is None else np.concatenate([action[:5] + noise.step(), action[5:]])
        if tick % record_every == 0:
            snap = env.snapshot()
            states.append(snap.qpos[env._qadr].astype(np.float32))
            actions.append(action.astype(np.float32))
            if cams:
                obs = env.observation_from(snap, cams)
                for cam in cams:
                    frames[cam].append(obs[f"observation.images.{cam}"])
            if on_frame is not None:
                on_frame(env)
        env.apply_action(executed)
        tick += 1
        if env.succeeded:
            break
        if expert.done:
            done_at = env.time_s if done_at is None else done_at
            if env.time_s - done_at > SETTLE_AFTER_DONE_S:
                break
    return ExpertEpisode(
        success=env.succeeded,
        duration_s=env.time_s,
        states=np.asarray(states, dtype=np.float32).reshape(-1, 6),
        actions=np.asarray(actions, dtype=np.float32).reshape(-1, 6),
        images={c: np.asarray(f, dtype=np.uint8) for c, f in frames.items()},
        events=dict(expert.events),
        attempts=expert.attempts,
        cluster=env.start.cluster,
        start=env.start.kind.value,
        perturbed=noise is not None,
    )
