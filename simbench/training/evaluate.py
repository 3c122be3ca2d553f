"""Closed-loop success of a chunk policy in the tea-bag scene, with ideal timing.

Each episode is the ideal-timing rollout (:func:`simbench.rollout.run_episode`: synchronous, zero
latency), so the success measured here is the success the scheduler reports, minus every timing effect.

The published protocol is the env's ``episode_plan()`` (2 starts in each of the 10 training
clusters, then 10 in held-out cluster 6). During training a cheaper subset is used: ``n`` episodes
spread evenly over the plan.

``python -m simbench eval act_fp32 act_int8 ...`` (also ``python -m simbench.training.evaluate``)
evaluates shipped policy configs on the full protocol and prints a table (:func:`evaluate_named`).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from simbench.envs.base import SchedulerEnv, control_hz
from simbench.errors import bad_value
from simbench.policies.base import ChunkPolicy
from simbench.rollout import run_episode

os.environ.setdefault("MUJOCO_GL", "egl")  # headless rendering; must be set before MuJoCo renders


def make_env(name: str = "teabag_mug", overrides: dict[str, Any] | None = None) -> SchedulerEnv:
    """The scene through the env registry (the scheduler's adapter), configured from
    ``conf/env/<name>.yaml``."""
    from simbench.config.build import load_option
    from simbench.registry import ENVS, resolve

    node: dict[str, Any] = {"name": name, **(load_option("env", name) or {}), **(overrides or {})}
    return resolve(ENVS, "env", name).from_config(node)


def subset(plan: list[dict[str, Any]], n: int | None) -> list[dict[str, Any]]:
    """``n`` episodes spread evenly over the plan (all when n is None or >= len(plan))."""
    if n is None or n >= len(plan):
        return plan
    idx = np.linspace(0, len(plan) - 1, n).round().astype(int)
    return [plan[i] for i in idx]


def record_and_print(results: dict[str, dict[str, Any]], name: str, res: dict[str, Any]) -> None:
    """Add ``res`` to ``results`` with its paired difference against the first entry (same starts:
    the sharp comparison), and print its line."""
    if results:
        first = next(iter(results))
        res["paired_vs_first"] = {"reference": first, **paired_difference(results[first]["rows"], res["rows"])}
    results[name] = res
    splits = " ".join(f"{k[8:]} {v:.2f}" for k, v in res.items() if k in ("success_test", "success_val"))
    lifted = f", bag lifted in {res['lifted_rate']:.2f}" if "lifted_rate" in res else ""
    paired = ""
    if "paired_vs_first" in res:
        p = res["paired_vs_first"]
        paired = f", vs {p['reference']} {100 * p['diff']:+.0f} +- {100 * p['stderr']:.0f} points"
    print(
        f"{name:<18} success {res['success_rate']:.2f} +- {res['success_stderr']:.2f} ({splits}){lifted}{paired} over "
        f"{res['episodes']} episodes, {res.get('wall_s', 0.0):.0f} s",
        flush=True,
    )


def score_into(
    results: dict[str, dict[str, Any]],
    name: str,
    policy: ChunkPolicy,
    env: SchedulerEnv,
    n_action_steps: int,
    episodes: int | None = None,
    seed: int = 0,
    repeats: int = 1,
    progress: bool = False,
) -> dict[str, Any]:
    """One table row: :func:`evaluate` ``policy`` (timed), then :func:`record_and_print` it into
    ``results`` (paired against the first row: the same starts)."""
    t0 = time.time()
    res = evaluate(policy, env, n_action_steps, episodes, seed, progress=progress, repeats=repeats)
    res["wall_s"] = time.time() - t0
    record_and_print(results, name, res)
    return res


def protocol_passes(plan_length: int, episodes: int | None) -> tuple[int, int | None]:
    """(passes, episodes per pass) that give ``episodes`` in all: more episodes than the protocol
    holds means more passes over it (each with its own start seeds), not a silent cap at one pass."""
    if episodes is None or episodes <= plan_length:
        return 1, episodes
    passes = -(-episodes // plan_length)
    return passes, -(-episodes // passes)


def evaluate(policy: ChunkPolicy, env: SchedulerEnv, n_action_steps: int, episodes: int | None = None, seed: int = 0,
             progress: bool = False, repeats: int = 1) -> dict[str, Any]:
    """Success rate overall and per split over the env's protocol (or an even subset of it).

    ``episodes`` beyond the protocol's length means more passes over it (``protocol_passes``);
    ``repeats`` > 1 runs that again. Pass k uses start seeds ``seed + 100 k``: 30 episodes give a
    binomial standard error of ~9 points, too coarse to tell precisions apart.
    """
    full = env.episode_plan()
    passes, per_pass = protocol_passes(len(full), episodes)
    plan = subset(full, per_pass)
    rows = []
    from tqdm import tqdm

    runs = [(seed + 100 * k + i, options) for k in range(repeats * passes) for i, options in enumerate(plan)]
    for episode_seed, options in tqdm(runs, desc=f"eval {policy.name}", disable=not progress, leave=False):
        row = run_episode(env, policy, episode_seed, dict(options), n_action_steps)
        row["split"] = str(options.get("split", "all"))
        rows.append(row)
    rate = float(np.mean([r["success"] for r in rows]))
    result: dict[str, Any] = {"success_rate": rate, "episodes": len(rows),
                              "success_stderr": float(np.sqrt(rate * (1 - rate) / len(rows)))}
    if all("lifted" in r for r in rows):
        result["lifted_rate"] = float(np.mean([r["lifted"] for r in rows]))
    for split in sorted({r["split"] for r in rows}):
        sel = [r["success"] for r in rows if r["split"] == split]
        result[f"success_{split}"] = float(np.mean(sel))
        result[f"n_{split}"] = len(sel)
    result["rows"] = rows
    return result


def paired_difference(reference: list[dict[str, Any]], other: list[dict[str, Any]]) -> dict[str, float]:
    """Success of ``other`` minus ``reference`` over the same starts (row by row), with its standard
    error: far tighter than comparing two rates, since both policies meet the same easy and hard starts."""
    if len(reference) != len(other):
        raise ValueError(f"paired difference needs the same starts: {len(reference)} vs {len(other)} episodes")
    d = np.array([float(b["success"]) - float(a["success"]) for a, b in zip(reference, other)])
    stderr = float(d.std(ddof=1) / np.sqrt(len(d))) if len(d) > 1 else float("nan")
    return {"diff": float(d.mean()), "stderr": stderr}


def deployment_horizon(policy_name: str) -> tuple[int | None, int | None]:
    """(actions_per_chunk, n_action_steps) in control ticks from ``conf/policy/<policy_name>.yaml``;
    (None, None) when no such config exists (the evaluation then uses the model's whole chunk)."""
    from simbench.config.build import load_option

    node = load_option("policy", policy_name) or {}
    apc = node.get("actions_per_chunk")
    steps = node.get("n_action_steps", apc)
    return (None if apc is None else int(apc)), (None if steps is None else int(steps))


def make_eval_fn(episodes: int, seed: int = 0, env_name: str = "teabag_mug",
                 eval_policy: str | None = None) -> Callable[[Any, int], dict[str, float]]:
    """The trainer's hook: evaluate the in-training ACTPolicy through the torch runtime.

    ``eval_policy`` names the deployment config whose horizon (actions_per_chunk, n_action_steps)
    the evaluation uses, so the checkpoint is chosen the way it will run. The scene's class is
    imported now, so a missing scene fails before training starts, not at the first evaluation.
    """
    from simbench.errors import ConfigError, bad_value
    from simbench.registry import ENVS, resolve

    try:
        try:
            resolve(ENVS, "env", env_name)
        except ImportError:
            import simbench.envs.teabag_mug  # noqa: F401  (GymSyncEnv's fallback)
    except ImportError as err:
        raise ConfigError(f"closed-loop evaluation needs the {env_name} scene, which cannot be imported ({err}); "
                          "train with eval_every=0 to pick the checkpoint by validation loss") from None
    apc, n_steps_cfg = deployment_horizon(eval_policy) if eval_policy else (None, None)
    if eval_policy and apc is None and n_steps_cfg is None:
        raise bad_value("eval_policy", eval_policy, "name a config in conf/policy/ (e.g. act_fp32)")
    state: dict[str, Any] = {}

    def eval_fn(act_policy: Any, fps: int) -> dict[str, float]:
        from simbench.policies.torch_policy import TorchChunkPolicy

        if "env" not in state:
            state["env"] = make_env(env_name)
        env = state["env"]
        cfps = control_hz(env)
        horizon = int(act_policy.config.chunk_size * cfps / fps)
        horizon = min(horizon, apc) if apc else horizon
        runtime = TorchChunkPolicy(act_policy, fps, name="act_train", actions_per_chunk=horizon, control_hz=cfps)
        n_steps = min(horizon, n_steps_cfg) if n_steps_cfg else horizon
        res = evaluate(runtime, env, n_steps, episodes, seed)
        return {k: v for k, v in res.items() if isinstance(v, float)}

    return eval_fn


def _check_options(episodes: int | None, seed: int, repeats: int, threads: int | None,
                   n_action_steps: int | None, json_path: str | None) -> None:
    """Every option in range and the --json destination writable, before anything is evaluated."""
    from simbench import bounds
    from simbench.run_dir import check_dir_path

    if episodes is not None:
        bounds.integer(episodes, "--episodes", 1, 100_000)
    bounds.integer(seed, "--seed", 0, 2**31 - 1)
    bounds.integer(repeats, "--repeats", 1, 1_000)
    if threads is not None:
        bounds.integer(threads, "--threads", 1, 256)
    if n_action_steps is not None:
        bounds.integer(n_action_steps, "--n-action-steps", 1, 10_000)
    if json_path is not None:
        path = Path(json_path)
        if path.is_dir() or not path.name:
            raise bad_value("--json", json_path, "is a directory; give a file path")
        check_dir_path(path.parent, "--json")


def evaluate_named(policies: list[str], episodes: int | None = None, seed: int = 0, repeats: int = 1,
                   threads: int | None = None, n_action_steps: int | None = None, model_path: str | None = None,
                   json_path: str | None = None) -> dict[str, dict[str, Any]]:
    """Score shipped policy configs (``NAME`` or ``NAME=FILE.onnx``) on the scene's protocol, one
    printed line each, the first as the paired reference (``python -m simbench eval``)."""
    from simbench.atomic_io import write_json
    from simbench.config.options import available, load_option
    from simbench.errors import ConfigError, unknown_name
    from simbench.policies.onnx_model import resolve_model_path
    from simbench.registry import POLICY_RUNTIMES, resolve

    _check_options(episodes, seed, repeats, threads, n_action_steps, json_path)
    configs: dict[str, dict[str, Any]] = {}
    for spec in policies:
        name, _, model = spec.partition("=")
        model = model or model_path
        if model:
            try:
                model = str(resolve_model_path(model))
            except ConfigError as err:
                raise ConfigError(f"{err} (for policy {name})") from None
        cfg = load_option("policy", name, {"model_path": model} if model else None)
        if cfg is None:
            raise unknown_name("policy", name, available("policy"))
        if spec in configs:
            raise ConfigError(f"{spec} is named twice")
        configs[spec] = cfg
    env = make_env()
    results: dict[str, dict[str, Any]] = {}
    try:
        for name, cfg in configs.items():
            cfg["fps"] = control_hz(env)
            if threads:
                cfg["threads"] = threads
            policy = resolve(POLICY_RUNTIMES, "policy.runtime", cfg.get("runtime", "onnx")).from_config(cfg, env)
            n_steps = n_action_steps if n_action_steps is not None else int(cfg.get("n_action_steps",
                                                                                    policy.actions_per_chunk))
            if n_steps > policy.actions_per_chunk:
                raise bad_value("--n-action-steps", n_steps, f"must be <= {name}'s actions per chunk "
                                f"({policy.actions_per_chunk})")
            score_into(results, name, policy, env, n_steps, episodes, seed, repeats, progress=True)
    finally:
        env.close()
    if json_path:
        from simbench.provenance import versions

        command = "python -m simbench eval " + " ".join(policies) + f" --repeats {repeats}"
        write_json(Path(json_path), {"command": command, "versions": versions(), "policies": results})
    return results


def main(argv: list[str] | None = None) -> int:
    """``python -m simbench.training.evaluate ...``: the same as ``python -m simbench eval ...``."""
    from simbench.__main__ import main as simbench_main

    return simbench_main(["eval", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
