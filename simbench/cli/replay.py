"""``python -m simbench replay DATASET +policy=NAME [overrides]``: a LeRobotDataset's episodes through
the scheduler, open loop, compared with the recorded actions and the policy's own zero-latency ones.

DATASET is a local LeRobotDataset v3 folder (``python -m simbench record`` writes one). Overrides are
``run``'s (conf/config.yaml): ``latency=...``, ``scheduler=sync``, ``episodes=N`` (the first N
episodes), ``seed=``; comma-separated values (``latency.value=0.1,0.32``) replay once per value, one
table row each. The scheduler ticks at the dataset's fps unless ``scheduler.fps`` is given. A
dataset whose features do not match the policy's inputs is refused in one line (exit 2). Engine and
table columns: :mod:`simbench.byo.replay`.
"""

from __future__ import annotations

from typing import Any

from omegaconf import OmegaConf


def replay_rows(dataset_path: str, overrides: list[str]) -> tuple[list[Any], Any, list[int]]:
    """Validate, then replay every combination; returns (rows, dataset, episodes)."""
    from simbench.byo.replay import DatasetEnv, check_features, replay_run
    from simbench.config.build import build_run_spec
    from simbench.config.compose import compose_run, expand
    from simbench.dataset.reader import load_dataset
    from simbench.errors import bad_value
    from simbench.policies.chunk_contract import read_contract
    from simbench.policies.onnx_model import resolve_model_path
    from simbench.registry import POLICY_RUNTIMES, resolve

    dataset = load_dataset(dataset_path)
    combos = expand(overrides, multirun=True)
    rows: list[Any] = []
    specs = []
    for combo in combos:
        extra = [] if any(o.startswith("scheduler.fps=") for o in combo) else [f"scheduler.fps={dataset.fps}"]
        cfg = compose_run("config", [*combo, *extra])
        spec = build_run_spec(cfg)
        if spec.policy.runtime not in ("onnx", "torch", "ensemble"):
            raise bad_value(
                "policy",
                spec.policy.name,
                "has no network to replay (runtime "
                f"{spec.policy.runtime}); replay takes a policy with a model, e.g. +policy=act_int8",
            )
        n = cfg.get("episodes") or dataset.num_episodes
        episodes = list(range(min(int(n), dataset.num_episodes)))
        varying = [o for o in combo if sum(o in c for c in combos) < len(combos)] if len(combos) > 1 else combo
        label = " ".join(o for o in varying if not o.startswith(("+policy=", "hydra"))) or "defaults"
        specs.append((spec, label))
    policies: dict[str, Any] = {}
    ideal: dict[str, dict[int, Any]] = {}
    for spec, label in specs:
        node = spec.policy.runtime_config()
        key = OmegaConf.to_yaml(OmegaConf.create({k: v for k, v in node.items() if k != "pipeline"}))
        env = DatasetEnv(dataset, episodes)
        if node.get("arch") == "chunk":  # the contract says what it reads: checked before any session
            check_features(
                dataset,
                _ContractNeeds(read_contract(resolve_model_path(node.get("model_path"))), spec.policy.name),
                dataset_path,
            )
        open_policy = getattr(spec.latency, "open_policy", None)
        if open_policy is not None:
            policy = open_policy(node, env)
        elif key in policies:
            policy = policies[key]
        else:
            policy = resolve(POLICY_RUNTIMES, "policy.runtime", spec.policy.runtime).from_config(node, env)
            policies[key] = policy
        check_features(dataset, policy, dataset_path)
        try:
            rows.append(replay_run(spec, policy, dataset, episodes, label, ideal.setdefault(key, {})))
        finally:
            if open_policy is not None and callable(getattr(policy, "close", None)):
                policy.close()
    return rows, dataset, episodes


class _ContractNeeds:
    """A contract seen as the policy :func:`simbench.byo.replay.check_features` compares with."""

    def __init__(self, contract: Any, name: str) -> None:
        self.contract, self.name, self.action_dim = contract, name, contract.action_dim


def main(argv: list[str]) -> int:
    if not argv or any(a in ("-h", "--help") for a in argv):
        print(__doc__.strip())
        return 0
    from simbench.byo.replay import format_table
    from simbench.errors import ConfigError

    positional = [a for a in argv if "=" not in a and a not in ("-m", "--multirun")]
    if len(positional) != 1 or positional[0].startswith("-"):
        raise ConfigError(
            "give one dataset folder: python -m simbench replay DATASET +policy=NAME [overrides] "
            f"(got {positional or 'none'})"
        )
    overrides = [a for a in argv if "=" in a]
    if not any(o.startswith("+policy=") for o in overrides):
        raise ConfigError(
            "no policy given; add +policy=NAME (e.g. +policy=act_int8, or +policy=onnx policy.model_path=FILE)"
        )
    rows, dataset, episodes = replay_rows(positional[0], overrides)
    frames = int(sum(dataset.episode_ranges[e][1] - dataset.episode_ranges[e][0] for e in episodes))
    policy = next(o.split("=", 1)[1] for o in overrides if o.startswith("+policy="))
    print(format_table(rows, positional[0], policy, frames, len(episodes), float(dataset.fps)))
    return 0
