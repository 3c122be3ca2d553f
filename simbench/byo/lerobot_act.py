"""LeRobot's ACT (lerobot 0.4 ``policies/act/modeling_act.py``) as inference-only torch modules.

The module tree and parameter names are LeRobot's (``model.backbone.layer1.0.conv1.weight``,
``model.encoder.layers.0.self_attn.in_proj_weight``, ``model.decoder_pos_embed.weight`` ...), so a
checkpoint's ``model.safetensors`` loads with ``strict=True``: a missing or extra tensor is an error,
never a silently random layer. The computation follows LeRobot's line by line (sequence-first
tokens, the same 2D sine positions, post- or pre-norm layers, a zero latent at inference); only the
training branch (the VAE encoder's pass) is left out, while the VAE's weights are still loaded.

The backbone is a torchvision ResNet (``IntermediateLayerGetter`` up to ``layer4``, frozen batch norm)
rebuilt from the weights' shapes: BasicBlock or Bottleneck, blocks per stage, widths and groups are
read from the tensors, so resnet18/34/50/101/152, the wide and grouped variants and narrowed test
backbones all load without torchvision. ``replace_final_stride_with_dilation`` dilates ``layer4`` as
torchvision does (Bottleneck only, as there).

:class:`ImportedACT` wraps it for export: robot-side inputs (state in robot units, uint8 H x W x 3
images), LeRobot's normalizer and unnormalizer steps folded in, actions in robot units out.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from simbench.byo.lerobot_checkpoint import MODE_STATS, Feature, LeRobotCheckpoint, Normalizer
from simbench.errors import ConfigError

IMAGE_PREFIX = "observation.images."
STATE_KEY = "observation.state"
ENV_STATE_KEY = "observation.environment_state"


# --------------------------------------------------------------------------------------------
# Backbone: torchvision's ResNet, rebuilt from the weights.


class FrozenBatchNorm2d(nn.Module):
    """torchvision.ops.misc.FrozenBatchNorm2d: batch norm with fixed statistics and affine (buffers)."""

    def __init__(self, n: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps
        self.register_buffer("weight", torch.ones(n))
        self.register_buffer("bias", torch.zeros(n))
        self.register_buffer("running_mean", torch.zeros(n))
        self.register_buffer("running_var", torch.ones(n))

    def forward(self, x: Tensor) -> Tensor:
        w = self.weight.reshape(1, -1, 1, 1)
        b = self.bias.reshape(1, -1, 1, 1)
        rv = self.running_var.reshape(1, -1, 1, 1)
        rm = self.running_mean.reshape(1, -1, 1, 1)
        scale = w * (rv + self.eps).rsqrt()
        bias = b - rm * scale
        return x * scale + bias


def _conv(weight: np.ndarray, stride: int = 1, dilation: int = 1, groups: int = 1) -> nn.Conv2d:
    cout, cin_g, k, _ = weight.shape
    return nn.Conv2d(
        cin_g * groups,
        cout,
        k,
        stride=stride,
        padding=dilation * (k // 2) if k > 1 else 0,
        dilation=dilation,
        groups=groups,
        bias=False,
    )


class Block(nn.Module):
    """torchvision's BasicBlock (conv1, conv2) or Bottleneck (conv1, conv2, conv3), by the weights."""

    def __init__(self, w: Mapping[str, np.ndarray], prefix: str, stride: int, dilation: int) -> None:
        super().__init__()
        self.bottleneck = f"{prefix}conv3.weight" in w
        if self.bottleneck:
            width = w[f"{prefix}conv1.weight"].shape[0]
            groups = width // w[f"{prefix}conv2.weight"].shape[1]
            self.conv1 = _conv(w[f"{prefix}conv1.weight"])
            self.bn1 = FrozenBatchNorm2d(width)
            self.conv2 = _conv(w[f"{prefix}conv2.weight"], stride, dilation, groups)
            self.bn2 = FrozenBatchNorm2d(width)
            self.conv3 = _conv(w[f"{prefix}conv3.weight"])
            self.bn3 = FrozenBatchNorm2d(w[f"{prefix}conv3.weight"].shape[0])
        else:
            if dilation > 1:
                raise ConfigError(
                    "replace_final_stride_with_dilation needs a Bottleneck ResNet (resnet50 and up); "
                    "torchvision refuses dilation in BasicBlock"
                )
            self.conv1 = _conv(w[f"{prefix}conv1.weight"], stride)
            self.bn1 = FrozenBatchNorm2d(w[f"{prefix}conv1.weight"].shape[0])
            self.conv2 = _conv(w[f"{prefix}conv2.weight"])
            self.bn2 = FrozenBatchNorm2d(w[f"{prefix}conv2.weight"].shape[0])
        self.downsample: nn.Module | None = None
        if f"{prefix}downsample.0.weight" in w:
            ds = w[f"{prefix}downsample.0.weight"]
            self.downsample = nn.Sequential(_conv(ds, stride), FrozenBatchNorm2d(ds.shape[0]))

    def forward(self, x: Tensor) -> Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = F.relu(self.bn1(self.conv1(x)))
        if self.bottleneck:
            out = F.relu(self.bn2(self.conv2(out)))
            out = self.bn3(self.conv3(out))
        else:
            out = self.bn2(self.conv2(out))
        return F.relu(out + identity)


class ResNetBackbone(nn.Module):
    """conv1, bn1, relu, maxpool, layer1..layer4 (``IntermediateLayerGetter``'s ``feature_map``)."""

    def __init__(self, w: Mapping[str, np.ndarray], prefix: str, dilate_last: bool) -> None:
        super().__init__()
        if f"{prefix}conv1.weight" not in w:
            raise ConfigError(f"model.safetensors has no {prefix}conv1.weight: not a torchvision ResNet backbone")
        self.conv1 = nn.Conv2d(
            w[f"{prefix}conv1.weight"].shape[1], w[f"{prefix}conv1.weight"].shape[0], 7, 2, 3, bias=False
        )
        self.bn1 = FrozenBatchNorm2d(w[f"{prefix}conv1.weight"].shape[0])
        dilation = 1
        self.strides: list[int] = []
        for i in range(1, 5):
            n = len({m.group(1) for k in w if (m := re.match(rf"{re.escape(prefix)}layer{i}\.(\d+)\.", k))})
            if n == 0:
                raise ConfigError(f"model.safetensors has no {prefix}layer{i}: not a 4-stage torchvision ResNet")
            stride = 1 if i == 1 else 2
            previous = dilation
            if i == 4 and dilate_last:
                dilation *= stride
                stride = 1
            self.strides.append(stride)
            blocks = [Block(w, f"{prefix}layer{i}.0.", stride, previous)]
            blocks += [Block(w, f"{prefix}layer{i}.{j}.", 1, dilation) for j in range(1, n)]
            setattr(self, f"layer{i}", nn.Sequential(*blocks))
        last = self.layer4[-1]
        self.out_channels = int(last.bn3.weight.shape[0] if last.bottleneck else last.bn2.weight.shape[0])

    def feature_size(self, h: int, w: int) -> tuple[int, int]:
        """The ``layer4`` map's (h, w) for an (h, w) image: conv1 /2, max-pool /2, one /2 per strided stage."""

        def down(n: int, k: int, s: int, p: int) -> int:
            return (n + 2 * p - k) // s + 1

        h, w = down(h, 7, 2, 3), down(w, 7, 2, 3)
        h, w = down(h, 3, 2, 1), down(w, 3, 2, 1)
        for s in self.strides:
            h, w = down(h, 3, s, 1), down(w, 3, s, 1)
        return h, w

    def forward(self, x: Tensor) -> Tensor:
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 3, 2, 1)
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))


# --------------------------------------------------------------------------------------------
# Transformer: LeRobot's ACTEncoder / ACTDecoder layers (sequence-first).


def _activation(name: str) -> Any:
    table = {"relu": F.relu, "gelu": F.gelu, "glu": F.glu}
    if name not in table:
        raise ConfigError(f"config.json feedforward_activation={name!r}: choose relu, gelu or glu")
    return table[name]


class EncoderLayer(nn.Module):
    def __init__(self, cfg: Mapping[str, Any]) -> None:
        super().__init__()
        d = int(cfg["dim_model"])
        self.self_attn = nn.MultiheadAttention(d, int(cfg["n_heads"]))
        self.linear1 = nn.Linear(d, int(cfg["dim_feedforward"]))
        self.linear2 = nn.Linear(int(cfg["dim_feedforward"]), d)
        self.norm1 = nn.LayerNorm(d)
        self.norm2 = nn.LayerNorm(d)
        self.activation = _activation(str(cfg.get("feedforward_activation", "relu")))
        self.pre_norm = bool(cfg.get("pre_norm", False))

    def forward(self, x: Tensor, pos_embed: Tensor | None = None) -> Tensor:
        skip = x
        if self.pre_norm:
            x = self.norm1(x)
        q = k = x if pos_embed is None else x + pos_embed
        x = self.self_attn(q, k, value=x, need_weights=False)[0]
        x = skip + x
        if self.pre_norm:
            skip = x
            x = self.norm2(x)
        else:
            x = self.norm1(x)
            skip = x
        x = self.linear2(self.activation(self.linear1(x)))
        x = skip + x
        if not self.pre_norm:
            x = self.norm2(x)
        return x


class Encoder(nn.Module):
    def __init__(self, cfg: Mapping[str, Any], n_layers: int) -> None:
        super().__init__()
        self.layers = nn.ModuleList(EncoderLayer(cfg) for _ in range(n_layers))
        self.norm = nn.LayerNorm(int(cfg["dim_model"])) if cfg.get("pre_norm", False) else nn.Identity()

    def forward(self, x: Tensor, pos_embed: Tensor | None = None) -> Tensor:
        for layer in self.layers:
            x = layer(x, pos_embed)
        return self.norm(x)


class DecoderLayer(nn.Module):
    def __init__(self, cfg: Mapping[str, Any]) -> None:
        super().__init__()
        d = int(cfg["dim_model"])
        self.self_attn = nn.MultiheadAttention(d, int(cfg["n_heads"]))
        self.multihead_attn = nn.MultiheadAttention(d, int(cfg["n_heads"]))
        self.linear1 = nn.Linear(d, int(cfg["dim_feedforward"]))
        self.linear2 = nn.Linear(int(cfg["dim_feedforward"]), d)
        self.norm1 = nn.LayerNorm(d)
        self.norm2 = nn.LayerNorm(d)
        self.norm3 = nn.LayerNorm(d)
        self.activation = _activation(str(cfg.get("feedforward_activation", "relu")))
        self.pre_norm = bool(cfg.get("pre_norm", False))

    def forward(self, x: Tensor, encoder_out: Tensor, decoder_pos_embed: Tensor, encoder_pos_embed: Tensor) -> Tensor:
        skip = x
        if self.pre_norm:
            x = self.norm1(x)
        q = k = x + decoder_pos_embed
        x = self.self_attn(q, k, value=x, need_weights=False)[0]
        x = skip + x
        if self.pre_norm:
            skip = x
            x = self.norm2(x)
        else:
            x = self.norm1(x)
            skip = x
        x = self.multihead_attn(
            query=x + decoder_pos_embed, key=encoder_out + encoder_pos_embed, value=encoder_out, need_weights=False
        )[0]
        x = skip + x
        if self.pre_norm:
            skip = x
            x = self.norm3(x)
        else:
            x = self.norm2(x)
            skip = x
        x = self.linear2(self.activation(self.linear1(x)))
        x = skip + x
        if not self.pre_norm:
            x = self.norm3(x)
        return x


class Decoder(nn.Module):
    def __init__(self, cfg: Mapping[str, Any]) -> None:
        super().__init__()
        self.layers = nn.ModuleList(DecoderLayer(cfg) for _ in range(int(cfg["n_decoder_layers"])))
        self.norm = nn.LayerNorm(int(cfg["dim_model"]))

    def forward(self, x: Tensor, encoder_out: Tensor, decoder_pos_embed: Tensor, encoder_pos_embed: Tensor) -> Tensor:
        for layer in self.layers:
            x = layer(x, encoder_out, decoder_pos_embed, encoder_pos_embed)
        return self.norm(x)


def sinusoid_1d(num_positions: int, dimension: int) -> Tensor:
    """LeRobot's ``create_sinusoidal_pos_embedding`` (the VAE encoder's fixed positions)."""
    table = np.array(
        [[p / np.power(10000, 2 * (j // 2) / dimension) for j in range(dimension)] for p in range(num_positions)]
    )
    table[:, 0::2] = np.sin(table[:, 0::2])
    table[:, 1::2] = np.cos(table[:, 1::2])
    return torch.from_numpy(table).float()


def sinusoid_2d(h: int, w: int, dimension: int) -> Tensor:
    """LeRobot's ``ACTSinusoidalPositionEmbedding2d`` for an h x w map: (1, 2 * dimension, h, w)."""
    not_mask = torch.ones(1, h, w)
    y_range = not_mask.cumsum(1, dtype=torch.float32)
    x_range = not_mask.cumsum(2, dtype=torch.float32)
    y_range = y_range / (y_range[:, -1:, :] + 1e-6) * (2 * math.pi)
    x_range = x_range / (x_range[:, :, -1:] + 1e-6) * (2 * math.pi)
    inverse_frequency = 10000 ** (2 * (torch.arange(dimension, dtype=torch.float32) // 2) / dimension)
    x_range = x_range.unsqueeze(-1) / inverse_frequency
    y_range = y_range.unsqueeze(-1) / inverse_frequency
    pos_x = torch.stack((x_range[..., 0::2].sin(), x_range[..., 1::2].cos()), dim=-1).flatten(3)
    pos_y = torch.stack((y_range[..., 0::2].sin(), y_range[..., 1::2].cos()), dim=-1).flatten(3)
    return torch.cat((pos_y, pos_x), dim=3).permute(0, 3, 1, 2)


# --------------------------------------------------------------------------------------------
# The network (LeRobot's ``ACT``) and the policy holding it (``model.``-prefixed names).


class ACT(nn.Module):
    """LeRobot's ``ACT`` at inference: [latent, (state), (env state), image tokens] -> encoder ->
    decoder queries -> action head; the latent is zero (the VAE encoder runs only in training)."""

    def __init__(
        self,
        cfg: Mapping[str, Any],
        state_dim: int | None,
        env_dim: int | None,
        image_sizes: list[tuple[int, int]],
        action_dim: int,
        weights: Mapping[str, np.ndarray],
    ) -> None:
        super().__init__()
        d = int(cfg["dim_model"])
        self.chunk_size = int(cfg["chunk_size"])
        self.latent_dim = int(cfg["latent_dim"])
        self.dim_model = d
        if cfg.get("use_vae", True):
            self.vae_encoder = Encoder(cfg, int(cfg["n_vae_encoder_layers"]))
            self.vae_encoder_cls_embed = nn.Embedding(1, d)
            if state_dim is not None:
                self.vae_encoder_robot_state_input_proj = nn.Linear(state_dim, d)
            self.vae_encoder_action_input_proj = nn.Linear(action_dim, d)
            self.vae_encoder_latent_output_proj = nn.Linear(d, self.latent_dim * 2)
            n = 1 + self.chunk_size + (1 if state_dim is not None else 0)
            self.register_buffer("vae_encoder_pos_enc", sinusoid_1d(n, d).unsqueeze(0))
        self.has_images = bool(image_sizes)
        if self.has_images:
            self.backbone = ResNetBackbone(
                weights, "model.backbone.", bool(cfg.get("replace_final_stride_with_dilation"))
            )
        self.encoder = Encoder(cfg, int(cfg["n_encoder_layers"]))
        self.decoder = Decoder(cfg)
        if state_dim is not None:
            self.encoder_robot_state_input_proj = nn.Linear(state_dim, d)
        if env_dim is not None:
            self.encoder_env_state_input_proj = nn.Linear(env_dim, d)
        self.encoder_latent_input_proj = nn.Linear(self.latent_dim, d)
        if self.has_images:
            self.encoder_img_feat_input_proj = nn.Conv2d(self.backbone.out_channels, d, kernel_size=1)
        n_1d = 1 + (state_dim is not None) + (env_dim is not None)
        self.encoder_1d_feature_pos_embed = nn.Embedding(n_1d, d)
        self.decoder_pos_embed = nn.Embedding(self.chunk_size, d)
        self.action_head = nn.Linear(d, action_dim)
        self.state_dim, self.env_dim = state_dim, env_dim
        # The 2D sine positions depend on the feature map's size only: one fixed table per camera.
        for i, (h, w) in enumerate(image_sizes):
            fh, fw = self.backbone.feature_size(h, w)
            self.register_buffer(f"cam_pos_{i}", sinusoid_2d(fh, fw, d // 2), persistent=False)

    def forward(self, state: Tensor | None, env_state: Tensor | None, images: list[Tensor]) -> Tensor:
        """Normalized state (B, S), env state (B, E), images [(B, 3, H, W)] -> (B, chunk, A) normalized."""
        first = state if state is not None else env_state if env_state is not None else images[0]
        batch = first.shape[0]
        latent = torch.zeros(batch, self.latent_dim, dtype=torch.float32)
        tokens = [self.encoder_latent_input_proj(latent)]
        pos = list(self.encoder_1d_feature_pos_embed.weight.unsqueeze(1))
        if state is not None:
            tokens.append(self.encoder_robot_state_input_proj(state))
        if env_state is not None:
            tokens.append(self.encoder_env_state_input_proj(env_state))
        for i, img in enumerate(images):
            features = self.backbone(img)
            cam_pos = getattr(self, f"cam_pos_{i}").to(dtype=features.dtype)
            features = self.encoder_img_feat_input_proj(features)
            tokens.extend(list(features.flatten(2).permute(2, 0, 1)))  # b c h w -> (h w) b c
            pos.extend(list(cam_pos.flatten(2).permute(2, 0, 1)))
        tokens_t = torch.stack(tokens, dim=0)  # (S, B, D)
        pos_t = torch.stack(pos, dim=0)  # (S, 1, D)
        encoder_out = self.encoder(tokens_t, pos_t)
        decoder_in = torch.zeros((self.chunk_size, batch, self.dim_model), dtype=pos_t.dtype)
        out = self.decoder(decoder_in, encoder_out, self.decoder_pos_embed.weight.unsqueeze(1), pos_t)
        return self.action_head(out.transpose(0, 1))  # (B, chunk, A)


class LeRobotACTPolicy(nn.Module):
    """The ``model.``-prefixed module tree of LeRobot's ``ACTPolicy`` (what ``model.safetensors`` holds)."""

    def __init__(self, ckpt: LeRobotCheckpoint) -> None:
        super().__init__()
        cfg = ckpt.config
        if ckpt.policy_type != "act":
            raise ConfigError(f"{ckpt.path / 'config.json'} is a {ckpt.policy_type!r} policy; import-lerobot reads ACT")
        if int(cfg.get("n_obs_steps", 1)) != 1:
            raise ConfigError(f"config.json n_obs_steps={cfg.get('n_obs_steps')}: LeRobot's ACT takes 1")
        for key in (
            "dim_model",
            "n_heads",
            "dim_feedforward",
            "n_encoder_layers",
            "n_decoder_layers",
            "chunk_size",
            "latent_dim",
        ):
            if not isinstance(cfg.get(key), int):
                raise ConfigError(f"{ckpt.path / 'config.json'} lacks the integer {key}")
        by_type: dict[str, list[Feature]] = {}
        for f in ckpt.inputs:
            by_type.setdefault(f.type, []).append(f)
        self.state = next((f for f in by_type.get("STATE", []) if f.key == STATE_KEY), None)
        self.env_state = next((f for f in by_type.get("ENV", []) if f.key == ENV_STATE_KEY), None)
        self.images = [f for f in ckpt.inputs if f.type == "VISUAL"]
        for f in self.images:
            if len(f.shape) != 3 or f.shape[0] != 3:
                raise ConfigError(f"config.json {f.key} has shape {list(f.shape)}; the import takes 3-channel images")
        if not self.images and self.env_state is None:
            raise ConfigError(
                "config.json has neither an image nor observation.environment_state input (ACT needs one)"
            )
        self.model = ACT(
            cfg,
            self.state.shape[0] if self.state else None,
            self.env_state.shape[0] if self.env_state else None,
            [(f.shape[1], f.shape[2]) for f in self.images],
            ckpt.action.shape[0],
            ckpt.weights,
        )
        state_dict = {
            k: torch.from_numpy(np.ascontiguousarray(v))
            for k, v in ckpt.weights.items()
            if not k.endswith("num_batches_tracked")
        }
        result = self.load_state_dict(state_dict, strict=False)
        if result.missing_keys or result.unexpected_keys:
            what = (
                f"missing {result.missing_keys[:3]}"
                if result.missing_keys
                else f"unexpected {result.unexpected_keys[:3]}"
            )
            raise ConfigError(
                f"{ckpt.path / 'model.safetensors'} does not match LeRobot's ACT for this config.json "
                f"({what}{' ...' if len(result.missing_keys or result.unexpected_keys) > 3 else ''})"
            )
        self.eval()


# --------------------------------------------------------------------------------------------
# Robot units in, robot units out: the processors folded in.


class FeatureNorm(nn.Module):
    """One feature's LeRobot (un)normalization with its statistics as buffers (LeRobot's formulas)."""

    def __init__(self, normalizer: Normalizer, feature: Feature, shape: tuple[int, ...]) -> None:
        super().__init__()
        self.mode = normalizer.mode(feature)
        self.eps = normalizer.eps
        if self.mode in MODE_STATS:
            lo_name, hi_name = MODE_STATS[self.mode]
            stats = normalizer.stats[feature.key]
            self.register_buffer("a", torch.as_tensor(stats[lo_name], dtype=torch.float32).reshape(shape))
            self.register_buffer("b", torch.as_tensor(stats[hi_name], dtype=torch.float32).reshape(shape))

    def normalize(self, x: Tensor) -> Tensor:
        if self.mode == "MEAN_STD":
            return (x - self.a) / (self.b + self.eps)
        if self.mode in MODE_STATS:  # min/max or quantile range to [-1, 1]
            denom = self.b - self.a
            denom = torch.where(denom == 0, torch.tensor(self.eps, dtype=x.dtype), denom)
            return 2 * (x - self.a) / denom - 1
        return x

    def unnormalize(self, x: Tensor) -> Tensor:
        if self.mode == "MEAN_STD":
            return x * self.b + self.a
        if self.mode in MODE_STATS:
            denom = self.b - self.a
            denom = torch.where(denom == 0, torch.tensor(self.eps, dtype=x.dtype), denom)
            return (x + 1) / 2 * denom + self.a
        return x

    def describe(self) -> str:
        return self.mode


class ImportedACT(nn.Module):
    """Robot-side inputs -> robot-unit action chunk: what the ONNX graph computes.

    Inputs, in this order (:attr:`input_keys`): ``observation.state`` (B, S) float32 when the policy
    has one, ``observation.environment_state`` (B, E) float32 likewise, then each camera as uint8
    (B, H, W, 3). Each image is scaled to [0, 1] and put channels-first (LeRobot's
    ``prepare_observation_for_inference``), every input normalized as the preprocessor's normalizer
    step does, the network run, and the chunk unnormalized as the postprocessor does.
    """

    def __init__(self, ckpt: LeRobotCheckpoint) -> None:
        super().__init__()
        self.policy = LeRobotACTPolicy(ckpt)
        p = self.policy
        self.input_features = [f for f in (p.state, p.env_state) if f is not None] + p.images
        self.input_keys = [f.key for f in self.input_features]
        self.norms = nn.ModuleDict()
        for f in self.input_features:
            shape = (3, 1, 1) if f.type == "VISUAL" else (f.shape[0],)
            self.norms[f.key.replace(".", "__")] = FeatureNorm(ckpt.preprocessor, f, shape)
        self.unnorm = FeatureNorm(ckpt.postprocessor, ckpt.action, (ckpt.action.shape[0],))
        self.eval()

    @property
    def model(self) -> ACT:
        """LeRobot's network; exported node names start ``/model/...`` as the precision recipes expect."""
        return self.policy.model

    def modes(self) -> dict[str, str]:
        """Normalization mode per input feature and for the action (what was folded in)."""
        out = {f.key: self.norms[f.key.replace(".", "__")].describe() for f in self.input_features}
        out["action"] = self.unnorm.describe()
        return out

    def forward(self, *inputs: Tensor) -> Tensor:
        values = dict(zip(self.input_keys, inputs))
        state = env_state = None
        images = []
        for f in self.input_features:
            norm = self.norms[f.key.replace(".", "__")]
            x = values[f.key]
            if f.type == "VISUAL":
                x = x.permute(0, 3, 1, 2).to(torch.float32) / 255
                images.append(norm.normalize(x))
            elif f.key == STATE_KEY:
                state = norm.normalize(x)
            else:
                env_state = norm.normalize(x)
        return self.unnorm.unnormalize(self.policy.model(state, env_state, images))


__all__ = ["ACT", "ENV_STATE_KEY", "IMAGE_PREFIX", "STATE_KEY", "ImportedACT", "LeRobotACTPolicy", "sinusoid_2d"]
