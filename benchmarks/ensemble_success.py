"""Ideal-timing success of ACT exports alone and as an ensemble (mean chunk), on the same starts.

    python benchmarks/ensemble_success.py simbench/models/act/act_fp32.onnx /tmp/a/act_fp32.onnx /tmp/b/act_fp32.onnx \
        --repeats 10 --json results/reference/ensemble_x10.json

Each member runs the protocol alone, then the ensemble of all of them (``runtime: ensemble``,
:class:`simbench.policies.ensemble_policy.EnsembleChunkPolicy`) and, with ``--prefixes``, the
ensembles of the first 2, 3, ... members. Every row is paired against the first member (the same
starts), with the act_fp32 config's deployment horizon. Prints a table; ``--json`` keeps the rows.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("MUJOCO_GL", "egl")


def main(argv: list[str] | None = None) -> int:
    from simbench.atomic_io import write_json
    from simbench.config.build import load_option
    from simbench.envs.base import control_hz
    from simbench.errors import ConfigError
    from simbench.policies.act.onnx_runtime import ACTOnnxPolicy
    from simbench.policies.ensemble_policy import EnsembleChunkPolicy
    from simbench.training.evaluate import make_env, score_into

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("members", nargs="+", help="ACT ONNX exports (the first is the paired reference)")
    parser.add_argument("--config", default="act_fp32", help="policy config whose horizon and threads are used")
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--prefixes", action="store_true", help="also the ensembles of the first 2, 3, ... members")
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)

    env = make_env()
    cfg = load_option("policy", args.config)
    cfg["fps"] = control_hz(env)
    try:
        singles = [ACTOnnxPolicy.from_config({**cfg, "model_path": m}, env) for m in args.members]
        sizes = range(2, len(singles) + 1) if args.prefixes else [len(singles)]
        runs = [(f"member {i}: {m}", p) for i, (m, p) in enumerate(zip(args.members, singles))]
        runs += [(f"ensemble of the first {k}", EnsembleChunkPolicy(singles[:k])) for k in sizes if k >= 2]
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    n_steps = int(cfg.get("n_action_steps", singles[0].actions_per_chunk))
    results: dict[str, dict] = {}
    for name, policy in runs:
        score_into(results, name, policy, env, n_steps, seed=args.seed, repeats=args.repeats)
    if args.json:
        write_json(Path(args.json), results)
    env.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
