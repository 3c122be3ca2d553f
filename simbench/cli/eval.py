"""``python -m simbench eval act_fp32 act_int8 ...``: ideal-timing success of shipped policies in the scene.

Each policy runs the published protocol synchronously at zero latency (:mod:`simbench.training.evaluate`)
and gets one line: success with its standard error, per split, and the paired difference against the
first policy on the same starts. ``--episodes N`` spreads N episodes over the protocol (more passes
beyond its 30), ``--repeats N`` runs it with N start seeds, ``--n-action-steps`` / ``--model-path``
override the config, ``--json PATH`` writes every row. ``python -m simbench.training.evaluate`` is the
same command.
"""

from __future__ import annotations

import argparse


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m simbench eval", description=__doc__.splitlines()[0])
    parser.add_argument("policies", nargs="+", help="policy config names (conf/policy/), e.g. act_fp32 act_int8; "
                        "NAME=FILE.onnx runs config NAME on another model")
    parser.add_argument("--episodes", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=1, help="run the protocol N times (start seeds seed + 100 k)")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--n-action-steps", type=int, default=None,
                        help="control ticks executed per chunk (default: the config's)")
    parser.add_argument("--model-path", default=None,
                        help="ONNX file instead of the config's model_path (e.g. an older model)")
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    from simbench.training.evaluate import evaluate_named

    evaluate_named(args.policies, args.episodes, args.seed, args.repeats, args.threads, args.n_action_steps,
                   args.model_path, args.json)
    return 0
