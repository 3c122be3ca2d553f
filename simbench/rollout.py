"""The ideal-timing rollout: one synchronous, zero-latency episode of a chunk policy in an env.

Ideal timing is LeRobot's synchronous loop with no inference latency: observe, predict a chunk,
execute its first ``n_action_steps`` actions one per control tick, repeat, until the env says the
episode is over. It is the scheduler's ``sync`` mode at zero latency without SimPy
(``tests/test_rollout.py`` checks that both execute the same actions), and the one loop that
evaluation (:mod:`simbench.training.evaluate`), expert takeover (:mod:`simbench.expert.takeover`)
and the recorder's takeover slots share. It drives the env through the scheduler's contract
(:class:`simbench.envs.base.SchedulerEnv`), so its success is the success the scheduler reports,
minus every timing effect.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from simbench.envs.base import SchedulerEnv
from simbench.policies.base import ChunkPolicy
from simbench.policies.request import PolicyRequest


def run_episode(env: SchedulerEnv, policy: ChunkPolicy, seed: int, options: dict[str, Any], n_action_steps: int,
                max_ticks: int = 100_000, on_tick: Callable[[np.ndarray], None] | None = None) -> dict[str, Any]:
    """One episode -> {"success", "completion_time_s", "ticks", "inferences", "mean_inference_s", ...env extras}.

    ``max_ticks`` stops early at the first chunk boundary at or after it (a takeover's switch point);
    ``on_tick(action)`` runs after each applied action (tracing, e.g. ``benchmarks/release_trace.py``).
    """
    env.reset(seed, options)
    policy.reset(seed)
    ticks = inferences = 0
    infer_s = 0.0
    while not env.done and ticks < max_ticks:
        obs = env.observation(env.snapshot())
        t0 = time.perf_counter()
        chunk = policy.predict_chunk(PolicyRequest(obs, ticks))
        infer_s += time.perf_counter() - t0
        inferences += 1
        for action in chunk[:n_action_steps]:
            env.apply(np.asarray(action, dtype=np.float64))
            ticks += 1
            if on_tick is not None:
                on_tick(action)
            if env.done:
                break
    out = env.outcome()
    return {"success": bool(out.success), "completion_time_s": out.completion_time_s, "ticks": ticks,
            "inferences": inferences, "mean_inference_s": infer_s / max(1, inferences), **dict(out.extra)}
