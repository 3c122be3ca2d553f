"""simbench's Hydra launchers: several sweep jobs per worker process, on Ray or submitit.

Hydra finds these through the ``hydra_plugins`` namespace package (no ``__init__.py`` there):

- ``hydra/launcher=ray`` (:mod:`.ray_launcher`): jobs as Ray tasks on a cluster given by address
  (``pip install -e ".[ray]"``);
- ``hydra/launcher=submitit_local_batched`` / ``submitit_slurm_batched`` (:mod:`.submitit_batched`):
  Hydra's submitit launchers, with ``jobs_per_task`` jobs run one after another in each submitted task;
- ``hydra/sweeper=simbench_basic`` (:mod:`.checked_sweeper`): Hydra's basic sweeper without its
  serial re-composition of every job (``run -m`` has checked them all already).

:func:`.ray_head.ray_head` starts (and stops) a Ray head on this machine for tests and benchmarks.

Both run a job exactly as Hydra's own launchers do (:func:`.batch.run_batch`): same config, same
job directory, same task function. Only how many jobs share one process start-up differs.
"""
