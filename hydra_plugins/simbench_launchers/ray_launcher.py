"""``hydra/launcher=ray``: sweep jobs as Ray tasks on a Ray cluster given by its address.

    ray start --head --port=6379 --num-cpus=2          # or an existing cluster
    python -m simbench run -m ... hydra/launcher=ray hydra.launcher.address=127.0.0.1:6379

Each Ray task runs ``jobs_per_task`` jobs one after another (:func:`.batch.run_batch`) and reserves
``num_cpus`` CPUs, so Ray runs as many tasks at once as the cluster has CPUs. Jobs write their
directories themselves: every node must see ``hydra.sweep.dir`` (a shared file system on a
multi-node cluster) and have simbench installed. ``address: null`` starts a private Ray for the
sweep and stops it afterwards.

Hydra's own ``hydra-ray-launcher`` (1.2.2) pins ``cloudpickle<3`` and targets AWS clusters; this one
is the small subset simbench needs, against current Ray (2.x).
"""

# no `from __future__ import annotations`: Hydra imports plugin modules outside sys.modules, where dataclasses cannot
# resolve string annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from hydra.core.config_store import ConfigStore
from hydra.core.singleton import Singleton
from hydra.core.utils import JobReturn, setup_globals
from hydra.plugins.launcher import Launcher
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf

from .batch import run_batch, split

log = logging.getLogger(__name__)


@dataclass
class RayLauncherConf:
    _target_: str = "hydra_plugins.simbench_launchers.ray_launcher.RayLauncher"
    # "HOST:PORT" of the head node, "auto" (RAY_ADDRESS or the local one); null: start a private Ray
    address: Any = None
    # jobs run one after another in each Ray task (one Python start-up and import for all of them)
    jobs_per_task: int = 1
    num_cpus: float = 1.0  # CPUs each task reserves: tasks at once = cluster CPUs / num_cpus
    init: dict[str, Any] = field(default_factory=dict)  # more ray.init keyword arguments (runtime_env, namespace, ...)


ConfigStore.instance().store(group="hydra/launcher", name="ray", node=RayLauncherConf, provider="simbench")


class RayLauncher(Launcher):
    def __init__(self, address: Any = None, jobs_per_task: int = 1, num_cpus: float = 1.0, init: Any = None) -> None:
        self.address = address
        self.jobs_per_task = int(jobs_per_task)
        self.num_cpus = float(num_cpus)
        self.init = OmegaConf.to_container(init, resolve=True) if OmegaConf.is_config(init) else dict(init or {})
        self.config: DictConfig | None = None
        self.task_function: TaskFunction | None = None
        self.hydra_context: HydraContext | None = None

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        self.config = config
        self.hydra_context = hydra_context
        self.task_function = task_function

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        try:
            import ray
        except ImportError:
            raise ImportError('hydra/launcher=ray needs Ray: pip install -e ".[ray]"') from None
        assert self.config is not None and self.hydra_context is not None and self.task_function is not None
        setup_globals()
        batches = split([(initial_job_idx + i, list(o)) for i, o in enumerate(job_overrides)], self.jobs_per_task)
        started_here = not ray.is_initialized()
        if started_here:
            ray.init(address=self.address, **self.init)
        try:
            log.info(f"Ray sweep: {len(job_overrides)} jobs in {len(batches)} tasks of <= {self.jobs_per_task}, "
                     f"{self.num_cpus:g} CPU each, cluster CPUs {ray.cluster_resources().get('CPU', 0):g}; "
                     f"output dir {self.config.hydra.sweep.dir}")
            task = ray.remote(num_cpus=self.num_cpus, max_retries=0)(run_batch)
            shared = [ray.put(x) for x in (self.hydra_context, self.config, self.task_function, Singleton.get_state())]
            refs = [task.remote(batch, *shared, job_id="ray") for batch in batches]
            return [ret for batch_returns in ray.get(refs) for ret in batch_returns]
        finally:
            if started_here:
                ray.shutdown()  # disconnects this driver; a cluster started with `ray start` keeps running
