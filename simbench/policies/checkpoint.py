"""Policy checkpoints: one file format for every architecture, written by training, read by export,
fine-tuning and the torch runtime.

A checkpoint is a plain dict: ``arch`` (a name in :data:`simbench.policies.factory.ARCHS`), ``config``
(the architecture's config as a dict), ``state_dict``,
``fps`` (dataset frames per second: the rate of the predicted actions), ``cameras``, ``step``,
``val_loss``, ``success``, and for ``last.pt`` the optimizer and RNG states.

Checkpoints are read with ``torch.load(weights_only=True)``: tensors, containers, numbers and
strings only. Unpickling anything else (a class, a function: what a crafted file uses to run code)
is refused, so loading a checkpoint from elsewhere (``export checkpoint=``, ``train init_from=``)
never executes it.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import torch

from simbench.errors import ConfigError, bad_value
from simbench.policies.factory import ARCHS, make_config, make_policy

__all__ = ["load_checkpoint", "read_checkpoint", "save_checkpoint"]


def save_checkpoint(path: Path, policy: torch.nn.Module, data_meta: dict[str, Any], extra: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save(
        {"arch": policy.name, "config": policy.config.to_dict(), "state_dict": policy.state_dict(), **data_meta, **extra},
        tmp,
    )
    tmp.replace(path)  # atomic: an interrupted save never leaves a half-written checkpoint


def read_checkpoint(
    path: str | Path, map_location: str | torch.device = "cpu", key: str = "checkpoint"
) -> dict[str, Any]:
    """The checkpoint dict, loaded without executing anything (``weights_only=True``); ConfigError
    naming ``key`` when the file is missing, unreadable, holds code, or is not a policy checkpoint."""
    path = Path(path)
    if not path.is_file():
        raise bad_value(key, str(path), "no such file")
    try:
        with warnings.catch_warnings():  # torch warns about a foreign pickle protocol before refusing it
            warnings.simplefilter("ignore")
            ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # noqa: BLE001 - any unpickling failure is a bad file for the user
        lines = [line.strip() for line in str(err).splitlines() if line.strip()]
        # torch's own reason: the line after its boilerplate (e.g. "unsupported GLOBAL posix.system")
        useful = [
            ln
            for ln in lines
            if not ln.startswith(("Weights only load failed", "Please file an issue", "Check the documentation"))
        ]
        detail = (useful[0] if useful else lines[0] if lines else type(err).__name__)[:160]
        why = ("is not a checkpoint the safe loader accepts (only tensors, numbers, strings and containers; "
               f"nothing in it was run): {detail}" if "Weights only load failed" in str(err)
               else f"is not a readable torch file ({type(err).__name__}: {detail})")
        raise bad_value(key, str(path), why) from None
    if not isinstance(ckpt, dict) or "state_dict" not in ckpt or ckpt.get("arch") not in ARCHS:
        found = f"arch={ckpt.get('arch')!r}" if isinstance(ckpt, dict) and "arch" in ckpt else (
            "a dict without arch/state_dict" if isinstance(ckpt, dict) else f"a {type(ckpt).__name__}")
        raise bad_value(
            key,
            str(path),
            f"is not a policy checkpoint (found {found}; expected arch in {sorted(ARCHS)} with a state_dict); "
            "train one with 'python -m simbench train +policy=act'",
        )
    return ckpt


def load_checkpoint(
    path: str | Path, map_location: str = "cpu", key: str = "checkpoint"
) -> tuple[Any, dict[str, Any]]:
    """Checkpoint -> (its architecture's policy in eval mode, the checkpoint dict). Raises ConfigError
    on bad files."""
    path = Path(path)
    ckpt = read_checkpoint(path, map_location, key)
    policy = make_policy(make_config(ckpt["arch"], ckpt["config"]))
    try:
        policy.load_state_dict(ckpt["state_dict"])
    except RuntimeError as err:
        first = str(err).splitlines()[0]
        raise ConfigError(f"checkpoint {path} does not match its {ckpt['arch']} config: {first}") from None
    policy.eval()
    return policy, ckpt
