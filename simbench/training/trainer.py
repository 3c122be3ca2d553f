"""The policy training loop (every architecture of :mod:`simbench.policies.factory`): AdamW, periodic validation loss, periodic closed-loop success, resumable.

Checkpoints (``<out_dir>/checkpoints/``):

* ``last.pt``: written every ``save_every`` steps and at the end; ``resume: true`` continues from it
  (model, optimizer, step, RNG, best-so-far).
* ``best.pt``: the checkpoint with the highest closed-loop success rate seen so far (ties broken by
  lower validation loss), as the published recipe chooses by success, not loss. Before the first
  success evaluation (or with evaluation off) it tracks the lowest validation loss instead.

With ``ema_decay > 0`` an exponential moving average of the weights (torch's ``AveragedModel``) is
what is validated, evaluated in the scene and written to ``best.pt``; ``last.pt`` keeps the raw
weights (to resume) and the average (``ema_state_dict``). Averaging is the usual remedy for
checkpoints whose closed-loop success swings (Diffusion Policy trains with it); what it did for
this ACT is in docs/2026-11-29-history-notes.md.

Checkpoints are written and read by :mod:`simbench.policies.checkpoint` (a plain dict, loaded
with ``torch.load(weights_only=True)``: nothing in a file is run).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from simbench.errors import ConfigError, bad_value
from simbench.policies.checkpoint import load_checkpoint, read_checkpoint, save_checkpoint
from simbench.policies.factory import make_policy
from simbench.training.data import TrainingData

Policy = torch.nn.Module
"""A network from :func:`simbench.policies.factory.make_policy` (``config``, ``forward(batch)``,
``predict_action_chunk``, ``normalize_action``)."""
EvalFn = Callable[[Policy, int], dict[str, float]]
"""(policy in eval mode, fps of its actions) -> {"success_rate": ..., ...}."""


def _yaml_defaults() -> dict[str, Any]:
    """``conf/train.yaml`` without its defaults list: the values every TrainConfig field starts from."""
    import yaml

    from simbench.paths import CONF_DIR

    node = yaml.safe_load((CONF_DIR / "train.yaml").read_text())
    node.pop("defaults", None)
    return node


_DEFAULTS = _yaml_defaults()


@dataclass
class TrainConfig:
    """Optimisation and bookkeeping (model sizes live in the policy config, conf/policy/act.yaml or smolvla.yaml).

    Every default is ``conf/train.yaml``'s (read once, on import): the YAML is the one source of
    defaults, and ``python -m simbench train`` with no overrides equals ``TrainConfig()``."""

    dataset: str | list[str] = _DEFAULTS["dataset"]
    """A LeRobot dataset, a list of them trained on as one (e.g. demonstrations plus expert takeovers),
    or ``expert`` (roll the scripted expert out in memory)."""
    out_dir: str = _DEFAULTS["out_dir"]
    steps: int = _DEFAULTS["steps"]
    batch_size: int = _DEFAULTS["batch_size"]
    lr: float = _DEFAULTS["lr"]
    lr_backbone: float = _DEFAULTS["lr_backbone"]
    weight_decay: float = _DEFAULTS["weight_decay"]
    warmup_steps: int = _DEFAULTS["warmup_steps"]
    grad_clip_norm: float = _DEFAULTS["grad_clip_norm"]
    augment_shift_px: int = _DEFAULTS["augment_shift_px"]
    """Random image translation (pixels at training resolution) against overfitting to 120 episodes."""
    val_fraction: float = _DEFAULTS["val_fraction"]
    val_every: int = _DEFAULTS["val_every"]
    val_batches: int = _DEFAULTS["val_batches"]
    eval_every: int = _DEFAULTS["eval_every"]
    """Closed-loop success every N steps (0: never); the best checkpoint is chosen by it."""
    eval_episodes: int = _DEFAULTS["eval_episodes"]
    eval_seed: int = _DEFAULTS["eval_seed"]
    """Seed base of the evaluation starts: not the protocol's (seed 0), so choosing the checkpoint
    does not peek at the starts the shipped model is scored on."""
    eval_policy: str = _DEFAULTS["eval_policy"]
    """Deployment config (conf/policy/) whose actions_per_chunk / n_action_steps the evaluation uses,
    so the checkpoint is chosen under the horizon it will run with."""
    save_every: int = _DEFAULTS["save_every"]
    log_every: int = _DEFAULTS["log_every"]
    seed: int = _DEFAULTS["seed"]
    device: str = _DEFAULTS["device"]
    """auto: cuda when available, else cpu."""
    num_threads: int = _DEFAULTS["num_threads"]
    resume: bool = _DEFAULTS["resume"]
    progress: bool = _DEFAULTS["progress"]
    max_episodes: int | None = _DEFAULTS["max_episodes"]
    frame_stride: int = _DEFAULTS["frame_stride"]
    """Every N-th frame is a training sample (its images kept in RAM); chunks use every frame."""
    ema_decay: float = _DEFAULTS["ema_decay"]
    """Exponential moving average of the weights (0: off); the average is what is evaluated and
    shipped. 0.999 averages over roughly the last 1,000 steps."""
    init_from: str | None = _DEFAULTS["init_from"]
    """Fine-tune: start from this checkpoint's weights (same shapes; the optimizer, schedule and step
    start fresh). Lets a second stage change what has no weights (dropout, lr, data) without paying
    for the first stage again."""
    init_grow: bool = _DEFAULTS["init_grow"]
    """With ``init_from``: the checkpoint's backbone may be narrower and shallower than the policy's;
    it is grown into it without changing the network's outputs (``training.grow``, Net2Net)."""

    def __post_init__(self) -> None:
        for key in ("lr", "lr_backbone", "weight_decay", "grad_clip_norm", "val_fraction", "ema_decay"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise bad_value(key, value, "must be a finite number")
        for key in ("lr", "lr_backbone", "weight_decay"):
            if getattr(self, key) < 0:
                raise bad_value(key, getattr(self, key), "must be >= 0")
        if self.grad_clip_norm <= 0:
            raise bad_value("grad_clip_norm", self.grad_clip_norm, "must be > 0")
        if isinstance(self.dataset, (list, tuple)):
            if not self.dataset or not all(isinstance(d, str) for d in self.dataset):
                raise bad_value("dataset", self.dataset, "give a path or a non-empty list of paths")
            self.dataset = [str(d) for d in self.dataset]
        elif not isinstance(self.dataset, str):
            raise bad_value("dataset", self.dataset, "give a path or a non-empty list of paths")
        positive = ("steps", "batch_size", "val_batches", "log_every", "save_every", "num_threads", "frame_stride",
                    "val_every")
        for key in (*positive, "eval_every", "eval_episodes", "eval_seed", "seed", "warmup_steps", "augment_shift_px"):
            value = getattr(self, key)
            minimum = 1 if key in positive else 0
            if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
                raise bad_value(f"train.{key}", value, f"must be an integer >= {minimum}")
        for key in ("resume", "progress", "init_grow"):
            if not isinstance(getattr(self, key), bool):
                raise bad_value(key, getattr(self, key), "must be true or false")
        if self.device not in ("auto", "cpu", "cuda"):
            raise bad_value("device", self.device, "choose auto, cpu or cuda")
        if not 0 <= self.val_fraction < 1:
            raise bad_value("val_fraction", self.val_fraction, "must be in [0, 1)")
        if not 0 <= self.ema_decay < 1:
            raise bad_value("ema_decay", self.ema_decay, "must be in [0, 1) (0: off)")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        names = {f.name for f in fields(cls)}
        unknown = sorted(k for k in data if k not in names)
        if unknown:
            raise ConfigError(f"unknown train option {unknown[0]!r}; valid: {', '.join(sorted(names))}")
        return cls(**data)


class NonFiniteLoss(ConfigError):
    """The loss became NaN or infinite: training stops instead of saving broken weights."""


@dataclass
class TrainResult:
    step: int
    val_loss: float | None
    best_success: float | None
    best_path: Path
    last_path: Path
    history: list[dict[str, float]] = field(default_factory=list)
    seconds: float = 0.0


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise bad_value("device", name, "CUDA is not available on this machine; use cpu or auto")
    return torch.device(name)


def make_optimizer(policy: Policy, cfg: TrainConfig) -> torch.optim.Optimizer:
    """AdamW with a separate backbone learning rate, as LeRobot's ACT does."""
    backbone = [p for n, p in policy.named_parameters() if "backbone" in n]
    rest = [p for n, p in policy.named_parameters() if "backbone" not in n]
    return torch.optim.AdamW(
        [{"params": rest, "lr": cfg.lr}, {"params": backbone, "lr": cfg.lr_backbone}],
        weight_decay=cfg.weight_decay,
    )


def lr_factor(step: int, cfg: TrainConfig) -> float:
    """Linear warm-up then cosine decay to 10%."""
    if step < cfg.warmup_steps:
        return (step + 1) / cfg.warmup_steps
    t = (step - cfg.warmup_steps) / max(1, cfg.steps - cfg.warmup_steps)
    return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, t)))


def shift_augment(images: torch.Tensor, max_px: int, gen: torch.Generator) -> torch.Tensor:
    """Random translation by up to ``max_px`` (edge-replicated), one shift per sample and camera."""
    if max_px <= 0:
        return images
    b, n, h, w, c = images.shape
    x = images.reshape(b * n, h, w, c).permute(0, 3, 1, 2).float()
    x = torch.nn.functional.pad(x, (max_px,) * 4, mode="replicate")
    dy = torch.randint(0, 2 * max_px + 1, (b * n,), generator=gen)
    dx = torch.randint(0, 2 * max_px + 1, (b * n,), generator=gen)
    rows = (dy[:, None] + torch.arange(h)[None, :])  # (BN, h)
    cols = (dx[:, None] + torch.arange(w)[None, :])  # (BN, w)
    idx = torch.arange(b * n)[:, None, None]
    out = x.permute(0, 2, 3, 1)[idx, rows[:, :, None], cols[:, None, :]]  # (BN, h, w, c)
    return out.to(torch.uint8).reshape(b, n, h, w, c)


def init_weights(policy: Policy, path: str | Path, grow: bool = False, seed: int = 0) -> None:
    """Copy a checkpoint's weights into ``policy`` (ConfigError when the file or the shapes do not fit).

    Normalization buffers come along: a fine-tuned model keeps the statistics it was trained with.
    ``grow``: the checkpoint's backbone may be narrower and shallower (``training.grow``); the line
    printed then carries the largest action difference the growing left (float rounding, ~1e-6)."""
    source, _ = load_checkpoint(path, key="init_from")
    if grow:
        from simbench.training.grow import grow_policy, output_gap

        grow_policy(source, policy, seed)
        print(
            f"initialised from {path}, backbone grown to {list(policy.config.backbone_channels)} x "
            f"{policy.config.backbone_blocks_per_stage} blocks: max |action difference| "
            f"{output_gap(source, policy, seed):.1e}"
        )
        return
    own = policy.state_dict()
    theirs = source.state_dict()
    bad = sorted(k for k in own if k not in theirs or theirs[k].shape != own[k].shape)
    if bad:
        raise ConfigError(
            f"init_from={str(path)!r} does not fit policy: parameter {bad[0]!r} differs; model sizes must match"
        )
    policy.load_state_dict(theirs)
    print(f"initialised from {path}")


@torch.no_grad()
def validation_loss(policy: Policy, data: TrainingData, cfg: TrainConfig, device: torch.device) -> float | None:
    """Mean L1 (normalized actions, latent at the prior mean) over fixed held-out batches."""
    frames = data.val_frames
    if len(frames) == 0:
        return None
    rng = np.random.default_rng(1234)  # the same batches every time: comparable numbers
    policy.eval()
    total, count = 0.0, 0
    for _ in range(cfg.val_batches):
        sel = rng.choice(frames, size=min(cfg.batch_size, len(frames)), replace=False)
        batch = {k: v.to(device) for k, v in data.batch(sel, policy.config.chunk_size).items()}
        pred = policy.predict_action_chunk(batch["state"], batch["images"])
        err = (policy.normalize_action(pred) - policy.normalize_action(batch["action"])).abs()
        valid = (~batch["action_is_pad"]).unsqueeze(-1).float()
        total += float((err * valid).sum() / (valid.sum() * err.shape[-1]).clamp(min=1))
        count += 1
    policy.train()
    return total / count


def train(
    policy_cfg: Any,
    cfg: TrainConfig,
    data: TrainingData,
    eval_fn: EvalFn | None = None,
) -> TrainResult:
    """Train (or resume) and return where the checkpoints are."""
    torch.set_num_threads(cfg.num_threads)
    device = pick_device(cfg.device)
    out = Path(cfg.out_dir)
    ckpt_dir = out / "checkpoints"
    last_path, best_path = ckpt_dir / "last.pt", ckpt_dir / "best.pt"
    torch.manual_seed(cfg.seed)
    policy = make_policy(policy_cfg, data.stats)
    policy.to(device).train()
    opt = make_optimizer(policy, cfg)
    ema: AveragedModel | None = None
    gen = torch.Generator().manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    step, best_success, best_val = 0, None, None
    history: list[dict[str, float]] = []
    # a path or a list (__post_init__)
    data_meta = {"fps": data.fps, "cameras": list(data.cameras), "dataset": cfg.dataset}

    resuming = cfg.resume and last_path.is_file()
    if cfg.init_from and not resuming:  # a resumed fine-tune continues from its own last.pt
        init_weights(policy, cfg.init_from, grow=cfg.init_grow, seed=cfg.seed)
    if cfg.ema_decay > 0:  # after init_from: the average starts from the weights training starts from
        ema = AveragedModel(policy, multi_avg_fn=get_ema_multi_avg_fn(cfg.ema_decay), use_buffers=True)
    if resuming:
        ckpt = read_checkpoint(last_path, device, key="resume (last.pt)")
        # Through from_dict: a field added since the checkpoint was written takes its default.
        if ckpt.get("arch") != policy.name or (
            type(policy_cfg).from_dict(ckpt.get("config") or {}).to_dict() != policy_cfg.to_dict()
        ):
            raise ConfigError(
                f"{last_path} was trained with a different {ckpt.get('arch')} config; use a new out_dir or resume=false"
            )
        policy.load_state_dict(ckpt["state_dict"])
        if ema is not None:
            if "ema_state_dict" not in ckpt:
                raise ConfigError(f"{last_path} was trained without ema_decay; use a new out_dir or resume=false")
            ema.load_state_dict(ckpt["ema_state_dict"])
        opt.load_state_dict(ckpt["optimizer"])
        step = int(ckpt["step"])
        best_success, best_val = ckpt.get("best_success"), ckpt.get("best_val")
        history = list(ckpt.get("history", []))
        rng.bit_generator.state = ckpt["np_rng"]
        gen.set_state(ckpt["torch_gen"])
        print(f"resuming from {last_path} at step {step}")

    # what is validated, evaluated and saved as best.pt: the average when there is one
    evaluated: Policy = policy if ema is None else ema.module  # type: ignore[assignment]

    def save_last() -> None:
        extra: dict[str, Any] = {} if ema is None else {"ema_state_dict": ema.state_dict()}
        save_checkpoint(
            last_path, policy, data_meta,
            {"step": step, "optimizer": opt.state_dict(), "best_success": best_success, "best_val": best_val,
             "history": history, "np_rng": rng.bit_generator.state, "torch_gen": gen.get_state(),
             "train_config": asdict(cfg), **extra},
        )

    from tqdm import tqdm

    bar = tqdm(total=cfg.steps, initial=step, disable=not cfg.progress, desc=f"train {policy.name}", dynamic_ncols=True)
    t0 = time.time()
    val = None
    base_lrs = [g["lr"] for g in opt.param_groups]
    while step < cfg.steps:
        for g, lr in zip(opt.param_groups, base_lrs):
            g["lr"] = lr * lr_factor(step, cfg)
        frames = rng.choice(data.train_frames, size=cfg.batch_size)
        batch = data.batch(frames, policy_cfg.chunk_size)
        batch["images"] = shift_augment(batch["images"], cfg.augment_shift_px, gen)
        batch = {k: v.to(device) for k, v in batch.items()}
        loss, info = policy(batch)
        if not torch.isfinite(loss):
            bar.close()
            raise NonFiniteLoss(
                f"training loss is {float(loss.detach())} at step {step + 1} (lr={cfg.lr}, "
                f"lr_backbone={cfg.lr_backbone}); "
                f"stopped before saving it; checkpoints so far are in {ckpt_dir}"
            )
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(policy.parameters(), cfg.grad_clip_norm)
        opt.step()
        if ema is not None:
            ema.update_parameters(policy)
        step += 1
        bar.update(1)
        if step % cfg.log_every == 0:
            bar.set_postfix(loss=f"{loss.item():.3f}", **{k: f"{v:.3f}" for k, v in info.items()})
        record: dict[str, float] = {}
        if step % cfg.val_every == 0 or step == cfg.steps:
            val = validation_loss(evaluated, data, cfg, device)
            if val is not None:
                record["val_loss"] = val
        if eval_fn is not None and cfg.eval_every > 0 and (step % cfg.eval_every == 0 or step == cfg.steps):
            evaluated.eval()
            metrics = eval_fn(evaluated, data.fps)
            evaluated.train()
            record.update({f"eval_{k}": float(v) for k, v in metrics.items()})
        if record:
            record.update(step=step, train_loss=float(loss.detach()), elapsed_s=time.time() - t0)
            history.append(record)
            bar.write(json.dumps({k: round(v, 4) for k, v in record.items()}))
            success = record.get("eval_success_rate")
            better = False
            if success is not None:
                better = best_success is None or success > best_success or (
                    success == best_success and val is not None and (best_val is None or val < best_val)
                )
                if better:
                    best_success = success
            elif best_success is None and val is not None and (best_val is None or val < best_val):
                better = True
            if val is not None and (best_val is None or val < best_val) and (better or success is None):
                best_val = val
            if better:
                save_checkpoint(
                    best_path, evaluated, data_meta, {"step": step, "val_loss": val, "success": best_success}
                )
        if step % cfg.save_every == 0 or step == cfg.steps:
            save_last()
    bar.close()
    if not best_path.exists():
        save_checkpoint(best_path, evaluated, data_meta, {"step": step, "val_loss": val, "success": best_success})
    (out / "history.json").write_text(json.dumps(history, indent=1))
    return TrainResult(step, val, best_success, best_path, last_path, history, time.time() - t0)


__all__ = [
    "NonFiniteLoss",
    "TrainConfig",
    "TrainResult",
    "read_checkpoint",
    "init_weights",
    "load_checkpoint",
    "save_checkpoint",
    "train",
    "validation_loss",
]
