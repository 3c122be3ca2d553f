"""ACT configuration checks and model shapes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from simbench.errors import ConfigError
from simbench.policies.act import ACTConfig, ACTPolicy
from simbench.policies.preprocess import resize_image
from simbench.policies.runtime_io import resample_chunk
from simbench.training.synthetic import tiny_config


def test_config_rejects_more_steps_than_chunk() -> None:
    with pytest.raises(ConfigError, match="n_action_steps"):
        tiny_config(chunk_size=10, n_action_steps=20)


@pytest.mark.parametrize("kw", [dict(dim_model=130, n_heads=4), dict(cameras=()), dict(image_size=(4, 4)),
                                dict(kl_weight=-1)])
def test_config_rejects_bad_values(kw: dict) -> None:
    with pytest.raises(ConfigError):
        tiny_config(**kw)


def test_conf_yaml_is_the_one_home_of_the_act_config() -> None:
    """The schema has no defaults; conf/policy/act.yaml gives every field, and a node missing one is one line."""
    from dataclasses import MISSING, fields

    import yaml

    from simbench.paths import CONF_DIR

    node = yaml.safe_load((CONF_DIR / "policy" / "act.yaml").read_text())
    assert all(f.default is MISSING and f.default_factory is MISSING for f in fields(ACTConfig))
    assert ACTConfig.from_dict(node).dim_model == node["dim_model"]
    with pytest.raises(ConfigError, match=r"lacks policy.dim_model \(conf/policy/act.yaml"):
        ACTConfig.from_dict({k: v for k, v in node.items() if k != "dim_model"})


def test_predict_action_chunk_shape_and_training_forward() -> None:
    cfg = tiny_config(cameras=("top", "gripper"))
    policy = ACTPolicy(cfg)
    state = torch.randn(3, 6)
    images = torch.randint(0, 255, (3, 2, 16, 16, 3), dtype=torch.uint8)
    policy.eval()
    assert policy.predict_action_chunk(state, images).shape == (3, cfg.chunk_size, 6)
    policy.train()
    batch = {"state": state, "images": images, "action": torch.randn(3, cfg.chunk_size, 6),
             "action_is_pad": torch.zeros(3, cfg.chunk_size, dtype=torch.bool)}
    loss, info = policy(batch)
    assert loss.ndim == 0 and set(info) == {"l1", "kld"}


def test_resize_box_filter_and_fallback() -> None:
    img = np.arange(4 * 6 * 3, dtype=np.uint8).reshape(4, 6, 3)
    assert resize_image(img, (2, 3)).shape == (2, 3, 3)
    assert resize_image(img, (3, 5)).shape == (3, 5, 3)
    assert resize_image(img, (4, 6)) is img


def test_resample_chunk_to_control_rate() -> None:
    chunk = np.arange(10, dtype=np.float32)[:, None] * np.ones((1, 2))
    out = resample_chunk(chunk, 30, 60, 8)
    assert out.shape == (8, 2)
    np.testing.assert_allclose(out[:, 0], [0, 0.5, 1, 1.5, 2, 2.5, 3, 3.5])
    np.testing.assert_allclose(resample_chunk(chunk, 30, 30, 4)[:, 0], [0, 1, 2, 3])


@pytest.mark.parametrize("coord_conv", [False, True])
def test_coord_conv_gives_features_their_position(coord_conv: bool) -> None:
    """On a uniform image, features away from the padding are equal unless coordinate channels are in."""
    cfg = tiny_config(image_size=(128, 128), coord_conv=coord_conv)
    backbone = ACTPolicy(cfg).model.backbone.eval()
    with torch.no_grad():
        feats = backbone(torch.full((1, 3, 128, 128), 0.3))  # (1, C, 16, 16)
    interior = feats[0, :, 4:-4, 4:-4].flatten(1)  # past the zero padding's reach
    spread = float((interior - interior[:, :1]).abs().max())
    assert (spread > 1e-3) if coord_conv else (spread < 1e-5)


def test_coord_conv_exports_with_parity(tmp_path) -> None:
    from simbench.export.onnx_export import export_onnx
    from simbench.export.parity import make_feeds, max_abs_diff, run_onnx, run_torch

    policy = ACTPolicy(tiny_config(cameras=("top", "gripper"), coord_conv=True)).eval()
    path = export_onnx(policy, tmp_path / "act.onnx", fps=30)
    state = np.random.default_rng(0).normal(size=(2, 6)).astype(np.float32)
    images = np.random.default_rng(1).integers(0, 255, (2, 2, 16, 16, 3), dtype=np.uint8)
    feeds = make_feeds(state, images, policy.config.cameras)
    assert max_abs_diff(run_onnx(path, feeds), run_torch(policy, state, images)) < 1e-4
