"""``python -m simbench run [+policy=NAME] [overrides] [-m]``: the Hydra app.

Every run on the command line (each combination of a ``-m`` sweep) is composed and validated before
Hydra starts, so a bad override ends in one line, exit code 2 and nothing under ``results/``. Inside
a sweep, a job that fails at run time is recorded as failed (``status.json``) and the others go on;
a job whose directory already holds a complete result is skipped, so re-running an interrupted sweep
with the same ``hydra.sweep.dir`` resumes it.

Each run returns its ``objective`` (:func:`simbench.metrics.constrained_objective`), read back from
``metrics.json`` for a skipped run: a search sweeper (``hydra/sweeper=optuna``, ``+search=NAME``)
gets the same value from a resumed sweep as from the first, and None (a failed trial) for a failed run.
"""

from __future__ import annotations

import json
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
from simbench.errors import ConfigError
from simbench.metrics import constrained_objective
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


def _objective(cfg: DictConfig, metrics: dict) -> float | None:
    obj = cfg.get("objective") or {}
    return constrained_objective(metrics, str(obj.get("metric", "success_rate")), obj.get("max_stall_fraction"))


def _job(cfg: DictConfig) -> float | None:
    hc = HydraConfig.get()
    out_dir = Path(hc.runtime.output_dir)
    multirun = hc.mode == RunMode.MULTIRUN
    choices = hc.runtime.choices
    if multirun and runner.is_complete(out_dir):
        print(f"skip (complete): {out_dir}")
        try:
            return _objective(cfg, json.loads((out_dir / "metrics.json").read_text()))
        except (OSError, ValueError):
            return None
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
        metrics = runner.run(spec, out_dir, meta, progress=bool(cfg.progress), plots=bool(cfg.plots), video_episodes=int(cfg.video_episodes))
    except Exception as err:
        if not multirun:
            if isinstance(err, ConfigError):
                _deferred_errors.append(err)  # re-raised once Hydra returns: one line, exit 2
                return None
            raise
        # In a sweep a failed job is recorded and the others go on.
        line = f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"
        write_json(out_dir / runner.STATUS_FILE, {"status": "failed", "error": line, "traceback": traceback.format_exc()})
        print(f"FAILED {out_dir}: {line}", file=sys.stderr)
        return None
    return _objective(cfg, metrics)


_deferred_errors: list[ConfigError] = []
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
    if multirun and not any(o.lstrip("+~").split("=")[0] in ("hydra/sweeper", "search") for o in overrides):
        # every run is checked: Hydra's basic sweeper need not compose each job once more up front
        argv = [*argv, "hydra/sweeper=simbench_basic"]
    saved = sys.argv
    sys.argv = ["simbench-run", *argv]
    try:
        _hydra_main()
    finally:
        sys.argv = saved
    if _deferred_errors:
        raise _deferred_errors.pop()
    return 0
