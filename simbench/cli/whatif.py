"""``python -m simbench whatif [overrides] [-m]``: a what-if grid in blocks, through Hydra's launchers.

Each Hydra job computes one block of the grid (``block=K``, of ``blocks=N``) and writes
``out/block_K_of_N.json`` (:mod:`simbench.whatif_launch`); ``-m block=0,1,...`` with any
``hydra/launcher=`` (joblib, submitit_local, submitit_slurm, ray: docs/sweeps.md) runs the blocks
there, simbench schedules nothing of its own. ``block=null`` computes every block in this process.

Every job of the command line is composed and validated before Hydra starts (one ``error:`` line,
exit 2, nothing written), including a directory that holds another grid's blocks. A block whose
file is complete is skipped, so re-running the command resumes. When the command ends with every
block of the grid present it merges them (``whatif.json``, ``pareto.png``, the Pareto front on the
console); otherwise ``python -m simbench whatif-merge DIR`` does once the rest are done.

Exit codes: 0 every block asked for is complete; 1 one is not (a job failed); 2 bad input; 130 Ctrl-C.
"""

from __future__ import annotations

import os
import sys

import hydra
from omegaconf import DictConfig

from simbench.config.compose import check_all, split_argv
from simbench.errors import ConfigError
from simbench.paths import CONF_DIR
from simbench.safe_text import printable
from simbench.whatif_launch import GridSpec, Job, closing_report, foreign_blocks, run_block

HELP = f"""usage: python -m simbench whatif [key=value ...] [-m block=0,1,... blocks=N hydra/launcher=NAME ...]

A what-if grid (resolution x chunk x steps x precision x threshold x actions per chunk; latencies
from the device model, timing on the DES) in blocks, one file per block: out/block_<k>_of_<n>.json.

  policy=NAME       a runnable policy (default act_fp32)    device=NAME   a device model (default imx95)
  points=N          grid points (default 1000)              duration_s=S  simulated seconds per point (60)
  seed=N            the seed of every point (0)
  blocks=N          the grid in N blocks (1)                block=K       this job's block, 0..N-1 (null: all here)
  workers=N         processes in this job (null: the CPUs; 1 per job in a -m sweep)
  out=DIR           default results/whatif/<policy>_<device>_<points>x<duration>s_seed<seed>_<blocks>blocks
  -m block=0,1,2,3 blocks=4 hydra/launcher=joblib hydra.launcher.n_jobs=2
                    the blocks as Hydra jobs on a launcher (submitit_local, submitit_slurm, ray: docs/sweeps.md)

Complete blocks are skipped (re-run to resume). When every block is there the command merges them:
out/whatif.json, out/pareto.png (python -m simbench whatif-merge DIR does the same later).
Config: {CONF_DIR / 'whatif.yaml'}"""


def job_of(cfg: DictConfig) -> Job:
    """The typed job of a composed ``conf/whatif.yaml`` (ConfigError naming the first bad key)."""
    spec = GridSpec(policy=str(cfg.policy.name), device=str(cfg.device.device), points=cfg.points,
                    duration_s=cfg.duration_s, seed=cfg.seed, blocks=cfg.blocks)
    return Job(spec, cfg.block, cfg.workers, cfg.out)


def _task(cfg: DictConfig) -> None:
    """Hydra's task function: this job's block(s), each skipped when its file is complete."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    hc = HydraConfig.get()
    job = job_of(cfg)
    multirun = hc.mode == RunMode.MULTIRUN
    workers = job.workers or (1 if multirun else None)
    command = " ".join(["python -m simbench whatif", *hc.overrides.task])
    launcher = hc.runtime.choices.get("hydra/launcher")
    for k in job.block_numbers:
        try:
            path, ran = run_block(job.spec, k, job.out, workers, command, launcher)
        except Exception as err:  # noqa: BLE001 - a failed block has no file; the command says so and exits 1
            line = printable(str(err).splitlines()[0]) if str(err) else ""
            print(f"FAILED block {k} of {job.spec.blocks}: {type(err).__name__}: {line}", file=sys.stderr, flush=True)
            continue
        print(f"{'done' if ran else 'skip (complete)'}: {path}", flush=True)


_hydra_main = hydra.main(version_base=None, config_path=str(CONF_DIR), config_name="whatif")(_task)


def main(argv: list[str]) -> int:
    if any(a in ("-h", "--help") for a in argv):
        print(HELP)
        return 0
    multirun, overrides = split_argv(argv, "whatif", "key=value overrides and -m")
    if any(o.lstrip("+~").startswith(("hydra.run.dir", "hydra.sweep.dir")) for o in overrides):
        raise ConfigError("whatif's Hydra directories follow out=DIR; set out= instead of hydra.run.dir/hydra.sweep.dir")
    jobs: list[Job] = check_all("whatif", overrides, multirun, job_of)
    first = jobs[0]
    for job in jobs[1:]:
        if (job.spec, job.out) != (first.spec, first.out):
            raise ConfigError("a whatif -m sweep runs blocks of one grid: sweep block= only (the other keys, and out, "
                              "must be the same in every job; run another grid with its own command)")
    foreign = foreign_blocks(first.out, first.spec)
    if foreign:
        raise ConfigError(f"out={str(first.out)!r} holds blocks of another grid ({', '.join(foreign[:3])}); "
                          "use another out= (one grid per directory)")
    saved, saved_full_error = sys.argv, os.environ.get("HYDRA_FULL_ERROR")
    # -m first: Hydra's parser takes flags before the overrides only
    sys.argv = ["simbench-whatif", *(["-m"] if multirun else []), *overrides]
    os.environ["HYDRA_FULL_ERROR"] = "1"  # an error outside the job reaches simbench's entry point (one line)
    try:
        _hydra_main()
    finally:
        sys.argv = saved
        if saved_full_error is None:
            os.environ.pop("HYDRA_FULL_ERROR", None)
        else:
            os.environ["HYDRA_FULL_ERROR"] = saved_full_error
    return closing_report(jobs)
