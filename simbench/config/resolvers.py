"""OmegaConf resolvers the configs in conf/ use, registered once when simbench is imported.

``${min:a,b}`` exists so a policy can say "execute 50 ticks per inference, or the whole chunk when
a sweep makes the chunk shorter" (``n_action_steps: ${min:50,${.actions_per_chunk}}``): without it a
chunk-size sweep (``policy.actions_per_chunk=25,50,100``) would stop at the first chunk shorter than 50.
"""

from __future__ import annotations

from omegaconf import OmegaConf


def _min(*values: float) -> float:
    return min(values)


def register_resolvers() -> None:
    """Idempotent: registering again (a second import, a test) replaces nothing and raises nothing."""
    if not OmegaConf.has_resolver("min"):
        OmegaConf.register_new_resolver("min", _min)
