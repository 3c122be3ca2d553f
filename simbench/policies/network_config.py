"""What every policy's network schema shares: a dataclass without defaults whose values live in one
config (``conf/policy/<home>.yaml``), read from a config node or a checkpoint and written back."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any, ClassVar

from simbench.errors import ConfigError


@dataclass
class NetworkConfig:
    """The base of a policy's config dataclass (``ACTConfig``, ``SmolVLAConfig``): its inputs and chunk."""

    cameras: tuple[str, ...]
    """Camera names (``observation.images.<name>``)."""
    image_size: tuple[int, int]
    """(H, W) the images are resized to before the network (``simbench.policies.preprocess.resize_image``)."""
    state_dim: int
    action_dim: int
    chunk_size: int
    """Actions predicted per inference, at the dataset's fps."""
    n_action_steps: int
    """Actions executed per inference in synchronous mode (<= chunk_size)."""

    LABEL: ClassVar[str]
    """How error lines name the network (``ACT``)."""
    HOME: ClassVar[str]
    """The config that holds every value: ``conf/policy/<HOME>.yaml``."""
    ADDED_LATER: ClassVar[Mapping[str, Any]] = {}
    """Fields added after checkpoints existed, with the value that reproduces what those checkpoints
    did: an older run's config (without the field) still loads and resumes as it trained."""

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in out.items()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Any:
        """Build from a config node, ignoring keys that belong to other layers (name, runtime, ...);
        a missing key is one line naming it and the config that holds it."""
        names = [f.name for f in fields(cls)]
        data = {**cls.ADDED_LATER, **data}
        missing = [n for n in names if n not in data]
        if missing:
            raise ConfigError(f"the {cls.LABEL} config lacks {', '.join(f'policy.{n}' for n in missing)} "
                              f"(conf/policy/{cls.HOME}.yaml holds every key)")
        return cls(**{k: v for k, v in data.items() if k in names})


__all__ = ["NetworkConfig"]
