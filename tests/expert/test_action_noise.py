"""DART noise: the offset process has its closed-form statistics, the perturbed share is spread
evenly, and a perturbed episode records the expert's clean targets while the arm follows noisy ones."""

from __future__ import annotations

from itertools import pairwise

import numpy as np
import pytest

from simbench.envs.teabag_mug import TeaBagMugEnv
from simbench.errors import ConfigError
from simbench.expert.action_noise import ActionNoiseConfig, OUActionNoise
from simbench.expert.rollout import run_expert_episode


def test_ou_offset_has_its_stationary_std_and_correlation() -> None:
    dt, tau, std = 1 / 60, 0.3, 0.02
    noise = OUActionNoise(np.random.default_rng(0), 5, std, tau, dt)
    x = np.array([noise.step() for _ in range(200_000)])
    a = np.exp(-dt / tau)
    assert x.std(axis=0) == pytest.approx(np.full(5, std), rel=0.03)
    lag1 = np.mean(x[1:] * x[:-1], axis=0) / x.var(axis=0)
    lag30 = np.mean(x[30:] * x[:-30], axis=0) / x.var(axis=0)
    assert lag1 == pytest.approx(np.full(5, a), abs=0.01)
    assert lag30 == pytest.approx(np.full(5, a**30), abs=0.03)


@pytest.mark.parametrize("share, n, expected", [(0.0, 10, 0), (0.5, 10, 5), (0.25, 8, 2), (1.0, 7, 7), (1 / 3, 9, 3)])
def test_perturbed_share_is_spread_evenly(share: float, n: int, expected: int) -> None:
    picks = [ActionNoiseConfig(share=share).perturbs(i) for i in range(n)]
    assert sum(picks) == expected
    if share <= 0.5:  # spread: never two neighbours when at most half are perturbed
        assert not any(a and b for a, b in pairwise(picks))


@pytest.mark.parametrize("kwargs, key", [({"share": 1.5}, "action_noise.share"),
                                         ({"std_rad": -0.1}, "action_noise.std_rad"),
                                         ({"tau_s": 0.0}, "action_noise.tau_s")])
def test_bad_noise_config_names_the_key(kwargs: dict[str, float], key: str) -> None:
    with pytest.raises(ConfigError, match=key):
        ActionNoiseConfig(**kwargs)


def test_perturbed_episode_records_clean_targets() -> None:
    env = TeaBagMugEnv(cameras=())
    clean = run_expert_episode(env, 3, {"cluster": 2}, cameras=())
    noisy = run_expert_episode(env, 3, {"cluster": 2}, cameras=(), noise_std_rad=0.01)
    again = run_expert_episode(env, 3, {"cluster": 2}, cameras=(), noise_std_rad=0.01)
    assert noisy.perturbed and not clean.perturbed
    np.testing.assert_array_equal(noisy.states, again.states)  # same seed, same perturbation
    n = min(len(clean.states), len(noisy.states), 60)
    # Over the first two seconds (the approach, before any grasp), the expert plans in time only, so
    # its recorded targets are identical with and without noise while the arm's path is not.
    np.testing.assert_allclose(noisy.actions[:n], clean.actions[:n], atol=1e-9)
    assert np.abs(noisy.states[5:n, :5] - clean.states[5:n, :5]).max() > 0.005
    # the jaw is never perturbed: its tracking matches the clean run's over the approach
    np.testing.assert_allclose(noisy.states[:n, 5], clean.states[:n, 5], atol=2e-3)
