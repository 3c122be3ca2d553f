"""A tiny ACT trains on a tiny synthetic dataset; checkpoints resume; bad input is one line + exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from simbench.__main__ import main as cli
from simbench.errors import ConfigError
from simbench.training.synthetic import synthetic_data, tiny_config
from simbench.training.trainer import TrainConfig, load_checkpoint, train


def _cfg(tmp_path: Path, steps: int, **kw) -> TrainConfig:
    base = dict(out_dir=str(tmp_path / "run"), steps=steps, batch_size=8, val_every=50, val_batches=4, save_every=50,
                warmup_steps=5, progress=False, eval_every=0, augment_shift_px=1)
    base.update(kw)
    return TrainConfig(**base)


def test_tiny_act_loss_falls(tmp_path: Path) -> None:
    data = synthetic_data()
    result = train(tiny_config(), _cfg(tmp_path, 150), data)
    vals = [h["val_loss"] for h in result.history if "val_loss" in h]
    assert len(vals) == 3 and vals[-1] < vals[0]
    policy, ckpt = load_checkpoint(result.best_path)
    assert ckpt["arch"] == "act" and ckpt["fps"] == 30


def test_resume_continues_from_last(tmp_path: Path) -> None:
    data = synthetic_data()
    train(tiny_config(), _cfg(tmp_path, 50), data)
    result = train(tiny_config(), _cfg(tmp_path, 100), data)
    assert result.step == 100
    assert [h["step"] for h in result.history] == [50, 100]


def test_resume_with_other_config_is_refused(tmp_path: Path) -> None:
    data = synthetic_data()
    train(tiny_config(), _cfg(tmp_path, 50), data)
    with pytest.raises(ConfigError, match="different act config"):
        train(tiny_config(dim_model=64), _cfg(tmp_path, 100), data)


def test_resume_of_a_checkpoint_from_before_a_new_config_field(tmp_path: Path) -> None:
    """A field added to ACTConfig later (default: old behaviour) must not block resuming an older run."""
    data = synthetic_data()
    first = train(tiny_config(), _cfg(tmp_path, 50), data)
    ckpt = torch.load(first.last_path, weights_only=False)
    del ckpt["config"]["coord_conv"]
    torch.save(ckpt, first.last_path)
    assert train(tiny_config(), _cfg(tmp_path, 100), data).step == 100
    with pytest.raises(ConfigError, match="different act config"):
        train(tiny_config(coord_conv=True), _cfg(tmp_path, 150), data)


def test_init_from_starts_from_the_checkpoint_weights(tmp_path: Path) -> None:
    """Fine-tuning (init_from) starts at step 0 from the stage-1 weights, dropout may change, sizes may not."""
    data = synthetic_data()
    stage1 = train(tiny_config(dropout=0.1), _cfg(tmp_path / "a", 50), data)
    source, _ = load_checkpoint(stage1.last_path)
    # lr 0 and no dropout: the fine-tuned weights must equal the stage-1 weights exactly
    stage2 = train(
        tiny_config(dropout=0.0),
        _cfg(tmp_path / "b", 5, init_from=str(stage1.last_path), lr=0.0, lr_backbone=0.0),
        data,
    )
    assert stage2.step == 5 and stage2.history[0]["step"] == 5
    tuned, _ = load_checkpoint(stage2.last_path)
    for (name, a), b in zip(source.state_dict().items(), tuned.state_dict().values()):
        if "num_batches_tracked" not in name and "running_" not in name:
            assert torch.equal(a, b), name
    with pytest.raises(ConfigError, match="does not fit"):
        train(tiny_config(dim_model=64), _cfg(tmp_path / "c", 5, init_from=str(stage1.last_path)), data)


def test_ema_is_the_closed_form_average_and_resumes(tmp_path: Path) -> None:
    """ema_decay d: the first update copies the weights, then e <- d e + (1 - d) w, across resumes;
    best.pt holds the average, last.pt the raw weights to resume from."""
    data = synthetic_data()
    raw = []
    for steps in (1, 2, 3):  # each call resumes last.pt and runs one more step
        result = train(tiny_config(), _cfg(tmp_path, steps, ema_decay=0.5, save_every=1), data)
        raw.append(torch.load(result.last_path, weights_only=False))
    ema_state = raw[-1]["ema_state_dict"]
    best, _ = load_checkpoint(result.best_path)
    checked = 0
    for name, w3 in raw[-1]["state_dict"].items():
        if not torch.is_floating_point(w3):
            continue
        expected = 0.25 * raw[0]["state_dict"][name] + 0.25 * raw[1]["state_dict"][name] + 0.5 * w3
        assert torch.allclose(ema_state[f"module.{name}"], expected, atol=1e-6), name
        checked += 1
    assert checked > 20
    moved = [
        n
        for n, w in raw[-1]["state_dict"].items()
        if torch.is_floating_point(w) and not torch.equal(w, raw[0]["state_dict"][n])
    ]
    assert moved, "training must change the raw weights"
    name = moved[0]
    assert torch.equal(best.state_dict()[name], ema_state[f"module.{name}"])  # best.pt is the average
    assert not torch.equal(best.state_dict()[name], raw[-1]["state_dict"][name])
    with pytest.raises(ConfigError, match="ema_decay"):
        TrainConfig(ema_decay=1.0)


def test_checkpoint_of_other_architecture(tmp_path: Path) -> None:
    path = tmp_path / "other.pt"
    torch.save({"arch": "diffusion", "state_dict": {}}, path)
    with pytest.raises(ConfigError, match="not a policy checkpoint"):
        load_checkpoint(path)
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a checkpoint")
    with pytest.raises(ConfigError, match="is not a (checkpoint the safe loader accepts|readable torch file)"):
        load_checkpoint(garbage)


def test_train_cli_missing_dataset(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = cli(["train", "+policy=act", f"dataset={tmp_path / 'nope'}", f"out_dir={tmp_path / 'out'}", "eval_every=0"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "dataset not found" in err[0]
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "args, needle",
    [(["+policy=act_int8"], "runtime config"), (["policy.chunk_size=10", "policy.n_action_steps=20"], "n_action_steps"),
     (["stepz=3"], "stepz"), (["steps=0"], "train.steps")],
)
def test_train_cli_bad_config(args: list[str], needle: str, capsys: pytest.CaptureFixture[str]) -> None:
    code = cli(["train", *args])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and needle in err[0]


def test_finetune_recipe_composes_into_valid_configs() -> None:
    """conf/recipe/act_finetune.yaml (stage 2 of the shipped model) names only real keys."""
    from simbench.config.compose import compose_dict as compose_config
    from simbench.policies.act import ACTConfig

    cfg = compose_config("train", ["+policy=act", "+recipe=act_finetune"])
    policy = ACTConfig.from_dict(cfg.pop("policy"))
    train_cfg = TrainConfig.from_dict(cfg)
    assert policy.dropout == 0.0 and train_cfg.init_from and train_cfg.init_from.endswith("last.pt")
    stage1 = compose_config("train", ["+policy=act"])
    assert train_cfg.init_from.startswith(stage1["out_dir"]) and train_cfg.out_dir != stage1["out_dir"]


def test_dagger_recipe_fine_tunes_the_takeover_model_on_its_data_plus_a_round() -> None:
    """conf/recipe/act_dagger.yaml (the shipped model) starts from +recipe=act_takeover's best.pt, keeps
    its model sizes and data and adds one round of takeovers: a config slip here would silently train
    something other than what docs/2026-11-25-dagger-stage2.md measured."""
    from simbench.config.compose import compose_dict as compose_config
    from simbench.policies.act import ACTConfig

    cfg = compose_config("train", ["+policy=act", "+recipe=act_dagger"])
    stage1 = compose_config("train", ["+policy=act", "+recipe=act_takeover"])
    assert ACTConfig.from_dict(cfg.pop("policy")) == ACTConfig.from_dict(stage1.pop("policy"))
    train_cfg, stage1_cfg = TrainConfig.from_dict(cfg), TrainConfig.from_dict(stage1)
    assert (
        train_cfg.init_from == f"{stage1_cfg.out_dir}/checkpoints/best.pt" and train_cfg.out_dir != stage1_cfg.out_dir
    )
    assert list(train_cfg.dataset)[:-1] == list(stage1_cfg.dataset) and len(train_cfg.dataset) == 3
    assert train_cfg.lr < stage1_cfg.lr and train_cfg.steps < stage1_cfg.steps


def test_ema_recipe_composes_into_valid_configs() -> None:
    """conf/recipe/act_ema.yaml continues stage 1 with a weight average and keeps the model sizes."""
    from simbench.config.compose import compose_dict as compose_config
    from simbench.policies.act import ACTConfig

    cfg = compose_config("train", ["+policy=act", "+recipe=act_ema"])
    stage1 = compose_config("train", ["+policy=act"])
    assert ACTConfig.from_dict(cfg.pop("policy")) == ACTConfig.from_dict(stage1.pop("policy"))
    train_cfg = TrainConfig.from_dict(cfg)
    assert 0.99 <= train_cfg.ema_decay < 1 and train_cfg.init_from == f"{stage1['out_dir']}/checkpoints/last.pt"
    assert train_cfg.out_dir != stage1["out_dir"]


def test_train_defaults_have_one_source() -> None:
    """TrainConfig's defaults are conf/train.yaml's: the CLI with no overrides trains what TrainConfig() says."""
    from dataclasses import asdict

    from simbench.config.compose import compose_dict

    composed = compose_dict("train", ["+policy=act"])
    composed.pop("policy")
    assert asdict(TrainConfig()) == composed
