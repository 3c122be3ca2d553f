"""Benchmark the tea-bag scene: physics speed, rendering cost, expert episode throughput.

    MUJOCO_GL=egl python benchmarks/bench_env.py [--seconds 20] [--json out.json]

Reports
- physics: raw ``mj_step`` per second and the real-time factor at 60 Hz control (3 substeps);
- env steps/s (one 60 Hz control tick) without rendering and with the three cameras rendered
  every tick at the default 96 x 128 (the worst case; the scheduler renders only consumed
  observations, the recorder every second tick);
- expert episodes per minute without images and recording at 30 fps with three cameras.
The arm follows a scripted expert episode, so contacts (grasp, bag in the mug) are realistic.
"""

from __future__ import annotations

import argparse
import json
import os
import time

os.environ.setdefault("MUJOCO_GL", "egl")

import mujoco  # noqa: E402
import numpy as np  # noqa: E402

from simbench.envs.teabag_mug import TeaBagMugEnv  # noqa: E402
from simbench.expert.rollout import run_expert_episode  # noqa: E402


def _expert_actions(env: TeaBagMugEnv, seed: int) -> list[np.ndarray]:
    """The joint targets of one expert episode, replayed open loop by the timing loops."""
    actions: list[np.ndarray] = []
    run_expert_episode(
        env, seed, {"cluster": 4}, record_every=1, cameras=(), on_frame=lambda e: actions.append(e.data.ctrl.copy())
    )
    return actions


def bench(seconds: float) -> dict[str, float]:
    out: dict[str, float] = {}
    env = TeaBagMugEnv(cameras=())
    actions = _expert_actions(env, 0)

    # Raw physics.
    env.reset(seed=0, options={"cluster": 4})
    steps, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds / 4:
        env.data.ctrl[:] = actions[(steps // env.n_substeps) % len(actions)]
        mujoco.mj_step(env.model, env.data)
        steps += 1
    wall = time.perf_counter() - t0
    out["physics_steps_per_s"] = steps / wall
    out["physics_real_time_factor"] = steps * env.model.opt.timestep / wall

    # Env ticks without rendering.
    env.reset(seed=0, options={"cluster": 4})
    ticks, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds / 4:
        env.apply_action(actions[ticks % len(actions)])
        ticks += 1
    wall = time.perf_counter() - t0
    out["env_steps_per_s_no_render"] = ticks / wall
    out["env_real_time_factor_no_render"] = ticks * env.control_dt / wall

    # Env ticks rendering three cameras each tick.
    cam_env = TeaBagMugEnv()
    cam_env.reset(seed=0, options={"cluster": 4})
    ticks, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds / 4:
        cam_env.apply_action(actions[ticks % len(actions)])
        cam_env.observation_from(cam_env.snapshot())
        ticks += 1
    wall = time.perf_counter() - t0
    out["env_steps_per_s_3_cameras"] = ticks / wall
    out["render_frames_per_s"] = 3 * ticks / wall

    # Expert episodes (IK and planning included).
    n, sim, t0 = 0, 0.0, time.perf_counter()
    while time.perf_counter() - t0 < seconds / 8 or n == 0:
        sim += run_expert_episode(env, n, {"cluster": 1 + n % 11}, cameras=()).duration_s
        n += 1
    out["expert_episodes_per_min_no_images"] = 60 * n / (time.perf_counter() - t0)
    out["expert_real_time_factor"] = sim / (time.perf_counter() - t0)
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds / 8 or n == 0:
        run_expert_episode(cam_env, n, {"cluster": 1 + n % 11}, record_every=2)
        n += 1
    out["expert_episodes_per_min_3_cameras_30fps"] = 60 * n / (time.perf_counter() - t0)
    env.close()
    cam_env.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="total measuring time")
    parser.add_argument("--json", default=None, help="also write the numbers here")
    args = parser.parse_args()
    results = bench(args.seconds)
    for key, value in results.items():
        print(f"{key:<42} {value:10.1f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
