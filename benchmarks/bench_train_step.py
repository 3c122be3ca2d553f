"""Seconds per ACT training step on this host, dropout on and off, in one run.

Why it exists: on a CPU, dropout's random masks (``aten::bernoulli_``) are a large share of a
training step of the small default ACT, so whether a recipe keeps dropout decides how many steps an
hour buys. Same model (``conf/policy/act.yaml``), same random batch, same optimizer; the two
settings alternate in blocks so both see the same machine load.

    python benchmarks/bench_train_step.py [--batch 16] [--steps 15] [--rounds 3] [--threads 2] [--recipe act_wide]

``--recipe NAME`` times the model sizes that ``+recipe=NAME`` trains (conf/recipe/) instead of the default.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--steps", type=int, default=15, help="timed steps per block")
    parser.add_argument("--rounds", type=int, default=3, help="alternating blocks per setting")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--recipe", default=None, help="time the sizes of +recipe=NAME (conf/recipe/)")
    args = parser.parse_args(argv)

    import torch

    from simbench.config.compose import compose_dict as compose_config
    from simbench.policies.act import ACTConfig, ACTPolicy

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    base = ACTConfig.from_dict(
        compose_config("train", ["+policy=act", *([f"+recipe={args.recipe}"] if args.recipe else [])])["policy"]
    )
    b, chunk = args.batch, base.chunk_size
    h, w = base.image_size
    batch = {"state": torch.randn(b, base.state_dim),
             "images": torch.randint(0, 256, (b, len(base.cameras), h, w, 3), dtype=torch.uint8),
             "action": torch.randn(b, chunk, base.action_dim), "action_is_pad": torch.zeros(b, chunk, dtype=torch.bool)}
    setups = {}
    for label, dropout in ((f"dropout {base.dropout:.2f}", base.dropout), ("dropout 0", 0.0)):
        policy = ACTPolicy(ACTConfig.from_dict({**base.to_dict(), "dropout": dropout})).train()
        setups[label] = (policy, torch.optim.AdamW(policy.parameters(), lr=1e-4))

    def step(policy: ACTPolicy, opt: torch.optim.Optimizer) -> None:
        loss, _ = policy(batch)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    times: dict[str, list[float]] = {k: [] for k in setups}
    for label, (policy, opt) in setups.items():  # warm-up
        for _ in range(3):
            step(policy, opt)
    for _ in range(args.rounds):
        for label, (policy, opt) in setups.items():
            t0 = time.perf_counter()
            for _ in range(args.steps):
                step(policy, opt)
            times[label].append((time.perf_counter() - t0) / args.steps)
    med = {k: float(np.median(v)) for k, v in times.items()}
    on, off = med.values()
    for label, s in med.items():
        print(
            f"{label:<14} {s:.3f} s/step  (batch {b}, {args.threads} threads, median of {args.rounds} blocks of "
            f"{args.steps})"
        )
    print(f"dropout off is {on / off:.2f}x faster per step")
    return 0


if __name__ == "__main__":
    sys.exit(main())
