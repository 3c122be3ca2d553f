"""One job of ``python -m simbench run`` inside Hydra, and what a sweep reports when its jobs end.

Run directories (:mod:`simbench.run_dir`): a job's directory is locked while it writes. Inside a
sweep, a job that fails is recorded as failed (``status.json``) and the others go on; a job whose
directory already holds a complete result is skipped, so re-running an interrupted sweep with the same
``hydra.sweep.dir`` resumes it. A sweep with failed jobs prints them and exits 1.

Each job returns its ``objective`` (:func:`simbench.metrics.constrained_objective`), read back from
``metrics.json`` for a skipped job: a search sweeper (``hydra/sweeper=optuna``, ``+search=NAME``)
gets the same value from a resumed sweep as from the first, and None (a failed trial) for a failed run.
"""

from __future__ import annotations

import errno
import json
import shutil
import sys
import threading
import traceback
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from simbench import runner
from simbench.atomic_io import write_json
from simbench.config.build import RunSpec, build_run_spec
from simbench.errors import ConfigError, Terminated
from simbench.metrics import constrained_objective
from simbench.run_dir import RunDirBusy, is_empty_run_dir, locked
from simbench.safe_text import printable

outcome: dict[str, Any] = {}
"""What the jobs of this process ended in (a ConfigError to re-raise, whether any failed)."""

_checked: dict[str, RunSpec] = {}
"""Run specs the command line's check built in this process, by config: a job run here (Hydra's basic
launcher) takes its own instead of building it a second time; a job in another process builds it there."""


def _config_key(cfg: DictConfig) -> str:
    return OmegaConf.to_yaml(cfg, resolve=True)


def check(cfg: DictConfig) -> RunSpec:
    """Build (validate) one run of the command line before Hydra starts, and keep it for its job."""
    spec = build_run_spec(cfg)
    _checked[_config_key(cfg)] = spec
    return spec


def forget_checked() -> None:
    """Drop what the check kept (a command's jobs are over, or never started)."""
    _checked.clear()


def spec_for(cfg: DictConfig) -> RunSpec:
    """The job's run spec: the one the check built, else built now (once either way)."""
    return _checked.pop(_config_key(cfg), None) or build_run_spec(cfg)


def _objective(cfg: DictConfig, metrics: dict) -> float | None:
    obj = cfg.get("objective") or {}
    return constrained_objective(metrics, str(obj.get("metric", "success_rate")), obj.get("max_stall_fraction"))


def job(cfg: DictConfig) -> float | None:
    hc = HydraConfig.get()
    out_dir = Path(hc.runtime.output_dir)
    multirun = hc.mode == RunMode.MULTIRUN
    if multirun:
        # tqdm's default lock is a multiprocessing semaphore; a worker killed with its stopped sweep
        # never unregisters it and Python reports it as leaked at exit. A job's bars stay in its process.
        from tqdm import tqdm

        tqdm.set_lock(threading.RLock())
    choices = hc.runtime.choices
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
        with locked(out_dir):
            if multirun and runner.is_complete(out_dir):
                print(f"skip (complete): {out_dir}")
                try:
                    return _objective(cfg, json.loads((out_dir / "metrics.json").read_text()))
                except (OSError, ValueError):
                    return None
            try:
                spec = spec_for(cfg)
                # A multi-job launcher runs jobs side by side on one console: no progress bars and no
                # summary tables there (each is in its job's summary.txt), one line per finished job.
                metrics = runner.run(
                    spec,
                    out_dir,
                    meta,
                    progress=bool(cfg.progress) and not multirun,
                    plots=bool(cfg.plots),
                    video_episodes=int(cfg.video_episodes),
                    summary_to_console=not multirun,
                    rerun=bool(cfg.get("rerun", False)),
                )
                if multirun:
                    print(job_line(hc.job.override_dirname or out_dir.name, metrics), flush=True)
                return _objective(cfg, metrics)
            except ConfigError as err:
                if not multirun:
                    if is_empty_run_dir(out_dir):
                        shutil.rmtree(out_dir, ignore_errors=True)  # ours (made exclusively): nothing written
                    outcome["config_error"] = err  # re-raised once Hydra returns: one line, exit 2
                    return None
                _record_failure(out_dir, err, "failed")
            except (KeyboardInterrupt, Terminated) as err:
                _record_failure(out_dir, err, "interrupted")
                raise
            except Exception as err:  # noqa: BLE001 - any fault becomes a failed record, the sweep goes on
                _record_failure(out_dir, err, "failed")
    except RunDirBusy as err:
        print(f"FAILED {out_dir}: {err}; not touched", file=sys.stderr)
        outcome["failed"] = True
        outcome.setdefault("busy", []).append(out_dir)
    return None  # a failed run: a failed trial for a search sweeper


def record_interrupted_jobs(sweep_dir: Path, reason: str, wait_s: float = 10.0) -> list[Path]:
    """After a sweep is stopped: give every job that started (Hydra wrote its ``.hydra/``) and has no
    ``status.json`` an ``interrupted`` one, as its own process would have.

    A job whose worker was killed (joblib ends its workers when the sweep is stopped) never wrote one.
    Each job's lock says whether its process still lives: a job still writing is waited for (up to
    ``wait_s``), then left alone; a resumed sweep runs every ``interrupted`` job again."""
    import time

    deadline = time.monotonic() + wait_s
    marked = []
    for config in sorted(sweep_dir.glob("**/.hydra/config.yaml")):
        out_dir = config.parent.parent
        while not (out_dir / runner.STATUS_FILE).exists():
            try:
                with locked(out_dir):
                    if not (out_dir / runner.STATUS_FILE).exists():
                        write_json(out_dir / runner.STATUS_FILE, {"status": "interrupted", "error": reason})
                        marked.append(out_dir)
                break
            except RunDirBusy:
                if time.monotonic() > deadline:
                    break
                time.sleep(0.05)
            except OSError:
                break  # a full disk: the job has no status, so a resume runs it again
    return marked


def job_line(name: str, m: dict) -> str:
    """The one line a sweep prints per finished job."""
    success = (
        f"success {100 * m['success_rate']:.1f}% of {m['episodes']}"
        if m.get("success_rate") is not None
        else f"{m['episodes']} episodes"
    )
    return (
        f"done {name}: {success}, stall share {100 * m['stall_fraction']:.1f}%, latency p50 {m['latency_p50_s']:.3f} s"
    )


def _record_failure(out_dir: Path, err: BaseException, status: str) -> None:
    """Write ``status.json`` (failed or interrupted, with the reason) and say it in one line.

    When even that write fails (a full disk), the line says so instead: the run has no
    ``status.json``, so a resumed sweep runs it again."""
    text = printable(str(err).splitlines()[0]) if str(err) else ""  # may quote a board's text: made visible
    line = "interrupted" if status == "interrupted" else f"{type(err).__name__}: {text}"
    if isinstance(err, OSError) and err.errno == errno.ENOSPC:
        line = f"disk full: {text}"
    outcome["failed"] = True
    try:
        write_json(out_dir / runner.STATUS_FILE, {"status": status, "error": line, "traceback": traceback.format_exc()})
    except OSError as write_err:
        try:  # a few bytes may still fit where the traceback did not
            (out_dir / runner.STATUS_FILE).write_text(json.dumps({"status": status, "error": line}))
        except OSError:
            why = "disk full" if write_err.errno == errno.ENOSPC else os_error_line(write_err)
            print(f"FAILED {out_dir}: {line}; status.json could not be written ({why})", file=sys.stderr)
            return
    if status != "interrupted":
        print(f"FAILED {out_dir}: {line} (details in {runner.STATUS_FILE})", file=sys.stderr)


def os_error_line(err: OSError) -> str:
    return f"{type(err).__name__}: {err.strerror or err}"


def sweep_summary(sweep_dir: Path, expected: int) -> int:
    """Print the jobs that did not complete; 1 when there are any (CI can tell without reading files)."""
    statuses: dict[str, str] = {}
    for cfg in sorted(sweep_dir.glob("**/.hydra/config.yaml")):
        job = cfg.parent.parent
        try:
            status = json.loads((job / runner.STATUS_FILE).read_text())
            statuses[job.relative_to(sweep_dir).as_posix()] = (
                "complete" if status.get("status") == "complete"
                else printable(f"{status.get('status')}: {status.get('error', '')}".rstrip(": "))
            )
        except (OSError, ValueError):
            statuses[job.relative_to(sweep_dir).as_posix()] = "incomplete: no status.json"
    # A job another process was writing when this sweep reached it was not run HERE, whatever its
    # status.json says by now (two identical sweeps at once): say so rather than "N of N complete", exit 1.
    for busy in outcome.get("busy", []):
        try:
            name = Path(busy).relative_to(sweep_dir).as_posix()
        except ValueError:
            continue
        statuses[name] = "not run here: another process was writing it (rerun this sweep to check it)"
    bad = {job: s for job, s in statuses.items() if s != "complete"}
    complete = len(statuses) - len(bad)
    if not bad and not outcome.get("failed") and complete >= expected:
        print(f"sweep {sweep_dir}: {complete} jobs complete")
        return 0
    print(
        f"sweep {sweep_dir}: {complete} of {max(expected, len(statuses))} jobs complete, {len(bad)} not:",
        file=sys.stderr,
    )
    for job, s in bad.items():
        print(f"  {job}: {s}", file=sys.stderr)
    return 1
