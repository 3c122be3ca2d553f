"""User-facing errors.

A user's mistake (bad override, missing file) must end in one clear line and exit code 2, never a
traceback. Library code raises :class:`ConfigError`; the CLI entry point catches it, prints
``error: <message>`` to stderr and exits 2.
"""

from __future__ import annotations

from collections.abc import Iterable

USAGE_EXIT_CODE = 2
INTERRUPTED_EXIT_CODE = 130
"""Exit code after Ctrl-C (128 + SIGINT), as shells report it."""


class Terminated(BaseException):
    """SIGTERM, raised in the main thread so the same clean-up as for Ctrl-C runs (a BaseException
    like KeyboardInterrupt, so ``except Exception`` blocks do not swallow it)."""


class ConfigError(ValueError):
    """A configuration value a user set is not allowed. The message is one line."""


class RunFault(RuntimeError):
    """Something outside the user's config failed mid-run (a board dropped, timed out, crashed).

    Not a usage error: the run ends with a failed record (``status.json``) naming the reason and
    exit code 1, never a traceback or a hang. The message is one line."""


class ParityFailed(RuntimeError):
    """An export does not reproduce its torch policy within ``max_parity`` (nothing is written; exit 1).
    Here, not beside the exporters, so the CLI catches it without importing torch."""


def bad_value(key: str, value: object, allowed: str) -> ConfigError:
    """Build the standard one-line message: which key, which value, what is allowed."""
    return ConfigError(f"{key}={value!r} is not allowed; {allowed}")


def unknown_name(key: str, value: object, names: Iterable[str]) -> ConfigError:
    """Standard message for a registry lookup that missed: lists the valid names."""
    return ConfigError(f"{key}={value!r} is unknown; choose one of: {', '.join(sorted(names))}")
