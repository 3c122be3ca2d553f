"""The published models at their deployed sizes, as torch modules, exported to shape-only ONNX graphs.

torchvision is not importable here, so the architectures are written out: ResNet-18/50 and
MobileNetV2 as in their papers (torchvision's layout), NanoSAM's ResNet-18 image encoder (ResNet-18
to layer 4 plus its 256-channel neck), LeRobot's default ACT (ResNet-18 backbone over three 480x640
cameras, d_model 512, 4 encoder and 1 decoder layers, feed-forward 3200, chunk 100) and a
SmolVLA-shaped policy at its published dimensions (SigLIP-base vision at 512x512 with a 4x pixel
shuffle to 64 tokens per camera, the first 16 of SmolLM2-360M's layers (960 wide, 15 query and 5
key/value heads, MLP 2560), a 720-wide action expert with 16 layers alternating cross- and
self-attention, chunk 50, 10 flow steps).

Weights are random and never written: :func:`export_shape_only` exports with the parameters as
graph inputs and turns them into data-less initializers, so a 450 M-parameter graph is a few
hundred kB and the latency model reads its shapes only.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
import onnx
import onnx.numpy_helper
import torch
from torch import nn
from torch.nn import functional as F

# --- CNNs (torchvision's layout) ---------------------------------------------------------------


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, cin: int, c: int, stride: int) -> None:
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(cin, c, 3, stride, 1, bias=False), nn.BatchNorm2d(c)
        self.conv2, self.bn2 = nn.Conv2d(c, c, 3, 1, 1, bias=False), nn.BatchNorm2d(c)
        self.down = (nn.Sequential(nn.Conv2d(cin, c, 1, stride, bias=False), nn.BatchNorm2d(c))
                     if stride != 1 or cin != c else None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        return F.relu(y + (x if self.down is None else self.down(x)))


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, cin: int, c: int, stride: int) -> None:
        super().__init__()
        out = c * 4
        self.conv1, self.bn1 = nn.Conv2d(cin, c, 1, bias=False), nn.BatchNorm2d(c)
        self.conv2, self.bn2 = nn.Conv2d(c, c, 3, stride, 1, bias=False), nn.BatchNorm2d(c)
        self.conv3, self.bn3 = nn.Conv2d(c, out, 1, bias=False), nn.BatchNorm2d(out)
        self.down = (nn.Sequential(nn.Conv2d(cin, out, 1, stride, bias=False), nn.BatchNorm2d(out))
                     if stride != 1 or cin != out else None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn3(self.conv3(F.relu(self.bn2(self.conv2(y)))))
        return F.relu(y + (x if self.down is None else self.down(x)))


class ResNet(nn.Module):
    """ResNet-18 (``depth=18``) or ResNet-50; ``classes=0`` stops after layer 4 (a backbone)."""

    def __init__(self, depth: int, classes: int = 1000) -> None:
        super().__init__()
        block, counts = {18: (BasicBlock, (2, 2, 2, 2)), 50: (Bottleneck, (3, 4, 6, 3))}[depth]
        self.stem = nn.Sequential(nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(),
                                  nn.MaxPool2d(3, 2, 1))
        layers, cin = [], 64
        for i, n in enumerate(counts):
            c = 64 * 2**i
            for j in range(n):
                layers.append(block(cin, c, 2 if (j == 0 and i > 0) else 1))
                cin = c * block.expansion
        self.layers = nn.Sequential(*layers)
        self.out_channels = cin
        self.fc = nn.Linear(cin, classes) if classes else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.layers(self.stem(x))
        return y if self.fc is None else self.fc(y.mean((2, 3)))


class InvertedResidual(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int, expand: int) -> None:
        super().__init__()
        hidden = cin * expand
        layers: list[nn.Module] = []
        if expand != 1:
            layers += [nn.Conv2d(cin, hidden, 1, bias=False), nn.BatchNorm2d(hidden), nn.ReLU6()]
        layers += [nn.Conv2d(hidden, hidden, 3, stride, 1, groups=hidden, bias=False), nn.BatchNorm2d(hidden),
                   nn.ReLU6(), nn.Conv2d(hidden, cout, 1, bias=False), nn.BatchNorm2d(cout)]
        self.block = nn.Sequential(*layers)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.block(x) if self.residual else self.block(x)


class MobileNetV2(nn.Module):
    def __init__(self, classes: int = 1000) -> None:
        super().__init__()
        cfg = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2),
               (6, 320, 1, 1)]
        layers: list[nn.Module] = [nn.Conv2d(3, 32, 3, 2, 1, bias=False), nn.BatchNorm2d(32), nn.ReLU6()]
        cin = 32
        for t, c, n, s in cfg:
            for i in range(n):
                layers.append(InvertedResidual(cin, c, s if i == 0 else 1, t))
                cin = c
        layers += [nn.Conv2d(cin, 1280, 1, bias=False), nn.BatchNorm2d(1280), nn.ReLU6()]
        self.features = nn.Sequential(*layers)
        self.fc = nn.Linear(1280, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.features(x).mean((2, 3)))


class NanoSamEncoder(nn.Module):
    """NanoSAM's ResNet-18 image encoder: ResNet-18 to layer 4, then a neck to SAM's 256x64x64 embedding."""

    def __init__(self) -> None:
        super().__init__()
        self.backbone = ResNet(18, classes=0)
        self.proj = nn.Conv2d(512, 256, 1)
        self.up = nn.ConvTranspose2d(256, 256, 3, 2, 1, 1)
        self.head = nn.Sequential(nn.GELU(), nn.Conv2d(256, 256, 1), nn.GELU(), nn.Conv2d(256, 256, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.up(self.proj(self.backbone(x))))


# --- ACT (LeRobot's default) -------------------------------------------------------------------


class ACT(nn.Module):
    """LeRobot ACT at inference: shared ResNet-18 over each camera, 1x1 projection to d_model,
    encoder over [latent, state, image tokens], decoder with ``chunk`` queries, action head."""

    def __init__(self, cameras: int = 3, dim: int = 512, heads: int = 8, ff: int = 3200, enc: int = 4,
                 dec: int = 1, chunk: int = 100, state: int = 14, action: int = 14) -> None:
        super().__init__()
        self.cameras, self.chunk = cameras, chunk
        self.backbone = ResNet(18, classes=0)
        self.proj = nn.Conv2d(512, dim, 1)
        self.state = nn.Linear(state, dim)
        self.latent = nn.Parameter(torch.zeros(1, 1, dim))
        self.encoder = nn.TransformerEncoder(nn.TransformerEncoderLayer(dim, heads, ff, 0.0, batch_first=True), enc,
                                             enable_nested_tensor=False)
        self.decoder = nn.TransformerDecoder(nn.TransformerDecoderLayer(dim, heads, ff, 0.0, batch_first=True), dec)
        self.queries = nn.Parameter(torch.zeros(1, chunk, dim))
        self.head = nn.Linear(dim, action)

    def forward(self, state: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
        feats = self.proj(self.backbone(images))  # (cameras, dim, h, w)
        tokens = feats.flatten(2).transpose(1, 2).reshape(1, -1, feats.shape[1])
        x = torch.cat([self.latent, self.state(state)[:, None], tokens], 1)
        memory = self.encoder(x)
        return self.head(self.decoder(self.queries, memory))


# --- SmolVLA-shaped ----------------------------------------------------------------------------


class Block(nn.Module):
    """A pre-norm transformer block: attention (self, or cross to given keys/values) and an MLP."""

    def __init__(self, dim: int, heads: int, kv_heads: int, mlp: int, gated: bool, kv_dim: int | None = None,
                 head_dim: int = 64) -> None:
        super().__init__()
        self.heads, self.kv_heads, self.hd = heads, kv_heads, head_dim
        self.n1, self.n2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.q = nn.Linear(dim, heads * head_dim)
        self.k = nn.Linear(kv_dim or dim, kv_heads * head_dim)
        self.v = nn.Linear(kv_dim or dim, kv_heads * head_dim)
        self.o = nn.Linear(heads * head_dim, dim)
        self.gated = gated
        self.up = nn.Linear(dim, mlp * (2 if gated else 1))
        self.down = nn.Linear(mlp, dim)

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        h = self.n1(x)
        src = h if context is None else context
        b, n, _ = h.shape
        q = self.q(h).view(b, n, self.heads, self.hd).transpose(1, 2)
        k = self.k(src).view(b, -1, self.kv_heads, self.hd).transpose(1, 2)
        v = self.v(src).view(b, -1, self.kv_heads, self.hd).transpose(1, 2)
        rep = self.heads // self.kv_heads
        k, v = k.repeat_interleave(rep, 1), v.repeat_interleave(rep, 1)
        a = torch.softmax(q @ k.transpose(-1, -2) / self.hd**0.5, -1) @ v
        x = x + self.o(a.transpose(1, 2).reshape(b, n, -1))
        u = self.up(self.n2(x))
        if self.gated:
            g, u = u.chunk(2, -1)
            u = F.silu(g) * u
        else:
            u = F.gelu(u, approximate="tanh")
        return x + self.down(u)


class SmolVLAVision(nn.Module):
    """SigLIP-base (patch 16, 768 wide, 12 layers, MLP 3072) over each 512x512 camera, pixel shuffle
    4 (1024 patches -> 64 tokens) and a linear connector to the backbone's 960."""

    def __init__(self, size: int = 512, dim: int = 768, layers: int = 12, shuffle: int = 4, out: int = 960) -> None:
        super().__init__()
        self.patch = nn.Conv2d(3, dim, 16, 16)
        self.pos = nn.Parameter(torch.zeros(1, (size // 16) ** 2, dim))
        self.blocks = nn.ModuleList(Block(dim, 12, 12, 3072, False) for _ in range(layers))
        self.norm = nn.LayerNorm(dim)
        self.shuffle, self.grid = shuffle, size // 16
        self.connector = nn.Linear(dim * shuffle**2, out)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = self.patch(images).flatten(2).transpose(1, 2) + self.pos
        for blk in self.blocks:
            x = blk(x)
        x = self.norm(x)
        c, g, s = x.shape[-1], self.grid, self.shuffle
        x = x.reshape(-1, g // s, s, g // s, s, c).permute(0, 1, 3, 2, 4, 5).reshape(-1, (g // s) ** 2, s * s * c)
        return self.connector(x).reshape(1, -1, self.connector.out_features)


class SmolVLAPrefill(nn.Module):
    """The first 16 SmolLM2-360M layers over [visual, language, state] tokens; returns every
    layer's keys and values (what the expert attends to)."""

    def __init__(self, dim: int = 960, layers: int = 16, state: int = 32, vocab: int = 49152) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, dim)
        self.state = nn.Linear(state, dim)
        self.blocks = nn.ModuleList(Block(dim, 15, 5, 2560, True) for _ in range(layers))

    def forward(self, visual: torch.Tensor, tokens: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
        x = torch.cat([visual, self.embed(tokens), self.state(state)[:, None]], 1)
        kvs = []
        for blk in self.blocks:
            h = blk.n1(x)
            kvs.append(torch.stack([blk.k(h), blk.v(h)]))
            x = blk(x)
        return torch.stack(kvs)  # (layers, 2, 1, prefix, 320)


class SmolVLAExpert(nn.Module):
    """One flow-matching step: 16 expert layers (720 wide) over the 50 action tokens; even layers
    cross-attend to the prefill's keys/values, odd layers self-attend."""

    def __init__(self, dim: int = 720, layers: int = 16, action: int = 32, kv: int = 320) -> None:
        super().__init__()
        self.inp = nn.Linear(action, dim)
        self.time = nn.Sequential(nn.Linear(2 * dim, dim), nn.SiLU(), nn.Linear(dim, dim))
        self.blocks = nn.ModuleList(Block(dim, 15, 5, 2048, True, kv_dim=kv if i % 2 == 0 else None)
                                    for i in range(layers))
        self.out = nn.Linear(dim, action)

    def forward(self, x_t: torch.Tensor, t_emb: torch.Tensor, kv: torch.Tensor) -> torch.Tensor:
        x = self.inp(x_t)
        x = self.time(torch.cat([x, t_emb.expand_as(x)], -1))
        for i, blk in enumerate(self.blocks):
            x = blk(x, kv[i, 0] if i % 2 == 0 else None)
        return self.out(x)


# --- export ------------------------------------------------------------------------------------

SMALL = 4096
"""Parameters up to this many elements are written (as zeros); larger ones keep only their shape."""


def export_shape_only(module: nn.Module, args: tuple[torch.Tensor, ...], names: list[str], path: Path) -> Path:
    """Export ``module`` with its parameters as data-less initializers (shapes only)."""
    fastpath = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(False)  # the fused encoder kernel has no ONNX form
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(module.eval(), args, str(path), input_names=names, opset_version=17, dynamo=False,
                              export_params=False, do_constant_folding=True, keep_initializers_as_inputs=False)
    finally:
        torch.backends.mha.set_fastpath_enabled(fastpath)
    model = onnx.load(str(path))
    real = set(names)
    params = [i for i in model.graph.input if i.name not in real]
    for value in params:
        tt = value.type.tensor_type
        dims = [d.dim_value for d in tt.shape.dim]
        if math.prod(dims) <= SMALL:  # shape inference may read small constants' values: zeros
            init = onnx.numpy_helper.from_array(np.zeros(dims, onnx.helper.tensor_dtype_to_np_dtype(tt.elem_type)),
                                                value.name)
        else:
            init = onnx.TensorProto(name=value.name, data_type=tt.elem_type, dims=dims)
        model.graph.initializer.append(init)
        model.graph.input.remove(value)
    onnx.save(model, str(path))
    return path


def build(name: str, out_dir: Path) -> dict[str, tuple[Path, int]]:
    """Export one published model's graph(s) into ``out_dir``: ``{component: (path, repeat)}``."""
    torch.manual_seed(0)
    out_dir.mkdir(parents=True, exist_ok=True)
    img = lambda n, h, w: torch.zeros(n, 3, h, w)
    if name in ("resnet18", "resnet50"):
        return {"model": (export_shape_only(ResNet(int(name[6:])), (img(1, 224, 224),), ["image"],
                                            out_dir / f"{name}.onnx"), 1)}
    if name.startswith("mobilenetv2"):
        size = int(name.split("_")[1]) if "_" in name else 224
        return {"model": (export_shape_only(MobileNetV2(), (img(1, size, size),), ["image"],
                                            out_dir / f"{name}.onnx"), 1)}
    if name == "nanosam_encoder":
        return {"model": (export_shape_only(NanoSamEncoder(), (img(1, 1024, 1024),), ["image"],
                                            out_dir / "nanosam_encoder.onnx"), 1)}
    if name == "act":
        return {"model": (export_shape_only(ACT(), (torch.zeros(1, 14), img(3, 480, 640)), ["state", "images"],
                                            out_dir / "act.onnx"), 1)}
    if name == "smolvla":
        prefix = 3 * 64 + 48 + 1
        return {
            "vision": (export_shape_only(SmolVLAVision(), (img(3, 512, 512),), ["images"],
                                         out_dir / "smolvla_vision.onnx"), 1),
            "prefill": (export_shape_only(SmolVLAPrefill(), (torch.zeros(1, 192, 960),
                                                              torch.zeros(1, 48, dtype=torch.long), torch.zeros(1, 32)),
                                          ["visual", "tokens", "state"], out_dir / "smolvla_prefill.onnx"), 1),
            "expert": (export_shape_only(SmolVLAExpert(), (torch.zeros(1, 50, 32), torch.zeros(1, 1, 720),
                                                            torch.zeros(16, 2, 1, prefix, 320)),
                                         ["x_t", "t", "kv"], out_dir / "smolvla_expert.onnx"), 10),
        }
    raise ValueError(f"unknown published model {name!r}")
