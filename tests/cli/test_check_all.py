"""The up-front check of a sweep composes once per group choice and sets plain values itself: it must
build exactly the configs Hydra composes, and reject what Hydra rejects."""

from __future__ import annotations

import pytest
from omegaconf import OmegaConf

from simbench.config.build import build_run_spec
from simbench.config.compose import check_all, compose_run, expand
from simbench.errors import ConfigError


def test_check_all_builds_the_configs_hydra_composes() -> None:
    overrides = [
        "+policy=act_fp32,act_int8",
        "policy.chunk_size=50,100",
        "scheduler=sync,async",
        "scheduler.threshold=0.3",
        "env=timing",
        "latency.scale=1.5",
        "policy.model_path=act/x.onnx",
        "hydra/launcher=joblib",
    ]
    seen: list = []
    assert len(check_all("config", overrides, True, seen.append)) == 8
    for combo, cfg in zip(expand(overrides, True), seen, strict=True):
        hydra_cfg = OmegaConf.to_container(compose_run("config", combo), resolve=True)
        assert OmegaConf.to_container(cfg, resolve=True) == hydra_cfg
        # interpolation follows the override
        assert hydra_cfg["policy"]["actions_per_chunk"] == hydra_cfg["policy"]["chunk_size"]


@pytest.mark.parametrize("override, message", [("policy.chunk_sizee=5,6", "policy.chunk_sizee is not a config key"),
                                               ("policy.actions_per_chunk=50,200", "must be <= policy.chunk_size"),
                                               ("scheduler.threshold=0.5,2", "must be >= 0 and <= 1")])
def test_check_all_rejects_a_bad_value_anywhere_in_the_grid(override: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("[", r"\[")):
        check_all("config", ["+policy=act_int8", "env=timing", override], True, build_run_spec)


def test_checking_a_large_sweep_shows_progress(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """A sweep of more than PROGRESS_EVERY runs says how far its check has got (a 20k-run check was
    minutes of silence); a small one stays quiet."""
    import simbench.config.compose as compose

    monkeypatch.setattr(compose, "PROGRESS_EVERY", 10)
    assert len(check_all("config", ["env=timing", "seed=range(0,25)"], True, lambda cfg: cfg.seed)) == 25
    err = capsys.readouterr().err.splitlines()
    assert err == ["checking 25 runs before launching any", "  checked 10 of 25 runs", "  checked 20 of 25 runs"]
    check_all("config", ["env=timing", "seed=range(0,10)"], True, lambda cfg: cfg.seed)
    assert capsys.readouterr().err == ""
