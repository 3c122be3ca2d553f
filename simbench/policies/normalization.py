"""Dataset normalization as buffers of the policy module, shared by every torch policy.

The buffers are registered on the policy itself (``state_mean``, ``action_std``, ``image_mean``...),
so checkpoints and exported graphs carry them and their state-dict keys stay at the top level.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

NormStats = dict[str, dict[str, Tensor]]
"""``{"observation.state": {"mean", "std"}, "action": {...}, "observation.images": {...}}``."""


class NormalizedPolicy(nn.Module):
    """Base of the torch policies: state/action/image statistics and the maps that use them."""

    def __init__(self, state_dim: int, action_dim: int) -> None:
        super().__init__()
        self.register_buffer("state_mean", torch.zeros(state_dim))
        self.register_buffer("state_std", torch.ones(state_dim))
        self.register_buffer("action_mean", torch.zeros(action_dim))
        self.register_buffer("action_std", torch.ones(action_dim))
        # Per-channel image normalization, applied after scaling uint8 to [0, 1].
        self.register_buffer("image_mean", torch.full((3, 1, 1), 0.5))
        self.register_buffer("image_std", torch.full((3, 1, 1), 0.25))

    def set_stats(self, stats: NormStats) -> None:
        """Copy dataset statistics in; stds are floored so constant features do not explode."""

        def put(buf: Tensor, value: Tensor) -> None:
            buf.copy_(torch.as_tensor(value, dtype=torch.float32).reshape(buf.shape))

        put(self.state_mean, stats["observation.state"]["mean"])
        put(self.state_std, torch.clamp(torch.as_tensor(stats["observation.state"]["std"]), min=1e-3))
        put(self.action_mean, stats["action"]["mean"])
        put(self.action_std, torch.clamp(torch.as_tensor(stats["action"]["std"]), min=1e-3))
        if "observation.images" in stats:
            put(self.image_mean, stats["observation.images"]["mean"])
            put(self.image_std, torch.clamp(torch.as_tensor(stats["observation.images"]["std"]), min=1e-2))

    def normalize_state(self, state: Tensor) -> Tensor:
        return (state - self.state_mean) / self.state_std

    def normalize_action(self, action: Tensor) -> Tensor:
        return (action - self.action_mean) / self.action_std

    def unnormalize_action(self, action: Tensor) -> Tensor:
        return action * self.action_std + self.action_mean


__all__ = ["NormStats", "NormalizedPolicy"]
