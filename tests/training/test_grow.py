"""Growing a trained ACT's backbone (simbench/training/grow.py): same outputs at step 0, copies that
train apart, clear refusals, and the shipped recipe wired to it."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from simbench.errors import ConfigError
from simbench.policies.act import ACTPolicy
from simbench.training.grow import grow_policy
from simbench.training.synthetic import synthetic_data, tiny_config
from simbench.training.trainer import TrainConfig, load_checkpoint, train


@pytest.fixture(scope="module")
def small_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny ACT after 30 steps: BatchNorm statistics and weights away from their initial values."""
    data = synthetic_data()
    result = train(
        tiny_config(),
        TrainConfig(
            out_dir=str(tmp_path_factory.mktemp("small")),
            steps=30,
            batch_size=8,
            val_every=30,
            val_batches=2,
            save_every=30,
            warmup_steps=5,
            progress=False,
            eval_every=0,
        ),
        data,
    )
    return result.last_path


def _small(path: Path) -> ACTPolicy:
    return load_checkpoint(path)[0]


def _batch(policy: ACTPolicy, n: int = 6) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(3)
    h, w = policy.config.image_size
    state = torch.randn(n, policy.config.state_dim, generator=gen)
    images = torch.randint(0, 256, (n, len(policy.config.cameras), h, w, 3), generator=gen, dtype=torch.uint8)
    return state, images


@pytest.mark.parametrize("channels,blocks", [((16, 32), 2), ((12, 20), 1), ((8, 16), 3)])
def test_grown_network_computes_the_same_chunks(small_path: Path, channels: tuple[int, ...], blocks: int) -> None:
    """Wider (exact and uneven multiples) and deeper: eval outputs equal to float rounding, and the
    training-mode backbone features too (copies share their batch statistics)."""
    small = _small(small_path)
    big = ACTPolicy(tiny_config(backbone_channels=channels, backbone_blocks_per_stage=blocks))
    grow_policy(small, big, seed=0)
    small.eval(), big.eval()
    state, images = _batch(small)
    with torch.no_grad():
        ref, out = small.predict_action_chunk(state, images), big.predict_action_chunk(state, images)
    assert ref.abs().max() > 0.1  # a non-trivial output
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-5)
    small.train(), big.train()
    x = torch.randn(4, 3, 16, 16)
    with torch.no_grad():
        f_small = small.model.feature_proj(small.model.backbone(x))
        f_big = big.model.feature_proj(big.model.backbone(x))
    torch.testing.assert_close(f_big, f_small, atol=1e-5, rtol=1e-5)


def test_copies_get_different_shares_so_they_train_apart(small_path: Path) -> None:
    """Channel j and its copy j + c read the same input, but the next conv weighs them with unequal
    shares that sum to the original weight (equal halves would keep the copies identical forever)."""
    small = _small(small_path)
    big = ACTPolicy(tiny_config(backbone_channels=(16, 32)))
    grow_policy(small, big, seed=0)
    w_small = small.model.backbone.stages[1].conv1.weight  # reads stage 0's stream: 8 -> 16 channels
    w_big = big.model.backbone.stages[1].conv1.weight
    torch.testing.assert_close(w_big[:16, :8] + w_big[:16, 8:], w_small.repeat(2, 1, 1, 1)[:16], atol=1e-6, rtol=1e-6)
    ratio = w_big[:, :8] / w_small.repeat(2, 1, 1, 1)
    assert not torch.allclose(ratio, torch.full_like(ratio, 0.5))
    other = ACTPolicy(tiny_config(backbone_channels=(16, 32)))
    grow_policy(small, other, seed=1)
    assert not torch.equal(other.model.backbone.stages[1].conv1.weight, w_big)  # the shares come from the seed


@pytest.mark.parametrize("kw,needle", [
    ({"backbone_channels": (4, 16)}, "narrower"),
    ({"backbone_channels": (8, 16, 32)}, "stage count"),
    ({"backbone_blocks_per_stage": 0}, None),
    ({"dim_model": 64}, "outside the backbone"),
    ({"coord_conv": True}, "coord_conv"),
])
def test_growing_into_what_is_not_a_grown_copy_is_refused(small_path: Path, kw: dict, needle: str | None) -> None:
    small = _small(small_path)
    try:
        big = ACTPolicy(tiny_config(**kw))
    except ConfigError:
        assert needle is None  # refused by ACTConfig already
        return
    with pytest.raises(ConfigError, match=needle):
        grow_policy(small, big)


def test_init_grow_trains_from_the_grown_checkpoint(
    small_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """train(init_from=..., init_grow=true) at lr 0 keeps the grown weights exactly (those of
    grow_policy with the run's seed), and its start line reports the output gap; without init_grow
    the shapes are refused."""
    small = _small(small_path)
    data = synthetic_data()
    big_cfg = tiny_config(backbone_channels=(16, 32), backbone_blocks_per_stage=2)
    common = {
        "batch_size": 8,
        "val_every": 5,
        "val_batches": 2,
        "save_every": 5,
        "warmup_steps": 1,
        "progress": False,
        "eval_every": 0,
        "init_from": str(small_path),
        "lr": 0.0,
        "lr_backbone": 0.0,
        "augment_shift_px": 0,
    }
    result = train(big_cfg, TrainConfig(out_dir=str(tmp_path / "big"), steps=5, init_grow=True, **common), data)
    line = next(x for x in capsys.readouterr().out.splitlines() if "backbone grown to [16, 32] x 2 blocks" in x)
    assert float(line.rsplit(" ", 1)[1]) < 1e-5
    trained, _ = load_checkpoint(result.last_path)
    torch.manual_seed(0)  # as train() does before building the policy: the new blocks' first layers keep that init
    expected = ACTPolicy(big_cfg)
    grow_policy(small, expected, seed=0)
    for (name, a), b in zip(expected.state_dict().items(), trained.state_dict().values(), strict=True):
        if "running_" not in name and "num_batches_tracked" not in name:  # BatchNorm statistics move in train mode
            assert torch.equal(a, b), name
    with pytest.raises(ConfigError, match="does not fit"):
        train(big_cfg, TrainConfig(out_dir=str(tmp_path / "exact"), steps=5, **common), data)


def test_wide_recipe_grows_the_dagger_model_on_its_data_plus_a_round() -> None:
    """conf/recipe/act_wide.yaml (the shipped model) grows +recipe=act_dagger's best.pt: only the
    backbone changes size, the data is act_dagger's plus one round."""
    from simbench.config.compose import compose_dict as compose_config
    from simbench.policies.act import ACTConfig

    cfg = compose_config("train", ["+policy=act", "+recipe=act_wide"])
    stage2 = compose_config("train", ["+policy=act", "+recipe=act_dagger"])
    wide, narrow = ACTConfig.from_dict(cfg.pop("policy")), ACTConfig.from_dict(stage2.pop("policy"))
    assert wide.backbone_channels == (64, 128, 256) and wide.backbone_blocks_per_stage == 2
    assert {k: v for k, v in wide.to_dict().items() if not k.startswith("backbone_")} == \
        {k: v for k, v in narrow.to_dict().items() if not k.startswith("backbone_")}
    train_cfg, stage2_cfg = TrainConfig.from_dict(cfg), TrainConfig.from_dict(stage2)
    assert train_cfg.init_grow and train_cfg.init_from == f"{stage2_cfg.out_dir}/checkpoints/best.pt"
    assert list(train_cfg.dataset)[:-1] == list(stage2_cfg.dataset) and train_cfg.out_dir != stage2_cfg.out_dir
