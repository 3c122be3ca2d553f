"""``python -m simbench <subcommand> [hydra overrides]``.

Each subcommand is a module under ``simbench.cli`` with ``main(argv) -> int``. User mistakes raise
:class:`simbench.errors.ConfigError` and end here as one line on stderr with exit code 2; Ctrl-C
(SIGINT) ends in one line and exit code 130 (what a shell reports for a SIGINT), SIGTERM likewise
(143) after the same clean-up.
"""

from __future__ import annotations

import errno
import importlib
import os
import signal
import sys
import threading

# Headless rendering on CPUs (Mesa llvmpipe) unless the user chose another backend.
os.environ.setdefault("MUJOCO_GL", "egl")

from simbench.errors import INTERRUPTED_EXIT_CODE, USAGE_EXIT_CODE, ConfigError, Terminated

SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "run": ("simbench.cli.run", "simulate a policy under a latency model (Hydra app; -m sweeps)"),
    "record": ("simbench.cli.record", "record scripted-expert demonstrations as a LeRobotDataset v3.0"),
    "look": ("simbench.cli.look", "contact sheet PNG and mp4 of an expert episode"),
    "train": ("simbench.cli.train", "train a policy (ACT) on a recorded dataset"),
    "export": ("simbench.cli.export", "export a trained policy to ONNX and build precision variants"),
    "predict": ("simbench.cli.predict", "a board's predicted latency for a policy's ONNX graphs (device model)"),
    "eval": ("simbench.cli.eval", "ideal-timing success of shipped policies in the scene (sync, zero latency)"),
    "report": ("simbench.cli.report", "summarise a sweep directory: tables and plots"),
    "hil": ("simbench.cli.hil", "hardware in the loop: a board's facts, measure a model on it (docs/hil.md)"),
    "import-lerobot": ("simbench.cli.import_lerobot", "a LeRobot ACT checkpoint -> ONNX chunk policy + variants"),
    "replay": ("simbench.cli.replay", "a LeRobotDataset's episodes through the scheduler, open loop (docs/byo-policy.md)"),
    "whatif": ("simbench.cli.whatif", "a what-if grid (device-model latencies, DES timing) in blocks; -m fans them out"),
    "whatif-merge": ("simbench.cli.whatif_merge", "join a what-if grid's blocks: whatif.json, pareto.png, the Pareto front"),
}


FAULT_EXIT_CODE = 1
STORAGE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EIO, errno.EFBIG})
"""OSErrors that mean the storage failed (not a bug): reported in one line instead of a traceback."""


def usage() -> str:
    lines = ["usage: python -m simbench <subcommand> [overrides]", "", "subcommands:"]
    lines += [f"  {name:<14} {help_}" for name, (_, help_) in SUBCOMMANDS.items()]
    lines += ["", "Run 'python -m simbench <subcommand> --help' for that subcommand's options."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(usage())
        return 0
    name, rest = argv[0], argv[1:]
    if name not in SUBCOMMANDS:
        print(f"error: unknown subcommand {name!r}; choose one of: {', '.join(SUBCOMMANDS)}", file=sys.stderr)
        return USAGE_EXIT_CODE
    previous = (
        signal.signal(signal.SIGTERM, _raise_terminated)
        if threading.current_thread() is threading.main_thread()
        else None
    )
    try:
        module = importlib.import_module(SUBCOMMANDS[name][0])
        return int(module.main(rest) or 0)
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return USAGE_EXIT_CODE
    except OSError as err:
        if err.errno not in STORAGE_ERRNOS:
            raise
        # A full or failing disk anywhere (a report, Hydra's .hydra/, a profile): one line, exit 1.
        # Result files are written atomically (simbench.atomic_io), so nothing half-written is left.
        where = f" writing {err.filename}" if err.filename else ""
        print(f"error: simbench {name} stopped{where}: {err.strerror or err}"
              f"{' (disk full)' if err.errno in (errno.ENOSPC, errno.EDQUOT) else ''}; free space and run it again",
              file=sys.stderr)
        return FAULT_EXIT_CODE
    except KeyboardInterrupt:
        print(f"interrupted: simbench {name} stopped (Ctrl-C); nothing half-written was kept", file=sys.stderr)
        return INTERRUPTED_EXIT_CODE
    except Terminated:
        print(f"terminated: simbench {name} stopped (SIGTERM); nothing half-written was kept", file=sys.stderr)
        return 128 + signal.SIGTERM
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _raise_terminated(signum: int, frame: object) -> None:
    raise Terminated()


if __name__ == "__main__":
    sys.exit(main())
