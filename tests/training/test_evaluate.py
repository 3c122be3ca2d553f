"""The synchronous zero-latency evaluation loop, against a mock scene (the real one is slow)."""

from __future__ import annotations

from typing import Any

import numpy as np

from simbench.envs.base import EpisodeOutcome
from simbench.policies.request import PolicyRequest
from simbench.training.evaluate import evaluate, paired_difference, protocol_passes, run_episode, subset


class MockEnv:
    """Success when the applied actions push joint 0 past 1.0 within 50 ticks."""

    action_dim = 6
    physical = True

    def __init__(self) -> None:
        self.q = np.zeros(6)
        self.t = 0
        self.applied: list[np.ndarray] = []

    def reset(self, seed: int, options: dict[str, Any] | None = None) -> None:
        self.q[:] = 0
        self.t = 0

    def snapshot(self) -> Any:
        return self.q.copy()

    def observation(self, snapshot: Any) -> dict[str, Any]:
        return {
            "observation.state": snapshot.astype(np.float32),
            "observation.images.top": np.zeros((8, 8, 3), np.uint8),
        }

    def apply(self, action) -> None:
        self.q = np.asarray(action, float)
        self.applied.append(self.q)
        self.t += 1

    @property
    def done(self) -> bool:
        return self.q[0] > 1.0 or self.t >= 50

    def outcome(self) -> EpisodeOutcome:
        return EpisodeOutcome(success=bool(self.q[0] > 1.0), completion_time_s=self.t / 60)

    def episode_plan(self) -> list[dict[str, Any]]:
        return [{"split": "test"}] * 4 + [{"split": "val"}] * 2


class StepPolicy:
    name = "step"
    actions_per_chunk = 10
    action_dim = 6

    def __init__(self, gain: float) -> None:
        self.gain = gain
        self.calls = 0

    def reset(self, seed: int) -> None:
        pass

    def predict_chunk(self, request: PolicyRequest) -> np.ndarray:
        self.calls += 1
        base = request.observation["observation.state"][0]
        out = np.zeros((10, 6))
        out[:, 0] = base + self.gain * np.arange(1, 11)
        return out


def test_evaluate_counts_success_per_split() -> None:
    env = MockEnv()
    good = evaluate(StepPolicy(0.05), env, n_action_steps=5)
    assert good["success_rate"] == 1.0 and good["n_test"] == 4 and good["n_val"] == 2
    assert good["rows"][0]["inferences"] == 5  # 21 ticks at 5 actions per inference
    bad = evaluate(StepPolicy(0.0), env, n_action_steps=5)
    assert bad["success_rate"] == 0.0


def test_on_tick_sees_every_applied_action_in_order() -> None:
    """The tracing hook (benchmarks/release_trace.py) gets each executed action once, as applied."""
    env = MockEnv()
    seen: list[np.ndarray] = []
    row = run_episode(
        env, StepPolicy(0.05), 0, {}, n_action_steps=5, on_tick=lambda a: seen.append(np.asarray(a, float))
    )
    assert row["ticks"] == len(seen) == len(env.applied) == 21
    assert all(np.array_equal(a, b) for a, b in zip(seen, env.applied, strict=True))


def test_subset_spreads_over_plan() -> None:
    plan = [{"i": i} for i in range(30)]
    assert [p["i"] for p in subset(plan, 4)] == [0, 10, 19, 29]
    assert subset(plan, None) == plan


def test_more_episodes_than_the_protocol_means_more_passes() -> None:
    """eval_episodes: 60 on the 30-episode protocol is two passes, not a silent cap at 30."""
    assert protocol_passes(30, None) == (1, None)
    assert protocol_passes(30, 20) == (1, 20)
    assert protocol_passes(30, 60) == (2, 30)
    assert protocol_passes(30, 45) == (2, 23)
    env = MockEnv()  # evaluate itself makes the passes: 12 episodes on a 6-episode plan
    res = evaluate(StepPolicy(0.05), env, n_action_steps=5, episodes=12)
    assert res["episodes"] == 12 and res["n_test"] == 8 and res["n_val"] == 4


def test_paired_difference_closed_form() -> None:
    """Row-by-row differences [0, 1, 0, 0]: mean 0.25, sample std 0.5, standard error 0.5 / 2."""
    import pytest

    ref = [{"success": s} for s in (True, False, True, False)]
    other = [{"success": s} for s in (True, True, True, False)]
    assert paired_difference(ref, other) == {"diff": 0.25, "stderr": 0.25}
    with pytest.raises(ValueError, match="same starts"):
        paired_difference(ref, other[:3])


def test_training_evaluation_uses_the_deployment_horizon() -> None:
    """The checkpoint is chosen under the horizon the shipped config runs with (act_fp32: 100 ticks)."""
    from simbench.config.compose import compose_dict
    from simbench.training.evaluate import deployment_horizon

    node = compose_dict("config", ["+policy=act_fp32"])["policy"]  # as Hydra composes it (base + variant)
    assert deployment_horizon("act_fp32") == (int(node["actions_per_chunk"]), int(node["n_action_steps"]))
    assert deployment_horizon("no_such_policy") == (None, None)


def test_unknown_eval_policy_is_one_clear_error() -> None:
    import pytest

    from simbench.errors import ConfigError
    from simbench.training.evaluate import make_eval_fn

    with pytest.raises(ConfigError, match="eval_policy='nope' is not allowed"):
        make_eval_fn(2, eval_policy="nope")


def test_evaluate_cli_unknown_policy_is_one_line_and_exit_2(capsys) -> None:
    from simbench.config.build import load_option
    from simbench.training.evaluate import main

    assert load_option("policy", "act_fp32")["name"] == "act_fp32"
    assert load_option("policy", "no_such_policy") is None
    assert main(["no_such_policy"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: policy='no_such_policy' is unknown") and "act_fp32" in err and "\n" not in err
    assert main(["act_fp32=/no/such/model.onnx"]) == 2
    err = capsys.readouterr().err.strip()
    assert "'/no/such/model.onnx'" in err and "act_fp32" in err and "\n" not in err
