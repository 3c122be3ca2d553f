"""``${min:...}`` lets the ACT configs execute 50 ticks per inference yet follow a shorter swept chunk."""

from __future__ import annotations

import pytest
from omegaconf import OmegaConf

from simbench.config.build import build_run_spec
from simbench.config.compose import compose_run


@pytest.mark.parametrize(("actions_per_chunk", "expected"), [(100, 50), (50, 50), (25, 25)])
def test_act_n_action_steps_follows_a_shorter_chunk(actions_per_chunk: int, expected: int) -> None:
    cfg = compose_run(
        "config", ["+policy=act_int8", "scheduler=sync", "env=timing", f"policy.actions_per_chunk={actions_per_chunk}"]
    )
    spec = build_run_spec(cfg)
    assert spec.settings.n_action_steps == expected
    assert spec.settings.actions_per_chunk == actions_per_chunk


def test_min_resolver_closed_form() -> None:
    node = OmegaConf.create({"a": 7, "b": 3, "c": "${min:${a},${b},5}"})
    assert node.c == 3
