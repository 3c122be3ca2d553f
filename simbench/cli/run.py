"""``python -m simbench run [+policy=NAME] [overrides] [-m]``: the Hydra app.

Every run on the command line (each combination of a ``-m`` sweep) is composed and validated before
Hydra starts, so a bad override ends in one line, exit code 2 and nothing under ``results/``. Inside
a sweep, a job that fails at run time is recorded as failed (``status.json``) and the others go on;
a job whose directory already holds a complete result is skipped, so re-running an interrupted sweep
with the same ``hydra.sweep.dir`` resumes it.
"""

from __future__ import annotations

import logging
import sys
import traceback
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from simbench import runner
from simbench.atomic_io import write_json
from simbench.cli.compose import check_all
from simbench.config.build import available, build_run_spec
from simbench.errors import ConfigError, RunFault
from simbench.paths import CONF_DIR

log = logging.getLogger("simbench")

HELP = f"""usage: python -m simbench run +policy=NAME [overrides] [-m]

Simulate a policy under a latency model and write results under results/.

  +policy=NAME            one of: {', '.join(available('policy'))}
  scheduler=NAME          {', '.join(available('scheduler'))}  (scheduler.fps, .threshold, .aggregate, .similarity_eps)
  latency=NAME            {', '.join(available('latency'))}  (latency.value, latency.path, latency.scale ...)
  env=NAME                {', '.join(available('env'))}
  seed=N, episodes=N      seed; only the first N episodes of the env's protocol
  -m                      sweep: comma-separated values run every combination

Configs: {CONF_DIR}"""


def _job(cfg: DictConfig) -> None:
    hc = HydraConfig.get()
    out_dir = Path(hc.runtime.output_dir)
    multirun = hc.mode == RunMode.MULTIRUN
    choices = hc.runtime.choices
    if multirun and runner.is_complete(out_dir):
        print(f"skip (complete): {out_dir}")
        return
    meta = {
        "policy": choices.get("policy"),
        "scheduler": choices.get("scheduler"),
        "latency": choices.get("latency"),
        "seed": cfg.seed,
        "fps": cfg.scheduler.fps,
        "threshold": cfg.scheduler.threshold,
        "aggregate": cfg.scheduler.aggregate,
    }
    try:
        spec = build_run_spec(cfg)
        runner.run(spec, out_dir, meta, progress=bool(cfg.progress), plots=bool(cfg.plots), video_episodes=int(cfg.video_episodes))
    except Exception as err:
        if not multirun:
            if isinstance(err, ConfigError):
                _deferred_errors.append(err)  # re-raised once Hydra returns: one line, exit 2
                return
            if isinstance(err, RunFault):  # a board fault: failed record with the reason, exit 1
                write_json(out_dir / runner.STATUS_FILE, {"status": "failed", "error": f"{type(err).__name__}: {err}"})
                print(f"error: {err}", file=sys.stderr)
                print(f"  failed run recorded: {out_dir / runner.STATUS_FILE}", file=sys.stderr)
                _faults.append(err)
                return
            raise
        # In a sweep a failed job is recorded and the others go on.
        line = f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"
        write_json(out_dir / runner.STATUS_FILE, {"status": "failed", "error": line, "traceback": traceback.format_exc()})
        print(f"FAILED {out_dir}: {line}", file=sys.stderr)


_deferred_errors: list[ConfigError] = []
_faults: list[RunFault] = []
_hydra_main = hydra.main(version_base=None, config_path=str(CONF_DIR), config_name="config")(_job)


def main(argv: list[str]) -> int:
    if any(a in ("-h", "--help") for a in argv):
        print(HELP)
        return 0
    multirun = any(a in ("-m", "--multirun") for a in argv)
    overrides = [a for a in argv if not a.startswith("-")]
    flags = [a for a in argv if a.startswith("-") and a not in ("-m", "--multirun")]
    if flags:
        raise ConfigError(f"unknown option(s) {' '.join(flags)}; run takes Hydra overrides and -m")
    check_all("config", overrides, multirun, build_run_spec)
    saved = sys.argv
    sys.argv = ["simbench-run", *argv]
    try:
        _hydra_main()
    finally:
        sys.argv = saved
    if _deferred_errors:
        raise _deferred_errors.pop()
    if _faults:
        _faults.clear()
        return 1
    return 0
