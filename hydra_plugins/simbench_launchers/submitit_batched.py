"""``hydra/launcher=submitit_local_batched`` / ``submitit_slurm_batched``: Hydra's submitit
launchers, with ``jobs_per_task`` sweep jobs run one after another in each submitted task.

Hydra's ``submitit_local`` starts one Python process per job, all at once (the local executor has
no array parallelism), and ``submitit_slurm`` one SLURM array task per job; a timing-only job
simulates in a fraction of the interpreter start-up. Batching keeps the job code identical
(:func:`.batch.run_batch` is what Hydra's launchers call per job) and divides the start-ups by
``jobs_per_task``.
"""

# no `from __future__ import annotations`: Hydra imports plugin modules outside sys.modules, where dataclasses cannot
# resolve string annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hydra.core.config_store import ConfigStore
from hydra.core.singleton import Singleton
from hydra.core.utils import JobReturn
from hydra_plugins.hydra_submitit_launcher.config import LocalQueueConf, SlurmQueueConf
from hydra_plugins.hydra_submitit_launcher.submitit_launcher import BaseSubmititLauncher
from omegaconf import OmegaConf

from .batch import run_batch, split

log = logging.getLogger(__name__)


class _Batched(BaseSubmititLauncher):
    def __init__(self, **params: Any) -> None:
        self.jobs_per_task = int(params.pop("jobs_per_task", 1))
        super().__init__(**params)

    def run_jobs(self, jobs: list[tuple[int, list[str]]], singleton_state: dict[Any, Any]) -> list[JobReturn]:
        """What each submitted task runs (pickled with this launcher by submitit)."""
        import submitit

        assert self.hydra_context is not None and self.config is not None and self.task_function is not None
        job_id = str(submitit.JobEnvironment().job_id)
        return run_batch(jobs, self.hydra_context, self.config, self.task_function, singleton_state, job_id=job_id)

    def executor(self) -> Any:
        """The submitit executor with this config's parameters, passed as Hydra's launcher passes them."""
        import submitit

        params = dict(self.params)
        executor = submitit.AutoExecutor(
            cluster=self._EXECUTOR,
            folder=params.pop("submitit_folder"),
            **{f"{self._EXECUTOR}_max_num_timeout": params.pop("max_num_timeout")}
            if "max_num_timeout" in params
            else {},
        )
        base = set(OmegaConf.structured(LocalQueueConf).keys())
        executor.update_parameters(
            **{k if k in base else f"{self._EXECUTOR}_{k}": v for k, v in params.items() if k != "_target_"}
        )
        return executor

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        assert self.config is not None
        executor = self.executor()
        Path(str(self.config.hydra.sweep.dir)).mkdir(parents=True, exist_ok=True)
        batches = split([(initial_job_idx + i, list(o)) for i, o in enumerate(job_overrides)], self.jobs_per_task)
        log.info(
            f"Submitit '{self._EXECUTOR}' sweep: {len(job_overrides)} jobs in {len(batches)} tasks of <= "
            f"{self.jobs_per_task}; "
            f"output dir {self.config.hydra.sweep.dir}"
        )
        state = Singleton.get_state()
        tasks = executor.map_array(self.run_jobs, batches, [state] * len(batches))
        return [ret for task in tasks for ret in task.results()[0]]


class LocalBatchedLauncher(_Batched):
    _EXECUTOR = "local"


class SlurmBatchedLauncher(_Batched):
    _EXECUTOR = "slurm"


@dataclass
class LocalBatchedConf(LocalQueueConf):
    _target_: str = "hydra_plugins.simbench_launchers.submitit_batched.LocalBatchedLauncher"
    jobs_per_task: int = 1  # sweep jobs per submitted task (one process start-up each)


@dataclass
class SlurmBatchedConf(SlurmQueueConf):
    _target_: str = "hydra_plugins.simbench_launchers.submitit_batched.SlurmBatchedLauncher"
    jobs_per_task: int = 1  # sweep jobs per SLURM array task


ConfigStore.instance().store(
    group="hydra/launcher", name="submitit_local_batched", node=LocalBatchedConf, provider="simbench"
)
ConfigStore.instance().store(
    group="hydra/launcher", name="submitit_slurm_batched", node=SlurmBatchedConf, provider="simbench"
)
