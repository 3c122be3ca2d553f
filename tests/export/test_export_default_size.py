"""The default-size ACT (conf/policy/act.yaml) through export and every shipped recipe (slow: ~1 min)."""

from __future__ import annotations

from pathlib import Path

import pytest
from omegaconf import OmegaConf

from simbench.paths import CONF_DIR


@pytest.mark.slow
def test_default_act_exports_every_configured_variant(tmp_path: Path) -> None:
    from simbench.export.act import export_act
    from simbench.export.quantize import recipes_from_config
    from simbench.policies.act import ACTConfig
    from simbench.training.synthetic import synthetic_data
    from simbench.training.trainer import TrainConfig, load_checkpoint, train

    cfg = ACTConfig.from_dict(OmegaConf.to_container(OmegaConf.load(CONF_DIR / "policy" / "act.yaml")))  # type: ignore[arg-type]
    data = synthetic_data(episodes=4, length=60, cameras=cfg.cameras, size=cfg.image_size)
    result = train(
        cfg,
        TrainConfig(
            out_dir=str(tmp_path / "run"),
            steps=20,
            val_every=20,
            save_every=20,
            progress=False,
            eval_every=0,
            batch_size=4,
        ),
        data,
    )
    policy, _ = load_checkpoint(result.best_path)
    export_cfg = OmegaConf.to_container(OmegaConf.load(CONF_DIR / "export.yaml"))
    assert isinstance(export_cfg, dict)
    assert recipes_from_config(export_cfg["variants"])
    report = export_act(policy, 30, data, dict(export_cfg, eval_frames=16, calibration_frames=32), tmp_path / "models")
    assert report["parity_max_abs_diff"] < 1e-4
    for name, v in report["variants"].items():
        assert v["size_mb"] < 10, name  # shippable as package data
    assert report["variants"]["int8"]["size_mb"] < report["variants"]["fp32"]["size_mb"] / 2
