"""``python -m simbench run [+policy=NAME] [overrides] [-m]``: the Hydra app.

Every run on the command line (each combination of a ``-m`` sweep) is composed and validated before
Hydra starts, its env and policy built once and closed (the model file, its metadata, the env's
cameras), so a bad override ends in one line, exit code 2 and nothing under ``results/``.

Run directories (:mod:`simbench.run_dir`): a single run's directory is created exclusively before
Hydra starts (``-2``, ``-3``... when the name exists); a sweep without an explicit
``hydra.sweep.dir`` gets a fresh one the same way. What each job does inside Hydra (locking, skipping
complete jobs, failure records, the sweep's closing summary) is :mod:`simbench.run_job`.

Exit codes: 0 all runs complete; 1 a run or sweep job failed (``status.json`` says why); 2 bad
input (nothing written); 130 Ctrl-C (the run's ``status.json`` says ``interrupted``).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import hydra
from omegaconf import DictConfig

from simbench import run_job, runner
from simbench.config.build import available, runnable_policies
from simbench.config.compose import check_all, output_dir, split_argv
from simbench.errors import ConfigError, Terminated
from simbench.paths import CONF_DIR
from simbench.run_dir import check_dir_path, reserve

HELP = f"""usage: python -m simbench run +policy=NAME [overrides] [-m]

Simulate a policy under a latency model and write results under results/.

  +policy=NAME            one of: {', '.join(runnable_policies())}
                          (smolvla_*: published timing, no model: env=timing only)
  scheduler=NAME          {', '.join(available('scheduler'))}  (scheduler.fps, .threshold, .aggregate, .similarity_eps)
  latency=NAME            {', '.join(available('latency'))}  (latency.value, latency.path, latency.scale ...)
  env=NAME                {', '.join(available('env'))}
  policy.actions_per_chunk=N  actions each inference returns (<= the model's chunk; the key to sweep)
  seed=N, episodes=N      seed; only the first N episodes of the env's protocol
  -m                      sweep: comma-separated values run every combination

Configs: {CONF_DIR}"""




def _job(cfg: DictConfig) -> float | None:
    """Hydra's task function (defined here: Hydra names the job, and its ``run.log``, after this module)."""
    return run_job.job(cfg)


_hydra_main = hydra.main(version_base=None, config_path=str(CONF_DIR), config_name="config")(_job)


def main(argv: list[str]) -> int:
    if any(a in ("-h", "--help") for a in argv):
        print(HELP)
        return 0
    multirun, overrides = split_argv(argv, "run", "Hydra overrides and -m")
    run_job.forget_checked()
    specs = check_all("config", overrides, multirun, run_job.check)
    runner.preflight(specs)
    key = "hydra.sweep.dir" if multirun else "hydra.run.dir"
    given = any(o.startswith(f"{key}=") for o in overrides)
    target = Path(output_dir("config", overrides, multirun))
    check_dir_path(target, key if given else "results_dir")
    if multirun and given:
        try:
            target.mkdir(parents=True, exist_ok=True)  # resuming: the same directory on purpose
        except OSError as err:
            raise ConfigError(f"{key}={str(target)!r} cannot be created ({run_job.os_error_line(err)})") from None
    else:
        target = reserve(target, key if given else "results_dir")
    # -m first: Hydra's parser takes flags before the overrides only (``a=1 -m b=2`` printed its usage)
    argv = (["-m"] if multirun else []) + [o for o in overrides if not o.startswith(f"{key}=")] + [
        f"{key}={_quote(str(target))}"]
    run_job.outcome.clear()
    if multirun and not any(o.lstrip("+~").split("=")[0] in ("hydra/sweeper", "search") for o in overrides):
        # every run is checked: Hydra's basic sweeper need not compose each job once more up front
        argv = [*argv, "hydra/sweeper=simbench_basic"]
    saved, saved_full_error = sys.argv, os.environ.get("HYDRA_FULL_ERROR")
    sys.argv = ["simbench-run", *argv]
    # Hydra would print its own traceback and exit 1 for an error raised outside the job (writing
    # .hydra/ on a full disk); let it reach simbench's entry point, which reports it in one line.
    os.environ["HYDRA_FULL_ERROR"] = "1"
    try:
        _hydra_main()
    except (KeyboardInterrupt, Terminated) as stop:
        if multirun:  # jobs whose workers were killed with the sweep have no status of their own
            signal_name = "SIGTERM" if isinstance(stop, Terminated) else "SIGINT"
            run_job.record_interrupted_jobs(target, f"interrupted: the sweep was stopped ({signal_name})")
        raise
    finally:
        run_job.forget_checked()
        sys.argv = saved
        if saved_full_error is None:
            os.environ.pop("HYDRA_FULL_ERROR", None)
        else:
            os.environ["HYDRA_FULL_ERROR"] = saved_full_error
    if "config_error" in run_job.outcome:
        raise run_job.outcome.pop("config_error")
    if multirun:
        return run_job.sweep_summary(target, len(specs))
    return 1 if run_job.outcome.get("failed") else 0


def _quote(value: str) -> str:
    """A Hydra override value that is taken literally (quoted; ``\\`` and ``'`` escaped)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
