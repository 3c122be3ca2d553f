"""Grow a trained ACT's backbone wider and deeper without changing what it computes (Net2Net).

Why: the int8 speed-up of the ACT on a CPU comes from its convolutions (benchmarks/bench_int8_by_size.py):
the small default backbone makes int8 only ~1.35x faster than fp32, a ResNet-18-like one (64/128/256
channels, 2 blocks per stage) ~2.3x. Training the wide network from scratch through the whole
DAgger pipeline costs hours on a 2-core CPU; growing the trained one costs nothing, and the
fine-tune that follows starts from a policy that already succeeds.

Two function-preserving operations (Chen, Goodfellow & Shlens, "Net2Net", ICLR 2016):

* **wider**: a tensor of ``c`` channels becomes ``C >= c`` channels, channel ``j`` a copy of
  channel ``j mod c``. The convolution (and BatchNorm) that produces it is copied row by row; every
  convolution that reads it splits each original input channel's weights over its copies with
  random positive fractions summing to one. The sum is unchanged, and the unequal fractions give
  the copies different gradients, so training pulls them apart (equal halves would keep them
  identical forever).
* **deeper**: a new residual block appended to a stage starts as the identity: its last BatchNorm
  has scale and shift zero, so the block adds 0 to its input, which is the output of a ReLU
  (non-negative) and therefore passes the block's final ReLU unchanged ("zero-init residual").

Both hold in training mode too (copies have equal batch statistics). Everything outside the
backbone must have the same shape in both networks and is copied; the backbone's output
projection (``feature_proj``) reads the last stage, so its input channels are split like any other.
"""

from __future__ import annotations

import torch
from torch import Tensor

from simbench.errors import ConfigError
from simbench.policies.act import ACTConfig, ACTPolicy

BN_KEYS = ("weight", "bias", "running_mean", "running_var")


def check_growable(small: ACTConfig, big: ACTConfig) -> None:
    """ConfigError (one line) unless ``big``'s backbone is ``small``'s, at least as wide and deep.

    The rest of the network is checked by shape when the weights are copied (as ``init_from`` does)."""
    if small.coord_conv != big.coord_conv:
        raise ConfigError(
            f"init_grow: policy.coord_conv={big.coord_conv} differs from the checkpoint's {small.coord_conv}"
        )
    if len(small.backbone_channels) != len(big.backbone_channels):
        raise ConfigError(
            f"init_grow: policy.backbone_channels={list(big.backbone_channels)} has {len(big.backbone_channels)} "
            "stages, "
            f"the checkpoint {len(small.backbone_channels)} ({list(small.backbone_channels)}); growing keeps the stage "
            "count"
        )
    if any(b < s for s, b in zip(small.backbone_channels, big.backbone_channels, strict=True)):
        raise ConfigError(
            f"init_grow: policy.backbone_channels={list(big.backbone_channels)} is narrower than the checkpoint's "
            f"{list(small.backbone_channels)} in some stage; growing only widens"
        )
    if big.backbone_blocks_per_stage < small.backbone_blocks_per_stage:
        raise ConfigError(
            f"init_grow: policy.backbone_blocks_per_stage={big.backbone_blocks_per_stage} is below the checkpoint's "
            f"{small.backbone_blocks_per_stage}; growing only deepens"
        )


def _split(channel_map: Tensor, gen: torch.Generator) -> Tensor:
    """Per new input channel, its share of the original channel's weights (shares of one original sum to 1)."""
    r = 0.5 + torch.rand(len(channel_map), generator=gen, dtype=torch.float64)
    total = torch.zeros(int(channel_map.max()) + 1, dtype=torch.float64).index_add_(0, channel_map, r)
    return (r / total[channel_map]).to(torch.float32)


def _channel_map(n_old: int, n_new: int) -> Tensor:
    return torch.arange(n_new) % n_old


class _Grower:
    """Writes the grown copy of each backbone layer of ``src`` into ``dst`` (state dicts, in place)."""

    def __init__(self, src: dict[str, Tensor], dst: dict[str, Tensor], gen: torch.Generator) -> None:
        self.src, self.dst, self.gen = src, dst, gen

    def conv(self, src_key: str, dst_key: str, in_map: Tensor | None, out_map: Tensor | None) -> None:
        """Conv weight ``src_key`` -> ``dst_key``: rows copied by ``out_map``, inputs split by ``in_map``."""
        w = self.src[src_key + ".weight"]
        if out_map is not None:
            w = w[out_map]
        if in_map is not None:
            w = w[:, in_map] * _split(in_map, self.gen).view(1, -1, 1, 1)
        self.dst[dst_key + ".weight"] = w.clone()
        if src_key + ".bias" in self.src:
            bias = self.src[src_key + ".bias"]
            self.dst[dst_key + ".bias"] = (bias[out_map] if out_map is not None else bias).clone()

    def bn(self, src_key: str, dst_key: str, out_map: Tensor) -> None:
        for k in BN_KEYS:
            self.dst[f"{dst_key}.{k}"] = self.src[f"{src_key}.{k}"][out_map].clone()
        self.dst[f"{dst_key}.num_batches_tracked"] = self.src[f"{src_key}.num_batches_tracked"].clone()


def grow_policy(source: ACTPolicy, target: ACTPolicy, seed: int = 0) -> None:
    """Load ``source``'s weights into ``target`` (a wider/deeper backbone), preserving the function.

    ``target``'s own initialisation is kept only for the new blocks' first layers; everything else
    comes from ``source``. Raises ConfigError when ``target`` is not a grown ``source``."""
    small, big = source.config, target.config
    check_growable(small, big)
    src = source.state_dict()
    dst = target.state_dict()
    g = _Grower(src, dst, torch.Generator().manual_seed(seed))
    bb = "model.backbone."
    c_old, c_new = small.backbone_channels, big.backbone_channels
    b_old, b_new = small.backbone_blocks_per_stage, big.backbone_blocks_per_stage

    stream = _channel_map(c_old[0], c_new[0])  # the stem's output
    g.conv(bb + "stem.0", bb + "stem.0", None, stream)
    g.bn(bb + "stem.1", bb + "stem.1", stream)
    for stage, (co, cn) in enumerate(zip(c_old, c_new, strict=True)):
        inner = out = _channel_map(co, cn)  # a block's middle tensor and the stage's residual stream
        for i in range(b_new):
            s, d = f"{bb}stages.{stage * b_old + i}.", f"{bb}stages.{stage * b_new + i}."
            if i >= b_old:  # a new block: the identity at step 0 (zero-init residual)
                dst[d + "bn2.weight"] = torch.zeros_like(dst[d + "bn2.weight"])
                dst[d + "bn2.bias"] = torch.zeros_like(dst[d + "bn2.bias"])
                continue
            g.conv(s + "conv1", d + "conv1", stream, inner)
            g.bn(s + "bn1", d + "bn1", inner)
            g.conv(s + "conv2", d + "conv2", inner, out)
            g.bn(s + "bn2", d + "bn2", out)
            if s + "shortcut.0.weight" in src:
                g.conv(s + "shortcut.0", d + "shortcut.0", stream, out)
                g.bn(s + "shortcut.1", d + "shortcut.1", out)
            stream = out  # block 0 (always an old one) moves the input onto the stage's stream
    g.conv("model.feature_proj", "model.feature_proj", stream, None)

    for key, value in src.items():  # everything outside the backbone: same shapes, copied
        if key.startswith((bb, "model.feature_proj.")):
            continue
        if key not in dst or dst[key].shape != value.shape:
            raise ConfigError(f"init_grow: parameter {key!r} differs outside the backbone; only the backbone may grow")
        dst[key] = value.clone()
    target.load_state_dict(dst)


@torch.no_grad()
def output_gap(source: ACTPolicy, target: ACTPolicy, seed: int = 0, n: int = 4) -> float:
    """Largest |action| difference between the two policies' chunks on ``n`` random observations
    (eval mode; each policy's mode is restored): the proof, printed at every grown start, that
    growing kept the function."""
    gen = torch.Generator().manual_seed(seed)
    cfg = source.config
    state = torch.randn(n, cfg.state_dim, generator=gen)
    images = torch.randint(0, 256, (n, len(cfg.cameras), *cfg.image_size, 3), generator=gen, dtype=torch.uint8)
    chunks = []
    for policy in (source, target):
        was_training = policy.training
        policy.eval()
        device = next(policy.parameters()).device
        chunks.append(policy.predict_action_chunk(state.to(device), images.to(device)).cpu())
        policy.train(was_training)
    return float((chunks[0] - chunks[1]).abs().max())
