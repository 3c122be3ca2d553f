"""SmolVLA configuration: one dataclass, fields grouped like LeRobot's ``SmolVLAConfig``.

The structure is SmolVLA's (Shukor et al. 2025, ../shared/reference/smolvla.md): a ViT vision
encoder with a pixel-shuffle connector, a decoder-only backbone over [visual tokens, instruction
tokens, state token] whose upper layers can be skipped, and a flow-matching action expert of 0.75x
the backbone's width that alternates cross-attention to the backbone's keys/values with causal
self-attention. The sizes are ours: a few million parameters, so that it trains on a 2-core CPU.
The values live in one place, ``conf/policy/smolvla.yaml``; this schema has no defaults of its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from simbench.errors import ConfigError, bad_value
from simbench.policies.network_config import NetworkConfig


@dataclass
class SmolVLAConfig(NetworkConfig):
    """Everything that fixes the network's shape and objective (and nothing about training)."""

    LABEL: ClassVar[str] = "SmolVLA"
    HOME: ClassVar[str] = "smolvla"

    # Inputs and chunk: NetworkConfig's (SmolVLA predicts 50 actions per chunk).
    instruction: str
    """Used when an observation carries no ``task`` text."""

    # Vision encoder: a convolutional stem (stride 2 per entry, then a stride-2 patch embedding),
    # a ViT over the patch grid, a pixel-shuffle connector that folds shuffle x shuffle patches into
    # one token (SmolVLM's connector), a linear map to the backbone's width.
    vision_stem_channels: tuple[int, ...]
    vision_dim: int
    vision_layers: int
    vision_heads: int
    pixel_shuffle: int

    # Backbone: decoder-only transformer blocks (pre-norm), bidirectional over the prefix.
    dim_model: int
    n_heads: int
    dim_feedforward: int
    n_layers: int
    layers_used: int | None
    """Layer skipping (SmolVLA keeps the first half of the VLM): only the first ``layers_used``
    backbone layers run and feed the expert; None runs them all."""
    dropout: float

    # Action expert.
    expert_width_factor: float
    expert_heads: int
    self_attn_every: int
    """Every N-th expert layer (1, 3, ... for 2) is causal self-attention among the action tokens;
    the others cross-attend to the keys/values of the same backbone layer."""

    # Flow matching.
    num_steps: int
    """Forward-Euler denoising steps at inference (configurable at run time too)."""
    noise_scale: float
    """Inference only: the Euler path starts at ``noise_scale`` x N(0, I). 0 starts at the noise
    distribution's mean, which makes chunks deterministic; the shipped model scores 0.80 at 0 and
    0.70 at 1 on the protocol (docs/2026-11-29-smolvla.md)."""
    time_beta: tuple[float, float]
    """Training times t ~ Beta(a, b), scaled into [0.001, 1]: more weight on the noisy end."""
    min_period: float
    max_period: float

    def __post_init__(self) -> None:
        self.cameras = tuple(self.cameras)
        self.image_size = tuple(int(v) for v in self.image_size)  # type: ignore[assignment]
        self.vision_stem_channels = tuple(int(v) for v in self.vision_stem_channels)
        self.time_beta = tuple(float(v) for v in self.time_beta)  # type: ignore[assignment]
        if not self.cameras:
            raise bad_value("policy.cameras", list(self.cameras), "name at least one camera (top, gripper, left)")
        if len(self.image_size) != 2:
            raise bad_value("policy.image_size", list(self.image_size), "give [height, width]")
        grid = self.patch_grid
        if any(g < 1 or g % self.pixel_shuffle for g in grid) or any(s % self.patch_stride for s in self.image_size):
            raise bad_value(
                "policy.image_size",
                list(self.image_size),
                f"must be divisible by the patch stride {self.patch_stride} x pixel_shuffle {self.pixel_shuffle}",
            )
        if self.n_action_steps > self.chunk_size or self.chunk_size < 1:
            raise ConfigError(
                f"policy.n_action_steps={self.n_action_steps} must be in [1, policy.chunk_size={self.chunk_size}]"
            )
        for key, dim, heads in (
            ("dim_model", self.dim_model, self.n_heads),
            ("vision_dim", self.vision_dim, self.vision_heads),
            ("expert width", self.expert_dim, self.expert_heads),
        ):
            if dim % heads or dim % 2:
                raise ConfigError(f"policy.{key}={dim} must be even and divisible by its head count {heads}")
        if self.layers_used is not None and not 1 <= self.layers_used <= self.n_layers:
            raise bad_value("policy.layers_used", self.layers_used, f"must be in [1, n_layers={self.n_layers}] or null")
        if not 0.0 <= self.noise_scale <= 10.0:
            raise bad_value("policy.noise_scale", self.noise_scale, "must be in [0, 10]")
        if self.num_steps < 1:
            raise bad_value("policy.num_steps", self.num_steps, "must be >= 1")
        if self.self_attn_every < 2:
            raise bad_value("policy.self_attn_every", self.self_attn_every, "must be >= 2 (1 would leave no cross-attention)")
        if min(self.time_beta) <= 0 or len(self.time_beta) != 2:
            raise bad_value("policy.time_beta", list(self.time_beta), "give two positive Beta parameters")

    @property
    def patch_stride(self) -> int:
        """Image pixels per ViT patch side: the stem's stride-2 convs and the stride-2 patch embedding."""
        return 2 ** (len(self.vision_stem_channels) + 1)

    @property
    def patch_grid(self) -> tuple[int, int]:
        h, w = self.image_size
        return (h // self.patch_stride, w // self.patch_stride)

    @property
    def tokens_per_camera(self) -> int:
        gh, gw = self.patch_grid
        return (gh // self.pixel_shuffle) * (gw // self.pixel_shuffle)

    @property
    def expert_dim(self) -> int:
        width = round(self.dim_model * self.expert_width_factor)
        return width - width % (2 * self.expert_heads)

    @property
    def depth(self) -> int:
        """Backbone layers that run (and expert layers)."""
        return self.layers_used or self.n_layers

    @property
    def cross_layers(self) -> tuple[int, ...]:
        """Expert layers that cross-attend to the backbone (the prefill's keys/values are theirs)."""
        return tuple(i for i in range(self.depth) if (i + 1) % self.self_attn_every)


__all__ = ["SmolVLAConfig"]
