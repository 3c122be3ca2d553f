"""Training from a composed ``conf/train.yaml`` (``python -m simbench train``): data, evaluation hook, loop.

Everything is validated (configs, dataset path, cameras) before any file is written.
"""

from __future__ import annotations

import sys
from typing import Any

from simbench.errors import ConfigError


def train_from_config(cfg: dict[str, Any]) -> Any:
    """Train the policy ``cfg["policy"]`` (a trainable config: conf/policy/act.yaml, smolvla.yaml) with the options in ``cfg``;
    returns the :class:`simbench.training.trainer.TrainResult`."""
    cfg = dict(cfg)
    policy_node = cfg.pop("policy")
    if policy_node.get("runtime") not in (None, "torch"):
        raise ConfigError(
            f"policy={policy_node.get('name')!r} is a runtime config, not a trainable one; use +policy=act or "
            "+policy=smolvla"
        )
    from simbench.policies.factory import make_config
    from simbench.training.trainer import TrainConfig

    policy_cfg = make_config(policy_node.get("arch"), policy_node)
    train_cfg = TrainConfig.from_dict(cfg)

    eval_fn = None
    if train_cfg.eval_every > 0:  # checks the scene is importable before the (slow) data loading
        from simbench.training.evaluate import make_eval_fn

        eval_fn = make_eval_fn(train_cfg.eval_episodes, seed=train_cfg.eval_seed, eval_policy=train_cfg.eval_policy)
    from simbench.training.data import load_training_data
    from simbench.training.trainer import train

    if train_cfg.dataset == "expert":  # roll the scripted expert out in memory (see training.expert_data)
        from simbench.training.expert_data import expert_training_data

        data = expert_training_data(
            policy_cfg.cameras, policy_cfg.image_size, seed=train_cfg.seed, val_fraction=train_cfg.val_fraction,
            frame_stride=train_cfg.frame_stride, state_dim=policy_cfg.state_dim, progress=train_cfg.progress,
        )
    else:
        data = load_training_data(
            train_cfg.dataset, policy_cfg.cameras, policy_cfg.image_size, train_cfg.val_fraction, train_cfg.seed,
            train_cfg.max_episodes, train_cfg.frame_stride, policy_cfg.state_dim,
        )
    if data.state.shape[1] != policy_cfg.state_dim or data.action.shape[1] != policy_cfg.action_dim:
        raise ConfigError(
            f"dataset has state_dim={data.state.shape[1]}, action_dim={data.action.shape[1]} but "
            f"policy.state_dim={policy_cfg.state_dim}, policy.action_dim={policy_cfg.action_dim}"
        )
    print(
        f"dataset {train_cfg.dataset}: {len(data.train_frames)} train / {len(data.val_frames)} val frames, "
        f"fps {data.fps}, cameras {list(data.cameras)}",
        file=sys.stderr,
    )
    return train(policy_cfg, train_cfg, data, eval_fn)
