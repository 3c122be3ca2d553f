"""How fast a policy's plan goes stale: a k-tick-old chunk against a fresh one, along real episodes.

    python benchmarks/chunk_staleness.py act_int8 smolvla_mixed scripted --episodes 10 \
        --json results/reference/chunk_staleness.json --plot docs/images/2026-12-06-chunk-staleness.png

Each policy drives the scene synchronously at zero latency (``n_action_steps`` per chunk, as its config
says) and, every ``--every`` ticks, also predicts a chunk from the current observation. For every pair
of chunks k ticks apart, the gap is the mean L2 distance (rad, over the 6 joints) between what the old
chunk planned for the next ``--window`` ticks and what the fresh one plans for the same ticks:
``|C_t[k + j] - C_(t+k)[j]|``. Async executes a chunk's positions from d (the delay) to its end, so
this is what executing a k-tick-old plan costs. ``scripted`` (the state-based expert) is the floor:
its plans change only as the world does.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

os.environ.setdefault("MUJOCO_GL", "egl")


def main(argv: list[str] | None = None) -> int:
    from simbench.atomic_io import write_json
    from simbench.config.build import load_option
    from simbench.envs.base import control_hz
    from simbench.errors import ConfigError
    from simbench.policies.request import PolicyRequest
    from simbench.provenance import versions
    from simbench.registry import POLICY_RUNTIMES, resolve
    from simbench.training.evaluate import make_env

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("policies", nargs="+")
    parser.add_argument("--episodes", type=int, default=10)
    parser.add_argument("--every", type=int, default=5)
    parser.add_argument("--window", type=int, default=10)
    parser.add_argument("--max-k", type=int, default=80)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--plot", type=Path, default=None)
    args = parser.parse_args(argv)

    env = make_env()
    plan = env.episode_plan()[: args.episodes]
    ks = list(range(args.every, args.max_k + 1, args.every))
    out: dict[str, dict[str, float]] = {}
    for name in args.policies:
        try:
            cfg = load_option("policy", name)
            cfg["fps"] = control_hz(env)
            policy = resolve(POLICY_RUNTIMES, "policy.runtime", cfg.get("runtime", "timing")).from_config(cfg, env)
        except ConfigError as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
        n_steps = int(cfg.get("n_action_steps", 50))
        gaps: dict[int, list[float]] = {k: [] for k in ks}
        for ep, options in enumerate(plan):
            env.reset(ep, options)
            policy.reset(ep)
            chunks: dict[int, np.ndarray] = {}
            tick = 0
            current = None
            while not env.done:
                if tick % args.every == 0 or tick % n_steps == 0:
                    obs = env.observation(env.snapshot())
                    chunk = np.asarray(policy.predict_chunk(PolicyRequest(obs, tick)), np.float64)
                    if tick % args.every == 0:
                        chunks[tick] = chunk
                    if tick % n_steps == 0:
                        current = chunk
                assert current is not None
                env.apply(current[tick % n_steps])
                tick += 1
            for t, old in chunks.items():
                for k in ks:
                    fresh = chunks.get(t + k)
                    if fresh is None or k + args.window > len(old):
                        continue
                    d = old[k : k + args.window] - fresh[: args.window]
                    gaps[k].append(float(np.mean(np.linalg.norm(d, axis=1))))
        out[name] = {str(k): float(np.mean(v)) for k, v in gaps.items() if v}
        print(f"{name}: " + ", ".join(f"k={k}: {out[name][str(k)]:.3f}" for k in ks if str(k) in out[name]
                                     and k in (10, 20, 40, 60, 80)), flush=True)
    env.close()
    if args.json:
        write_json(args.json, {"command": "python benchmarks/chunk_staleness.py " + " ".join(sys.argv[1:]),
                               "versions": versions({}), "gap_rad_by_k_ticks": out})
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(7, 4))
        for name, g in out.items():
            ax.plot([int(k) / 60 for k in g], list(g.values()), marker="o", label=name)
        ax.set_xlabel("age of the plan (s of execution since its observation)")
        ax.set_ylabel("gap to a fresh plan, next 10 ticks (rad)")
        ax.grid(alpha=0.3)
        ax.legend()
        fig.tight_layout()
        args.plot.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(args.plot, dpi=120)
    return 0


if __name__ == "__main__":
    sys.exit(main())
