"""ACT configuration: one typed dataclass, fields grouped like LeRobot's ``ACTConfig``.

The values live in one place, ``conf/policy/act.yaml`` (deliberately small there, so a useful policy
trains on a 2-core CPU in well under an hour; the reference ACT is the same code with larger
numbers); this schema has no defaults of its own and checks what the values must satisfy.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from simbench.errors import ConfigError, bad_value
from simbench.policies.network_config import NetworkConfig


@dataclass
class ACTConfig(NetworkConfig):
    """Everything that fixes the network's shape and objective (and nothing about training)."""

    LABEL: ClassVar[str] = "ACT"
    HOME: ClassVar[str] = "act"
    ADDED_LATER: ClassVar[Mapping[str, Any]] = {"coord_conv": False}

    # Inputs and chunk: NetworkConfig's (every camera goes through the shared backbone).

    # Backbone: a ResNet-style stack, one stage per entry of ``backbone_channels``; every stage
    # halves the resolution (the stem halves it once more).
    backbone_channels: tuple[int, ...]
    backbone_blocks_per_stage: int
    coord_conv: bool
    """Append two pixel-coordinate channels (x, y in [-1, 1]) to each image before the stem.

    The transformer adds positions to queries and keys only (DETR style), so the values the decoder
    reads carry position only as far as the CNN's padding leaks it: where an object is comes out at
    token-grid precision (16 px, ~6 cm on the table for the top camera). Coordinate channels let the
    features state the position to sub-token precision (Liu et al. 2018, CoordConv)."""

    # Transformer.
    dim_model: int
    n_heads: int
    dim_feedforward: int
    n_encoder_layers: int
    n_decoder_layers: int
    """LeRobot keeps 1: the original ACT code only ever used the first decoder layer's output."""
    dropout: float
    pre_norm: bool

    # CVAE.
    use_vae: bool
    latent_dim: int
    n_vae_encoder_layers: int
    kl_weight: float

    def __post_init__(self) -> None:
        self.cameras = tuple(self.cameras)
        self.image_size = tuple(int(v) for v in self.image_size)  # type: ignore[assignment]
        self.backbone_channels = tuple(int(v) for v in self.backbone_channels)
        if not self.cameras:
            raise bad_value("policy.cameras", list(self.cameras), "name at least one camera (top, gripper, left)")
        if len(self.image_size) != 2 or min(self.image_size) < 8:
            raise bad_value("policy.image_size", list(self.image_size), "give [height, width], each >= 8")
        if self.n_action_steps > self.chunk_size:
            raise ConfigError(
                f"policy.n_action_steps={self.n_action_steps} exceeds policy.chunk_size={self.chunk_size}; "
                "a policy cannot execute more actions than it predicts"
            )
        if self.chunk_size < 1:
            raise bad_value("policy.chunk_size", self.chunk_size, "must be >= 1")
        if self.dim_model % self.n_heads != 0:
            raise ConfigError(
                f"policy.dim_model={self.dim_model} is not divisible by policy.n_heads={self.n_heads}"
            )
        if self.dim_model % 4 != 0:
            raise bad_value("policy.dim_model", self.dim_model, "must be a multiple of 4 (2D sine embedding)")
        if not self.backbone_channels:
            raise bad_value("policy.backbone_channels", [], "give at least one stage")
        if self.n_decoder_layers < 1 or self.n_encoder_layers < 1:
            raise ConfigError("policy.n_encoder_layers and policy.n_decoder_layers must be >= 1")
        if self.kl_weight < 0:
            raise bad_value("policy.kl_weight", self.kl_weight, "must be >= 0")

    @property
    def feature_stride(self) -> int:
        """Downsampling factor from image to backbone feature map."""
        return 2 ** (len(self.backbone_channels) + 1)

    @property
    def feature_shape(self) -> tuple[int, int]:
        h, w = self.image_size
        s = self.feature_stride
        return (-(-h // s), -(-w // s))


__all__ = ["ACTConfig"]
