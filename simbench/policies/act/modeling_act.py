"""ACT (Action Chunking with Transformers, Zhao et al. 2023), laid out like LeRobot's ``modeling_act``.

Public API first:

* :class:`ACTPolicy` holds the network plus the dataset normalization and exposes
  ``predict_action_chunk(state, images) -> (B, chunk_size, action_dim)`` on *raw* inputs
  (float32 joint state, uint8 images), and ``forward(batch) -> (loss, info)`` for training.
* :class:`ACTExportModule` is the graph that goes to ONNX: raw observation in, raw action chunk out,
  so the ONNX file is self-contained (normalization is inside it).

Architecture (per LeRobot): a ResNet-style backbone shared across cameras turns each image into a
grid of tokens (2D sine positions); the transformer encoder reads [latent, state, image tokens];
the decoder's ``chunk_size`` learned queries cross-attend to it; a linear head gives actions.
During training a CVAE encoder reads [cls, state, action chunk] and produces the latent
(mean/log-variance, KL-regularised); at inference the latent is zero (the prior mean).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from simbench.policies.act.configuration_act import ACTConfig
from simbench.policies.normalization import NormalizedPolicy, NormStats


class ACTPolicy(NormalizedPolicy):
    """ACT with normalization buffers; the unit that is trained, checkpointed and exported."""

    name = "act"

    def __init__(self, config: ACTConfig, stats: NormStats | None = None) -> None:
        super().__init__(config.state_dim, config.action_dim)
        self.config = config
        self.model = ACT(config)
        if stats is not None:
            self.set_stats(stats)

    # --- normalization (state and actions: NormalizedPolicy) -------------------------------------
    def normalize_images(self, images: Tensor) -> Tensor:
        """uint8 (B, N, H, W, 3) -> float (B, N, 3, H, W), normalized."""
        x = images.permute(0, 1, 4, 2, 3).to(torch.float32) * (1.0 / 255.0)
        return (x - self.image_mean) / self.image_std

    # --- inference ------------------------------------------------------------------------------
    @torch.no_grad()
    def predict_action_chunk(self, state: Tensor, images: Tensor) -> Tensor:
        """Raw state (B, S) float32 and images (B, N_cam, H, W, 3) uint8 -> (B, chunk, A) raw actions."""
        actions, _ = self.model(self.normalize_state(state), self.normalize_images(images))
        return self.unnormalize_action(actions)

    # --- training -------------------------------------------------------------------------------
    def forward(self, batch: dict[str, Tensor]) -> tuple[Tensor, dict[str, float]]:
        """Batch of raw tensors -> (loss, {"l1", "kld"}).

        batch: ``state`` (B, S), ``images`` (B, N, H, W, 3) uint8, ``action`` (B, chunk, A),
        ``action_is_pad`` (B, chunk) bool (True past the episode's end).
        """
        target = self.normalize_action(batch["action"])  # (B, chunk, A)
        pad = batch["action_is_pad"]
        pred, (mu, logvar) = self.model(
            self.normalize_state(batch["state"]),
            self.normalize_images(batch["images"]),
            actions=target,
            action_is_pad=pad,
        )
        valid = (~pad).unsqueeze(-1).to(pred.dtype)  # (B, chunk, 1)
        l1 = (F.l1_loss(pred, target, reduction="none") * valid).sum() / (valid.sum() * pred.shape[-1]).clamp(min=1)
        info = {"l1": float(l1.detach())}
        loss = l1
        if mu is not None and logvar is not None:
            kld = (-0.5 * (1 + logvar - mu.pow(2) - logvar.exp())).sum(-1).mean()
            loss = loss + self.config.kl_weight * kld
            info["kld"] = float(kld.detach())
        return loss, info


class ACTExportModule(nn.Module):
    """Raw observation -> raw action chunk, one named input per camera (what ONNX Runtime sees).

    Inputs: ``observation.state`` (B, S) float32; ``observation.images.<cam>`` (B, H, W, 3) uint8
    at the policy's ``image_size``. Output: ``action`` (B, chunk_size, action_dim) float32.
    """

    def __init__(self, policy: ACTPolicy) -> None:
        super().__init__()
        self.policy = policy

    def forward(self, state: Tensor, *images: Tensor) -> Tensor:
        stacked = torch.stack(images, dim=1)  # (B, N, H, W, 3)
        return self.policy.predict_action_chunk(state, stacked)


# ---------------------------------------------------------------------------------------------
# The network.


class ACT(nn.Module):
    """The normalized-space network: backbone, CVAE encoder, transformer encoder/decoder, head."""

    def __init__(self, config: ACTConfig) -> None:
        super().__init__()
        self.config = config
        d = config.dim_model
        # CVAE encoder (training only).
        if config.use_vae:
            self.vae_cls = nn.Parameter(torch.zeros(1, 1, d))
            self.vae_state_proj = nn.Linear(config.state_dim, d)
            self.vae_action_proj = nn.Linear(config.action_dim, d)
            self.vae_encoder = TransformerEncoder(config, config.n_vae_encoder_layers)
            self.vae_latent_proj = nn.Linear(d, 2 * config.latent_dim)
            self.register_buffer(
                "vae_pos", sine_1d(2 + config.chunk_size, d).unsqueeze(0), persistent=False
            )  # (1, 2 + chunk, D)
        # Observation encoder.
        self.backbone = ResNetBackbone(
            config.backbone_channels, config.backbone_blocks_per_stage, config.image_size if config.coord_conv else None
        )
        self.feature_proj = nn.Conv2d(config.backbone_channels[-1], d, kernel_size=1)
        fh, fw = config.feature_shape
        self.register_buffer("image_pos", sine_2d(fh, fw, d).unsqueeze(0), persistent=False)  # (1, h*w, D)
        self.camera_embed = nn.Parameter(torch.zeros(len(config.cameras), 1, d))
        self.latent_proj = nn.Linear(config.latent_dim, d)
        self.state_proj = nn.Linear(config.state_dim, d)
        self.token_pos = nn.Parameter(torch.zeros(1, 2, d))  # latent and state tokens
        self.encoder = TransformerEncoder(config, config.n_encoder_layers)
        # Decoder.
        self.query_pos = nn.Parameter(torch.randn(1, config.chunk_size, d) * 0.02)
        self.decoder = TransformerDecoder(config, config.n_decoder_layers)
        self.action_head = nn.Linear(d, config.action_dim)
        self._reset_parameters()

    def _reset_parameters(self) -> None:
        for name, p in self.named_parameters():
            if p.dim() > 1 and "backbone" not in name and "pos" not in name and "embed" not in name:
                nn.init.xavier_uniform_(p)

    def encode_latent(self, state: Tensor, actions: Tensor, action_is_pad: Tensor | None) -> tuple[Tensor, Tensor]:
        """CVAE posterior q(z | state, actions): returns (mu, logvar), each (B, latent)."""
        b = state.shape[0]
        tokens = torch.cat(
            [
                self.vae_cls.expand(b, -1, -1),  # (B, 1, D)
                self.vae_state_proj(state).unsqueeze(1),  # (B, 1, D)
                self.vae_action_proj(actions),  # (B, chunk, D)
            ],
            dim=1,
        )
        mask = None
        if action_is_pad is not None:
            mask = torch.cat([torch.zeros(b, 2, dtype=torch.bool, device=state.device), action_is_pad], dim=1)
        out = self.vae_encoder(tokens, self.vae_pos, key_padding_mask=mask)  # (B, 2 + chunk, D)
        stats = self.vae_latent_proj(out[:, 0])  # (B, 2 * latent)
        mu, logvar = stats.chunk(2, dim=-1)
        return mu, logvar

    def forward(
        self,
        state: Tensor,
        images: Tensor,
        actions: Tensor | None = None,
        action_is_pad: Tensor | None = None,
    ) -> tuple[Tensor, tuple[Tensor | None, Tensor | None]]:
        """state (B, S), images (B, N, 3, H, W) normalized -> actions (B, chunk, A), (mu, logvar)."""
        b, n = images.shape[:2]
        mu = logvar = None
        if self.config.use_vae and actions is not None:
            mu, logvar = self.encode_latent(state, actions, action_is_pad)
            latent = mu + torch.randn_like(mu) * (0.5 * logvar).exp()  # reparameterization
        else:
            latent = state.new_zeros(b, self.config.latent_dim)
        # All cameras through the shared backbone in one batch.
        feats = self.feature_proj(self.backbone(images.flatten(0, 1)))  # (B*N, D, h, w)
        feats = feats.flatten(2).transpose(1, 2)  # (B*N, h*w, D)
        hw, d = feats.shape[1], feats.shape[2]
        feats = feats.reshape(b, n, hw, d) + self.camera_embed.unsqueeze(0)  # (B, N, h*w, D)
        img_tokens = feats.reshape(b, n * hw, d)  # (B, N*h*w, D)
        tokens = torch.cat(
            [self.latent_proj(latent).unsqueeze(1), self.state_proj(state).unsqueeze(1), img_tokens], dim=1
        )  # (B, 2 + N*h*w, D)
        pos = torch.cat([self.token_pos, self.image_pos.repeat(1, n, 1)], dim=1)  # (1, 2 + N*h*w, D)
        memory = self.encoder(tokens, pos)
        queries = torch.zeros(b, self.config.chunk_size, d, dtype=memory.dtype, device=memory.device)
        out = self.decoder(queries, memory, self.query_pos, pos)  # (B, chunk, D)
        return self.action_head(out), (mu, logvar)


# ---------------------------------------------------------------------------------------------
# Building blocks.


class BasicBlock(nn.Module):
    """ResNet basic block (two 3x3 convs + shortcut)."""

    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x: Tensor) -> Tensor:
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return F.relu(y + self.shortcut(x))


class ResNetBackbone(nn.Module):
    """ResNet-18-shaped but narrow: a stride-2 stem, then one stride-2 stage per channel count.

    With ``channels=(64, 128, 256, 512)`` and 2 blocks per stage it is ResNet-18 minus the max-pool.
    ``coord_size`` (H, W): append x/y coordinate channels of that size to the input (CoordConv).
    """

    def __init__(
        self, channels: tuple[int, ...], blocks_per_stage: int, coord_size: tuple[int, int] | None = None
    ) -> None:
        super().__init__()
        c0 = channels[0]
        coords = None
        if coord_size is not None:
            h, w = coord_size
            ys = torch.linspace(-1.0, 1.0, h).view(1, 1, h, 1).expand(1, 1, h, w)
            xs = torch.linspace(-1.0, 1.0, w).view(1, 1, 1, w).expand(1, 1, h, w)
            coords = torch.cat([xs, ys], dim=1).contiguous()  # (1, 2, H, W)
        self.coords: Tensor | None
        self.register_buffer("coords", coords, persistent=False)
        cin = 3 + (2 if coord_size is not None else 0)
        self.stem = nn.Sequential(nn.Conv2d(cin, c0, 3, 2, 1, bias=False), nn.BatchNorm2d(c0), nn.ReLU(inplace=True))
        layers: list[nn.Module] = []
        cin = c0
        for cout in channels:
            for i in range(blocks_per_stage):
                layers.append(BasicBlock(cin, cout, 2 if i == 0 else 1))
                cin = cout
        self.stages = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        if self.coords is not None:
            x = torch.cat([x, self.coords.expand(x.shape[0], -1, -1, -1)], dim=1)
        return self.stages(self.stem(x))  # (B, C, H / 2^(1+stages), W / 2^(1+stages))


class EncoderLayer(nn.Module):
    """Post-norm (LeRobot default) or pre-norm transformer encoder layer; positions added to q/k."""

    def __init__(self, config: ACTConfig) -> None:
        super().__init__()
        d = config.dim_model
        self.attn = nn.MultiheadAttention(d, config.n_heads, dropout=config.dropout, batch_first=True)
        self.ff = nn.Sequential(
            nn.Linear(d, config.dim_feedforward),
            nn.ReLU(),
            nn.Dropout(config.dropout),
            nn.Linear(config.dim_feedforward, d),
        )
        self.norm1 = nn.LayerNorm(d)
        self.norm2 = nn.LayerNorm(d)
        self.drop = nn.Dropout(config.dropout)
        self.pre_norm = config.pre_norm

    def forward(self, x: Tensor, pos: Tensor, key_padding_mask: Tensor | None = None) -> Tensor:
        h = self.norm1(x) if self.pre_norm else x
        q = h + pos
        x = x + self.drop(self.attn(q, q, h, key_padding_mask=key_padding_mask, need_weights=False)[0])
        if not self.pre_norm:
            x = self.norm1(x)
        h = self.norm2(x) if self.pre_norm else x
        x = x + self.drop(self.ff(h))
        return x if self.pre_norm else self.norm2(x)


class TransformerEncoder(nn.Module):
    def __init__(self, config: ACTConfig, n_layers: int) -> None:
        super().__init__()
        self.layers = nn.ModuleList(EncoderLayer(config) for _ in range(n_layers))
        self.norm = nn.LayerNorm(config.dim_model) if config.pre_norm else nn.Identity()

    def forward(self, x: Tensor, pos: Tensor, key_padding_mask: Tensor | None = None) -> Tensor:
        for layer in self.layers:
            x = layer(x, pos, key_padding_mask)
        return self.norm(x)


class DecoderLayer(nn.Module):
    """Self-attention over the queries, cross-attention to the encoder memory, feed-forward."""

    def __init__(self, config: ACTConfig) -> None:
        super().__init__()
        d = config.dim_model
        self.self_attn = nn.MultiheadAttention(d, config.n_heads, dropout=config.dropout, batch_first=True)
        self.cross_attn = nn.MultiheadAttention(d, config.n_heads, dropout=config.dropout, batch_first=True)
        self.ff = nn.Sequential(
            nn.Linear(d, config.dim_feedforward),
            nn.ReLU(),
            nn.Dropout(config.dropout),
            nn.Linear(config.dim_feedforward, d),
        )
        self.norm1 = nn.LayerNorm(d)
        self.norm2 = nn.LayerNorm(d)
        self.norm3 = nn.LayerNorm(d)
        self.drop = nn.Dropout(config.dropout)
        self.pre_norm = config.pre_norm

    def forward(self, x: Tensor, memory: Tensor, query_pos: Tensor, memory_pos: Tensor) -> Tensor:
        h = self.norm1(x) if self.pre_norm else x
        q = h + query_pos
        x = x + self.drop(self.self_attn(q, q, h, need_weights=False)[0])
        if not self.pre_norm:
            x = self.norm1(x)
        h = self.norm2(x) if self.pre_norm else x
        x = x + self.drop(self.cross_attn(h + query_pos, memory + memory_pos, memory, need_weights=False)[0])
        if not self.pre_norm:
            x = self.norm2(x)
        h = self.norm3(x) if self.pre_norm else x
        x = x + self.drop(self.ff(h))
        return x if self.pre_norm else self.norm3(x)


class TransformerDecoder(nn.Module):
    def __init__(self, config: ACTConfig, n_layers: int) -> None:
        super().__init__()
        self.layers = nn.ModuleList(DecoderLayer(config) for _ in range(n_layers))
        self.norm = nn.LayerNorm(config.dim_model)

    def forward(self, x: Tensor, memory: Tensor, query_pos: Tensor, memory_pos: Tensor) -> Tensor:
        for layer in self.layers:
            x = layer(x, memory, query_pos, memory_pos)
        return self.norm(x)


def sine_1d(length: int, dim: int) -> Tensor:
    """Standard sinusoidal positions, (length, dim)."""
    pos = torch.arange(length, dtype=torch.float32).unsqueeze(1)
    div = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32) * (-math.log(10000.0) / dim))
    out = torch.zeros(length, dim)
    out[:, 0::2] = torch.sin(pos * div)
    out[:, 1::2] = torch.cos(pos * div)
    return out


def sine_2d(h: int, w: int, dim: int) -> Tensor:
    """DETR-style 2D sine positions for an h x w grid, (h*w, dim): half the channels per axis."""
    half = dim // 2
    ys = sine_1d(h, half).unsqueeze(1).expand(h, w, half)
    xs = sine_1d(w, half).unsqueeze(0).expand(h, w, half)
    return torch.cat([ys, xs], dim=-1).reshape(h * w, dim)


__all__ = ["ACT", "ACTExportModule", "ACTPolicy", "sine_1d", "sine_2d"]
