"""Where quantization error enters a flow-matching VLA, and whether it accumulates over the denoising steps.

For each precision recipe (a precision per component: vision, prefill, expert; conf/export.yaml
``smolvla_variants``, all built from the shipped fp32 graphs in simbench/models/smolvla/), on
held-out observations (the scripted expert's episodes in the held-out cluster 6, rendered here),
with the same initial noise as fp32:

* per denoising step k: the velocity error |v_q - v_fp32| and the accumulated error
  |x_t,q - x_t,fp32| along the Euler path (normalized action units, mean over actions and frames);
* the final chunk's action error (radians) against fp32;
* the same with 5 and 3 steps (against fp32 at the same step count);
* host latency per component (one thread, median);
* every path starts where the runtime starts it (``noise_scale`` x N(0, I); the shipped 0: the mean);
* with ``--per-step-calibration``, the int8 expert calibrated separately at each step (Q-Diffusion's
  remedy for ranges that drift over timesteps) beside the pooled calibration;
* closed-loop success per recipe (ideal timing, the protocol x ``--success-passes``), paired
  against fp32.

    python benchmarks/flow_precision.py --json results/reference/flow_precision.json

A plot of error vs step per recipe goes next to the JSON (``.png``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("MUJOCO_GL", "egl")

from simbench.paths import CONF_DIR, MODELS_DIR
from simbench.policies.smolvla.onnx_runtime import COMPONENTS, SmolVLAOnnxPolicy

STEPS = (10, 5, 3)


def recipes() -> dict[str, dict[str, str]]:
    import yaml

    node = yaml.safe_load((CONF_DIR / "export.yaml").read_text())["smolvla_variants"]
    return {name: {c: (spec or {}).get(c, "fp32") for c in COMPONENTS} for name, spec in node.items()}


def held_out_observations(episodes: int, frames: int, cameras: tuple[str, ...], size: tuple[int, int],
                          seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(N, S) states and (N, n_cam, h, w, 3) images from the expert's episodes in the held-out cluster."""
    from simbench.envs.teabag_mug import TeaBagMugEnv
    from simbench.envs.workspace import VALIDATION_CLUSTER
    from simbench.expert.rollout import run_expert_episode

    env = TeaBagMugEnv(cameras=cameras, image_height=size[0], image_width=size[1])
    states, images = [], []
    try:
        for i in range(episodes):
            ep = run_expert_episode(env, seed=seed * 1000 + i, options={"cluster": VALIDATION_CLUSTER, "start": "table",
                                                                         "start_index": i}, record_every=2, cameras=cameras)
            pick = np.linspace(0, len(ep.states) - 1, frames).round().astype(int)
            states.append(np.asarray(ep.states, np.float32)[pick])
            images.append(np.stack([np.asarray(ep.images[c])[pick] for c in cameras], axis=1))
    finally:
        env.close()
    return np.concatenate(states), np.concatenate(images)


def path_errors(ref: list[dict[str, Any]], out: list[dict[str, Any]], noise: np.ndarray) -> dict[str, Any]:
    """Per-step velocity and accumulated state error (normalized units), final chunk error (raw units)."""
    v_err, x_err = [], []
    for r, o, z in zip(ref, out, noise):
        n = len(r["v"])
        xr = xq = z[None].astype(np.float64)
        ve, xe = [], []
        for k in range(n):
            ve.append(float(np.abs(o["v"][k] - r["v"][k]).mean()))
            xr = xr - r["v"][k] / n
            xq = xq - o["v"][k] / n
            xe.append(float(np.abs(xq - xr).mean()))
        v_err.append(ve)
        x_err.append(xe)
    chunk = np.concatenate([np.abs(o["chunk"] - r["chunk"]) for r, o in zip(ref, out)])
    return {"velocity_error": np.mean(v_err, axis=0).tolist(), "accumulated_error": np.mean(x_err, axis=0).tolist(),
            "chunk_error_mean": float(chunk.mean()), "chunk_error_max": float(chunk.max())}


def per_step_expert(fp32_expert: Path, ref: list[dict[str, Any]], noise: np.ndarray, n: int, tmp: Path) -> list[Any]:
    """One int8 expert per denoising step, each calibrated on that step's inputs only."""
    from simbench.export.smolvla import build_component
    from simbench.policies.onnx_model import load_session

    sessions = []
    for k in range(n):
        feeds = []
        for r, z in zip(ref, noise):
            x = z[None].astype(np.float32)
            for j in range(k):
                x = (x - r["v"][j] / n).astype(np.float32)
            feeds.append({"x_t": x, "t": np.array([1.0 - k / n], np.float32), "kv": r["kv"]})
        path = build_component(fp32_expert, tmp / f"expert_int8_step{k}.onnx", "int8", feeds)
        sessions.append(load_session(path, 1))
    return sessions


def run_per_step(policy: SmolVLAOnnxPolicy, sessions: list[Any], state: np.ndarray, images: np.ndarray,
                 noise: np.ndarray) -> dict[str, Any]:
    out = policy.trace(state, images, noise, num_steps=1)  # vision + prefill (one expert step, discarded)
    x, vs, n = noise.astype(np.float32), [], len(sessions)
    for k, sess in enumerate(sessions):
        v = sess.run(None, {"x_t": x, "t": np.array([1.0 - k / n], np.float32), "kv": out["kv"]})[0]
        vs.append(v)
        x = (x - v / n).astype(np.float32)
    return {"v": np.stack(vs), "chunk": x * policy.action_std + policy.action_mean}


def latency(policy: SmolVLAOnnxPolicy, state: np.ndarray, images: np.ndarray, noise: np.ndarray,
            repeats: int) -> dict[str, float]:
    for i in range(3):
        policy.trace(state[i % len(state)][None], images[i % len(state)][None], noise[i % len(state)][None])
    rows = []
    for i in range(repeats):
        j = i % len(state)
        rows.append(policy.trace(state[j][None], images[j][None], noise[j][None])["seconds"])
    med = {c: float(np.median([r[c] for r in rows])) * 1e3 for c in COMPONENTS}
    med["total"] = float(np.median([sum(r.values()) for r in rows])) * 1e3
    return med


def closed_loop(names: dict[str, dict[str, str]], passes: int) -> dict[str, Any]:
    from simbench.envs.base import control_hz
    from simbench.training.evaluate import make_env, score_into

    env = make_env()
    results: dict[str, Any] = {}
    try:
        for name, comps in names.items():
            policy = SmolVLAOnnxPolicy.from_config({"model_path": "smolvla", "component_precision": comps, "name": name,
                                                     "actions_per_chunk": 50, "fps": control_hz(env)}, env)
            score_into(results, name, policy, env, 50, episodes=None, seed=0, repeats=passes, progress=True)
    finally:
        env.close()
    for res in results.values():
        res.pop("rows", None)
    return results


def plot(report: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for name, r in report["recipes"].items():
        if name == "fp32":
            continue
        e = r["steps"]["10"]
        axes[0].plot(range(1, 11), e["velocity_error"], marker="o", label=name)
        axes[1].plot(range(1, 11), e["accumulated_error"], marker="o", label=name)
    axes[0].set(title="velocity error |v_q - v_fp32| per step", xlabel="denoising step (t = 1 -> 0)",
                ylabel="mean |error| (normalized)", yscale="log")
    axes[1].set(title="accumulated error |x_t,q - x_t,fp32|", xlabel="denoising step", yscale="log")
    axes[1].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--json", type=Path, help="write the report here (and a .png plot beside it)")
    ap.add_argument("--episodes", type=int, default=4, help="held-out expert episodes")
    ap.add_argument("--frames", type=int, default=12, help="observations per episode")
    ap.add_argument("--latency-repeats", type=int, default=30)
    ap.add_argument("--success-passes", type=int, default=0,
                    help="closed-loop success on the protocol x N per shipped runtime variant (0: skip)")
    ap.add_argument("--per-step-calibration", action="store_true", help="also an int8 expert calibrated per step")
    args = ap.parse_args(argv)
    for key in ("episodes", "frames", "latency_repeats"):
        if getattr(args, key) < 1:
            print(f"error: --{key.replace('_', '-')}={getattr(args, key)} must be >= 1", file=sys.stderr)
            return 2
    table = recipes()
    root = MODELS_DIR / "smolvla"
    fp32 = SmolVLAOnnxPolicy.from_config({"model_path": "smolvla", "component_precision": table["fp32"]})
    t0 = time.time()
    state, images = held_out_observations(args.episodes, args.frames, fp32.cameras, fp32.image_size)
    # the paths the runtime takes: noise_scale x N(0, I) (the shipped 0 starts at the mean)
    noise = (fp32.noise_scale * np.random.default_rng(0).standard_normal(
        (len(state), fp32.chunk_size, fp32.action_dim))).astype(np.float32)
    print(f"{len(state)} held-out observations ({args.episodes} expert episodes in cluster 6), "
          f"{time.time() - t0:.0f} s", flush=True)
    refs = {n: [fp32.trace(state[i][None], images[i][None], noise[i][None], num_steps=n) for i in range(len(state))]
            for n in STEPS}
    report: dict[str, Any] = {"observations": len(state), "steps": list(STEPS), "recipes": {}}
    runs = dict(table)
    if args.per_step_calibration:
        runs["expert_int8_per_step"] = {"vision": "fp32", "prefill": "fp32", "expert": "int8 per step"}
    print(f"{'recipe':<22}{'vision':<13}{'prefill':<13}{'expert':<14}{'v err s1':>9}{'v err s10':>10}"
          f"{'x err s10':>10}{'chunk rad':>10}{'5 st':>8}{'3 st':>8}{'ms':>7}")
    for name, comps in runs.items():
        entry: dict[str, Any] = {"component_precision": comps, "steps": {}}
        if comps["expert"] == "int8 per step":
            with tempfile.TemporaryDirectory() as tmp:
                for n in STEPS:
                    sessions = per_step_expert(root / "expert_fp32.onnx", refs[n], noise, n, Path(tmp))
                    out = [run_per_step(fp32, sessions, state[i][None], images[i][None], noise[i][None])
                           for i in range(len(state))]
                    entry["steps"][str(n)] = path_errors(refs[n], out, noise)
            entry["latency_ms"] = None
        else:
            policy = SmolVLAOnnxPolicy.from_config({"model_path": "smolvla", "component_precision": comps})
            for n in STEPS:
                out = [policy.trace(state[i][None], images[i][None], noise[i][None], num_steps=n)
                       for i in range(len(state))]
                entry["steps"][str(n)] = path_errors(refs[n], out, noise)
            entry["latency_ms"] = latency(policy, state, images, noise, args.latency_repeats)
        report["recipes"][name] = entry
        s = entry["steps"]
        ms = f"{entry['latency_ms']['total']:>7.1f}" if entry["latency_ms"] else f"{'-':>7}"
        print(f"{name:<22}{comps['vision']:<13}{comps['prefill']:<13}{comps['expert']:<14}"
              f"{s['10']['velocity_error'][0]:>9.4f}{s['10']['velocity_error'][-1]:>10.4f}"
              f"{s['10']['accumulated_error'][-1]:>10.4f}{s['10']['chunk_error_mean']:>10.4f}"
              f"{s['5']['chunk_error_mean']:>8.4f}{s['3']['chunk_error_mean']:>8.4f}{ms}", flush=True)
    if args.success_passes > 0:
        shipped = {n: table[n] for n in ("fp32", "mixed", "int8", "expert_int8") if n in table}
        report["success"] = closed_loop(shipped, args.success_passes)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=1))
        plot(report, args.json.with_suffix(".png"))
        print(f"wrote {args.json} and {args.json.with_suffix('.png')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
