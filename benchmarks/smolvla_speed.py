"""SmolVLA speed on this host, ratios taken in one run (one ONNX Runtime thread, the same inputs).

1. Per chunk, per shipped variant: vision, prefill, 10 expert steps, total (median of --repeats),
   and each variant's speed-up over smolvla_fp32.
2. KV reuse: the prefill once and N expert steps, against re-running the whole network (vision,
   prefill, expert) at every denoising step, for N = 10, 5, 3.
3. Closed loop: ideal-timing scene episodes with smolvla_mixed, simulated seconds per wall second
   (the real-time factor) on one core.

    python benchmarks/smolvla_speed.py --json results/reference/smolvla_speed.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("MUJOCO_GL", "egl")

from simbench.config.options import load_option
from simbench.policies.smolvla.onnx_runtime import COMPONENTS, SmolVLAOnnxPolicy

VARIANTS = ("smolvla_fp32", "smolvla_mixed", "smolvla_int8", "smolvla_expert_int8")


def open_variant(name: str, model_path: str | None) -> SmolVLAOnnxPolicy:
    cfg = load_option("policy", name) or {}
    if model_path:
        cfg["model_path"] = model_path
    return SmolVLAOnnxPolicy.from_config({**cfg, "threads": 1})


def inputs(policy: SmolVLAOnnxPolicy, n: int, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(seed)
    h, w = policy.image_size
    return [(rng.normal(0, 0.3, (1, policy.state_dim)).astype(np.float32),
             rng.integers(0, 256, (1, len(policy.cameras), h, w, 3), dtype=np.uint8),
             rng.standard_normal((1, policy.chunk_size, policy.action_dim)).astype(np.float32)) for _ in range(n)]


def per_chunk(policies: dict[str, SmolVLAOnnxPolicy], feeds: list, repeats: int) -> dict[str, dict[str, float]]:
    """Median ms per component; the variants interleaved so that machine load hits them alike."""
    rows: dict[str, list[dict[str, float]]] = {n: [] for n in policies}
    for p in policies.values():
        for f in feeds[:3]:
            p.trace(*f)
    for i in range(repeats):
        for name, p in policies.items():
            rows[name].append(p.trace(*feeds[i % len(feeds)])["seconds"])
    out = {}
    for name, r in rows.items():
        out[name] = {c: 1e3 * float(np.median([x[c] for x in r])) for c in COMPONENTS}
        out[name]["total"] = 1e3 * float(np.median([sum(x.values()) for x in r]))
    return out


def kv_reuse(policy: SmolVLAOnnxPolicy, feeds: list, repeats: int) -> dict[str, dict[str, float]]:
    """Prefill once + N expert steps vs the whole network per step (what a single-graph export runs)."""
    out = {}
    for n in (10, 5, 3):
        cached, whole = [], []
        for i in range(repeats):
            f = feeds[i % len(feeds)]
            t0 = time.perf_counter()
            policy.trace(*f, num_steps=n)
            t1 = time.perf_counter()
            for _ in range(n):
                policy.trace(*f, num_steps=1)
            t2 = time.perf_counter()
            cached.append(t1 - t0)
            whole.append(t2 - t1)
        c, w = 1e3 * float(np.median(cached)), 1e3 * float(np.median(whole))
        out[str(n)] = {"prefill_once_ms": c, "whole_network_per_step_ms": w, "speedup": w / c}
    return out


def closed_loop(model_path: str | None, episodes: int) -> dict[str, float]:
    from simbench.envs.base import control_hz
    from simbench.rollout import run_episode
    from simbench.training.evaluate import make_env

    env = make_env()
    try:
        cfg = load_option("policy", "smolvla_mixed") or {}
        if model_path:
            cfg["model_path"] = model_path
        policy = SmolVLAOnnxPolicy.from_config({**cfg, "threads": 1, "fps": control_hz(env)}, env)
        plan = env.episode_plan()[:episodes]
        sim_s, t0, success = 0.0, time.perf_counter(), 0
        for i, options in enumerate(plan):
            row = run_episode(env, policy, i, dict(options), int(cfg.get("n_action_steps", 50)))
            sim_s += float(row["ticks"]) / control_hz(env)
            success += int(row["success"])
        wall = time.perf_counter() - t0
    finally:
        env.close()
    return {"episodes": len(plan), "sim_s": sim_s, "wall_s": wall, "realtime_factor": sim_s / wall,
            "success": success}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--json", type=Path)
    ap.add_argument("--repeats", type=int, default=40)
    ap.add_argument("--episodes", type=int, default=3, help="scene episodes for the real-time factor (0: skip)")
    ap.add_argument("--model-path", help="another export directory (default: the shipped simbench/models/smolvla)")
    args = ap.parse_args(argv)
    if args.repeats < 1 or args.episodes < 0:
        print("error: --repeats must be >= 1 and --episodes >= 0", file=sys.stderr)
        return 2
    import onnxruntime

    policies = {n: open_variant(n, args.model_path) for n in VARIANTS}
    feeds = inputs(policies["smolvla_fp32"], 8)
    report: dict[str, Any] = {"onnxruntime": onnxruntime.__version__, "threads": 1, "cpu": os.cpu_count()}
    chunk = per_chunk(policies, feeds, args.repeats)
    base = chunk["smolvla_fp32"]["total"]
    print(f"{'variant':<22}{'vision':>8}{'prefill':>9}{'expert x10':>11}{'total ms':>10}{'vs fp32':>9}")
    for name, r in chunk.items():
        r["speedup_vs_fp32"] = base / r["total"]
        print(f"{name:<22}{r['vision']:>8.2f}{r['prefill']:>9.2f}{r['expert']:>11.2f}{r['total']:>10.2f}"
              f"{r['speedup_vs_fp32']:>8.2f}x")
    report["per_chunk_ms"] = chunk
    report["kv_reuse"] = kv_reuse(policies["smolvla_mixed"], feeds, max(5, args.repeats // 4))
    for n, r in report["kv_reuse"].items():
        print(f"{n:>2} steps: prefill once {r['prefill_once_ms']:.1f} ms, whole network per step "
              f"{r['whole_network_per_step_ms']:.1f} ms ({r['speedup']:.2f}x)")
    if args.episodes:
        report["closed_loop"] = cl = closed_loop(args.model_path, args.episodes)
        print(f"closed loop smolvla_mixed: {cl['episodes']} episodes, {cl['sim_s']:.1f} s simulated in "
              f"{cl['wall_s']:.1f} s wall: {cl['realtime_factor']:.1f}x real time")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
