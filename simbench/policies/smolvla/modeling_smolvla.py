"""SmolVLA-style policy, laid out like LeRobot's ``modeling_smolvla``.

Public API first:

* :class:`SmolVLAPolicy` holds the network plus the dataset normalization and exposes
  ``predict_action_chunk(state, images, noise=None, num_steps=None) -> (B, chunk, action_dim)`` on
  raw inputs (float32 state, uint8 images) and ``forward(batch) -> (loss, info)`` for training.
* The three export modules are the three ONNX graphs a board runs (``simbench.export.smolvla``):
  :class:`VisionExport` (images -> visual tokens), :class:`PrefillExport` (visual tokens, instruction
  tokens, state -> the keys/values of every cross-attention layer of the expert) and
  :class:`DenoiseExport` (x_t, t, keys/values -> velocity). Inference is vision -> prefill -> N
  denoising steps reusing the keys/values: the prefix is computed once per chunk.

Flow matching as in pi0/SmolVLA: x_t = t * noise + (1 - t) * action, target velocity noise - action,
t ~ Beta(1.5, 1) during training; inference integrates dx/dt = v from t = 1 (noise) to t = 0 with
forward Euler. Attention is written out (MatMul, Softmax) so that the exported graphs are plain ops
the quantizer and an NPU compiler know.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from simbench.policies.normalization import NormalizedPolicy, NormStats
from simbench.policies.smolvla.configuration_smolvla import SmolVLAConfig
from simbench.policies.smolvla.tokenizer import encode, vocab_size


class SmolVLAPolicy(NormalizedPolicy):
    """SmolVLA with normalization buffers; the unit that is trained, checkpointed and exported."""

    name = "smolvla"

    def __init__(self, config: SmolVLAConfig, stats: NormStats | None = None) -> None:
        super().__init__(config.state_dim, config.action_dim)
        self.config = config
        self.vision = VisionEncoder(config)
        self.vlm = Backbone(config)
        self.expert = ActionExpert(config)
        self.instruction_ids = encode(config.instruction)  # a plain list: not a buffer the weight average would touch
        if stats is not None:
            self.set_stats(stats)

    def tokens(self, batch: int) -> Tensor:
        return torch.tensor([self.instruction_ids], device=self.state_mean.device).expand(batch, -1)

    def visual_tokens(self, images: Tensor) -> Tensor:
        """(B, n_cam, H, W, 3) uint8 -> (B, n_cam * tokens_per_camera, dim_model)."""
        b, n, h, w, _ = images.shape
        x = images.reshape(b * n, h, w, 3).permute(0, 3, 1, 2).float() / 255.0
        x = (x - self.image_mean) / self.image_std
        return self.vision(x).reshape(b, n * self.config.tokens_per_camera, self.config.dim_model)

    def prefill(self, visual: Tensor, token_ids: Tensor, state: Tensor) -> Tensor:
        """-> keys/values (n_cross, 2, B, L, expert_dim) of the expert's cross-attention layers."""
        hidden = self.vlm(visual, token_ids, self.normalize_state(state))
        return self.expert.project_prefix(hidden)

    def sample_actions(self, kv: Tensor, noise: Tensor, num_steps: int) -> Tensor:
        """Euler integration from noise (t = 1) to an action chunk (t = 0), normalized units."""
        x = noise
        dt = -1.0 / num_steps
        for k in range(num_steps):
            t = torch.full((x.shape[0],), 1.0 + k * dt, dtype=x.dtype, device=x.device)
            x = x + dt * self.expert(x, t, kv)
        return x

    @torch.no_grad()
    def predict_action_chunk(
        self, state: Tensor, images: Tensor, noise: Tensor | None = None, num_steps: int | None = None
    ) -> Tensor:
        """Raw state (B, S) float and images (B, n_cam, H, W, 3) uint8 -> raw actions (B, chunk, A)."""
        cfg = self.config
        kv = self.prefill(self.visual_tokens(images), self.tokens(state.shape[0]), state)
        if noise is None:
            noise = cfg.noise_scale * torch.randn(state.shape[0], cfg.chunk_size, cfg.action_dim, device=state.device)
        return self.unnormalize_action(self.sample_actions(kv, noise, num_steps or cfg.num_steps))

    def forward(self, batch: dict[str, Tensor]) -> tuple[Tensor, dict[str, float]]:
        """Flow-matching loss: MSE between predicted and target velocity on non-padded actions."""
        state, images, action = batch["state"], batch["images"], batch["action"]
        b = state.shape[0]
        kv = self.prefill(self.visual_tokens(images), self.tokens(b), state)
        target = self.normalize_action(action)
        noise = torch.randn_like(target)
        a, bb = self.config.time_beta
        t = torch.distributions.Beta(a, bb).sample((b,)).to(target.device) * 0.999 + 0.001
        x_t = t[:, None, None] * noise + (1 - t[:, None, None]) * target
        v = self.expert(x_t, t, kv)
        err = (v - (noise - target)) ** 2
        valid = (~batch["action_is_pad"]).unsqueeze(-1).float()
        loss = (err * valid).sum() / (valid.sum() * err.shape[-1]).clamp(min=1)
        return loss, {"t_mean": float(t.mean())}


class VisionExport(nn.Module):
    """Graph 1: uint8 camera images (one input each) -> visual tokens (1, n_cam * tokens, dim_model)."""

    def __init__(self, policy: SmolVLAPolicy) -> None:
        super().__init__()
        self.policy = policy

    def forward(self, *images: Tensor) -> Tensor:
        return self.policy.visual_tokens(torch.stack(images, dim=1))


class PrefillExport(nn.Module):
    """Graph 2: visual tokens, instruction token ids, raw state -> cross-attention keys/values."""

    def __init__(self, policy: SmolVLAPolicy) -> None:
        super().__init__()
        self.policy = policy

    def forward(self, visual: Tensor, token_ids: Tensor, state: Tensor) -> Tensor:
        return self.policy.prefill(visual, token_ids, state)


class DenoiseExport(nn.Module):
    """Graph 3: one denoising step, x_t (1, chunk, A) normalized, t (1,), keys/values -> velocity."""

    def __init__(self, policy: SmolVLAPolicy) -> None:
        super().__init__()
        self.expert = policy.expert

    def forward(self, x_t: Tensor, t: Tensor, kv: Tensor) -> Tensor:
        return self.expert(x_t, t, kv)


class Attention(nn.Module):
    """Multi-head attention written as MatMul/Softmax (exports to plain ONNX ops)."""

    def __init__(self, dim: int, heads: int, kv_dim: int | None = None, project_kv: bool = True) -> None:
        super().__init__()
        self.heads = heads
        self.q = nn.Linear(dim, dim)
        self.kv = nn.Linear(kv_dim or dim, 2 * dim) if project_kv else None
        self.out = nn.Linear(dim, dim)

    def split(self, x: Tensor) -> Tensor:
        b, n, d = x.shape
        return x.reshape(b, n, self.heads, d // self.heads).transpose(1, 2)

    def forward(self, x: Tensor, k: Tensor, v: Tensor, bias: Tensor | None = None) -> Tensor:
        q, k, v = self.split(self.q(x)), self.split(k), self.split(v)
        att = q @ k.transpose(-1, -2) * (1.0 / math.sqrt(q.shape[-1]))
        if bias is not None:
            att = att + bias
        y = (att.softmax(dim=-1) @ v).transpose(1, 2).reshape(x.shape)
        return self.out(y)

    def self_kv(self, x: Tensor) -> tuple[Tensor, Tensor]:
        assert self.kv is not None
        k, v = self.kv(x).chunk(2, dim=-1)
        return k, v


class Block(nn.Module):
    """Pre-norm transformer block (self-attention + GELU MLP)."""

    def __init__(self, dim: int, heads: int, ff: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, ff), nn.GELU(approximate="tanh"), nn.Linear(ff, dim))
        self.drop = nn.Dropout(dropout)

    def forward(self, x: Tensor, bias: Tensor | None = None) -> Tensor:
        h = self.norm1(x)
        k, v = self.attn.self_kv(h)
        x = x + self.drop(self.attn(h, k, v, bias))
        return x + self.drop(self.mlp(self.norm2(x)))


class VisionEncoder(nn.Module):
    """Conv stem -> patch embedding -> ViT -> pixel shuffle -> linear (SmolVLM's connector).

    The stem (Xiao et al. 2021, "early convolutions help transformers see better") lets a small
    ViT learn from a few hundred episodes; the pixel shuffle folds each s x s block of patch tokens
    into one token with s^2 times the channels, cutting the backbone's sequence by s^2."""

    def __init__(self, config: SmolVLAConfig) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        cin = 3
        for c in config.vision_stem_channels:
            layers += [nn.Conv2d(cin, c, 3, 2, 1), nn.GELU(approximate="tanh")]
            cin = c
        self.stem = nn.Sequential(*layers)
        d = config.vision_dim
        self.patch = nn.Conv2d(cin, d, 2, 2)
        gh, gw = config.patch_grid
        self.register_buffer("pos", sine_2d(gh, gw, d).unsqueeze(0), persistent=False)
        self.blocks = nn.ModuleList(Block(d, config.vision_heads, 4 * d) for _ in range(config.vision_layers))
        self.norm = nn.LayerNorm(d)
        s = config.pixel_shuffle
        self.shuffle, self.grid = s, (gh, gw)
        self.connector = nn.Linear(d * s * s, config.dim_model)

    def forward(self, x: Tensor) -> Tensor:
        x = self.patch(self.stem(x))  # (N, d, gh, gw)
        n, d, gh, gw = x.shape
        x = x.flatten(2).transpose(1, 2) + self.pos  # (N, gh*gw, d)
        for block in self.blocks:
            x = block(x)
        x = self.norm(x)
        s = self.shuffle
        x = x.reshape(n, gh // s, s, gw // s, s, d).permute(0, 1, 3, 2, 4, 5).reshape(n, (gh // s) * (gw // s), s * s * d)
        return self.connector(x)


class Backbone(nn.Module):
    """Decoder-only blocks over [visual tokens, instruction tokens, state token], bidirectional over
    the prefix (as SmolVLA's prefix). Returns each used layer's normed input: the hidden states the
    expert's cross-attention reads keys/values from."""

    def __init__(self, config: SmolVLAConfig) -> None:
        super().__init__()
        d = config.dim_model
        self.config = config
        self.embed = nn.Embedding(vocab_size(), d)
        self.state_proj = nn.Linear(config.state_dim, d)
        n_visual = len(config.cameras) * config.tokens_per_camera
        self.visual_pos = nn.Parameter(torch.zeros(1, n_visual, d))
        self.register_buffer("text_pos", sine_1d(64, d).unsqueeze(0), persistent=False)
        self.blocks = nn.ModuleList(
            Block(d, config.n_heads, config.dim_feedforward, config.dropout) for _ in range(config.depth)
        )
        self.norms = nn.ModuleList(nn.LayerNorm(d) for _ in range(config.depth))

    def forward(self, visual: Tensor, token_ids: Tensor, state_n: Tensor) -> list[Tensor]:
        text = self.embed(token_ids) + self.text_pos[:, : token_ids.shape[1]]
        x = torch.cat([visual + self.visual_pos, text, self.state_proj(state_n).unsqueeze(1)], dim=1)
        hidden = []
        for block, norm in zip(self.blocks, self.norms):
            hidden.append(norm(x))
            x = block(x)
        return hidden


class ExpertLayer(nn.Module):
    """Cross-attention to the backbone's keys/values, or causal self-attention among action tokens."""

    def __init__(self, dim: int, heads: int, kv_dim: int, cross: bool) -> None:
        super().__init__()
        self.cross = cross
        self.norm1 = nn.LayerNorm(dim)
        self.attn = Attention(dim, heads, kv_dim=kv_dim if cross else dim)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(approximate="tanh"), nn.Linear(4 * dim, dim))

    def forward(self, x: Tensor, kv: Tensor | None, causal: Tensor) -> Tensor:
        h = self.norm1(x)
        if self.cross:
            assert kv is not None
            x = x + self.attn(h, kv[0], kv[1])
        else:
            k, v = self.attn.self_kv(h)
            x = x + self.attn(h, k, v, causal)
        return x + self.mlp(self.norm2(x))


class ActionExpert(nn.Module):
    """The flow-matching head: action tokens (x_t embedded with the time) through interleaved
    cross/self-attention layers, a linear map to the velocity."""

    def __init__(self, config: SmolVLAConfig) -> None:
        super().__init__()
        d = config.expert_dim
        self.config = config
        self.cross_layers = config.cross_layers
        self.action_in = nn.Linear(config.action_dim, d)
        self.time_mlp = nn.Sequential(nn.Linear(2 * d, d), nn.SiLU(), nn.Linear(d, d))
        self.pos = nn.Parameter(sine_1d(config.chunk_size, d).unsqueeze(0) * 0.1)
        self.layers = nn.ModuleList(
            ExpertLayer(d, config.expert_heads, config.dim_model, i in self.cross_layers) for i in range(config.depth)
        )
        self.norm = nn.LayerNorm(d)
        self.action_out = nn.Linear(d, config.action_dim)
        # finite: a weight average (EMA) of a -inf buffer would be NaN, and fp16 holds -1e4 at most
        mask = torch.full((config.chunk_size, config.chunk_size), -1e4).triu(1)
        self.register_buffer("causal", mask, persistent=False)

    def project_prefix(self, hidden: list[Tensor]) -> Tensor:
        """The cross layers' keys/values of the backbone's hidden states: (n_cross, 2, B, L, d).
        Computed once per chunk (the prefill), reused by every denoising step."""
        out = []
        for i in self.cross_layers:
            assert self.layers[i].attn.kv is not None
            k, v = self.layers[i].attn.kv(hidden[i]).chunk(2, dim=-1)
            out.append(torch.stack([k, v]))
        return torch.stack(out)

    def time_embedding(self, t: Tensor) -> Tensor:
        cfg, d = self.config, self.config.expert_dim
        fraction = torch.linspace(0.0, 1.0, d // 2, device=t.device)
        period = cfg.min_period * (cfg.max_period / cfg.min_period) ** fraction
        angle = t[:, None] * (2 * math.pi / period)[None, :]
        return torch.cat([angle.sin(), angle.cos()], dim=-1)  # (B, d)

    def forward(self, x_t: Tensor, t: Tensor, kv: Tensor) -> Tensor:
        emb = self.action_in(x_t)
        temb = self.time_embedding(t).unsqueeze(1).expand_as(emb)
        x = self.time_mlp(torch.cat([emb, temb], dim=-1)) + self.pos
        c = 0
        for layer in self.layers:
            if layer.cross:
                x = layer(x, kv[c], self.causal)
                c += 1
            else:
                x = layer(x, None, self.causal)
        return self.action_out(self.norm(x))


def sine_1d(length: int, dim: int) -> Tensor:
    pos = torch.arange(length, dtype=torch.float32).unsqueeze(1)
    div = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32) * (-math.log(10000.0) / dim))
    out = torch.zeros(length, dim)
    out[:, 0::2] = torch.sin(pos * div)
    out[:, 1::2] = torch.cos(pos * div)
    return out


def sine_2d(h: int, w: int, dim: int) -> Tensor:
    half = dim // 2
    ys = sine_1d(h, half).unsqueeze(1).expand(h, w, half)
    xs = sine_1d(w, half).unsqueeze(0).expand(h, w, half)
    return torch.cat([ys, xs], dim=-1).reshape(h * w, dim)


__all__ = ["DenoiseExport", "PrefillExport", "SmolVLAPolicy", "VisionExport"]
