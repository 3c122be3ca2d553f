"""``python -m simbench train +policy=act|smolvla [overrides]``: train a policy on a recorded dataset.

``+policy=smolvla +recipe=smolvla`` trains the shipped SmolVLA-style policy; without ``+policy`` ACT.

Everything is validated (configs, dataset path, cameras) before any file is written
(:mod:`simbench.training.from_config`).
"""

from __future__ import annotations


def main(argv: list[str]) -> int:
    if any(a in ("-h", "--help") for a in argv):
        print(__doc__.strip())
        print("\noptions: conf/train.yaml (key=value), model sizes: conf/policy/act.yaml or smolvla.yaml (policy.key=value)")
        return 0
    if not any(a.startswith(("+policy=", "policy=")) for a in argv):
        argv = ["+policy=act", *argv]
    from simbench.config.compose import compose_dict
    from simbench.training.from_config import train_from_config

    result = train_from_config(compose_dict("train", argv))
    print(
        f"done: step {result.step}, val_loss {result.val_loss}, best success {result.best_success}, "
        f"best checkpoint {result.best_path} ({result.seconds:.0f} s)"
    )
    return 0
