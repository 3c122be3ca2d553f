"""Run several Hydra sweep jobs in one process, the way Hydra's joblib launcher runs one.

A job is started with ``python``'s imports (numpy, MuJoCo, ONNX Runtime, Hydra) already paid for
the next one: a timing-only job simulates in ~50 ms, a fresh interpreter costs ~2 s.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.core.singleton import Singleton
from hydra.core.utils import JobReturn, run_job, setup_globals
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, open_dict

Job = tuple[int, Sequence[str]]  # (job number in the sweep, its overrides)


def split(jobs: Sequence[Job], jobs_per_task: int) -> list[list[Job]]:
    """Consecutive groups of ``jobs_per_task`` jobs (the last one may be shorter)."""
    if jobs_per_task < 1:
        raise ValueError(f"hydra.launcher.jobs_per_task={jobs_per_task}: must be >= 1")
    return [list(jobs[i : i + jobs_per_task]) for i in range(0, len(jobs), jobs_per_task)]


def run_batch(
    jobs: Sequence[Job],
    hydra_context: HydraContext,
    config: DictConfig,
    task_function: TaskFunction,
    singleton_state: dict[Any, Any],
    job_id: str = "",
) -> list[JobReturn]:
    """Run each job in turn in this process; one :class:`JobReturn` per job, in order."""
    setup_globals()
    Singleton.set_state(singleton_state)
    returns = []
    for idx, overrides in jobs:
        sweep_config = hydra_context.config_loader.load_sweep_config(config, list(overrides))
        with open_dict(sweep_config):
            sweep_config.hydra.job.id = f"{job_id or sweep_config.hydra.job.name}_{idx}"
            sweep_config.hydra.job.num = idx
        HydraConfig.instance().set_config(sweep_config)
        returns.append(
            run_job(
                hydra_context=hydra_context,
                task_function=task_function,
                config=sweep_config,
                job_dir_key="hydra.sweep.dir",
                job_subdir_key="hydra.sweep.subdir",
            )
        )
    return returns
