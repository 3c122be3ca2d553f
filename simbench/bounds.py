"""The one validator for numbers a user or a file gives: a number, finite, inside its range.

Every config reader takes its numbers through :func:`number` or :func:`integer`, so ``nan``, ``inf``,
``1e-300`` where a rate is expected, ``1e300`` seconds, a string or a boolean are refused the same way
everywhere: one :class:`~simbench.errors.ConfigError` naming the key, the value and the allowed range
(the CLI prints it as one ``error:`` line and exits 2 before anything is written).

The limits below are the ranges that make physical sense for this bench; a value beyond them is a
typo (a rate of 1e-300 Hz stalls the summary with a 300-digit period, 1e12 s of actuation delay never
ends), not an experiment.
"""

from __future__ import annotations

import math
from typing import Any

from simbench.errors import ConfigError, bad_value

MAX_SECONDS = 3_600.0
"""Longest delay, latency, trip or timeout one step may be given (an hour)."""
MIN_RATE_HZ = 1e-3
MAX_RATE_HZ = 10_000.0
"""Control, loop and link rates: from one tick per ~17 min to 10 kHz."""
MAX_COUNT = 1_000_000_000
"""Largest count (steps, rows, repeats) any option may ask for."""


def _range(lo: float | None, hi: float | None, lo_open: bool) -> str:
    parts = []
    if lo is not None:
        parts.append(f"{'>' if lo_open else '>='} {lo:,g}")
    if hi is not None:
        parts.append(f"<= {hi:,g}")
    return " and ".join(parts)


def number(
    value: Any, key: str, lo: float | None = None, hi: float | None = None, *, lo_open: bool = False
) -> float:
    """``value`` as a finite float in the range (``lo_open``: strictly above ``lo``).

    Numbers only (ints and floats; a numeric string from a YAML/CLI override is NOT parsed here: Hydra
    has already typed it, so a string means the user wrote text)."""
    span = _range(lo, hi, lo_open)
    allowed = f"must be {span} (a finite number)" if span else "must be a finite number"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise bad_value(key, value, allowed)
    try:
        result = float(value)
    except OverflowError:  # an int beyond float range
        raise bad_value(key, value, allowed) from None
    if not math.isfinite(result):
        raise bad_value(key, value, allowed)
    if lo is not None and (result < lo or (lo_open and result == lo)):
        raise bad_value(key, value, allowed)
    if hi is not None and result > hi:
        raise bad_value(key, value, allowed)
    return result


def integer(value: Any, key: str, lo: int | None = None, hi: int | None = MAX_COUNT) -> int:
    """``value`` as an int in [lo, hi] (booleans and floats such as ``1.5`` or ``nan`` refused)."""
    if isinstance(value, bool) or not isinstance(value, int) or (lo is not None and value < lo) or (
        hi is not None and value > hi
    ):
        raise bad_value(key, value, f"must be an integer {_range(lo, hi, False)}".rstrip())
    return value


def seconds(value: Any, key: str, *, positive: bool = False, hi: float = MAX_SECONDS) -> float:
    """A duration: finite, >= 0 (> 0 with ``positive``), at most ``hi`` seconds."""
    return number(value, key, 0.0, hi, lo_open=positive)


def rate(value: Any, key: str) -> float:
    """A rate in Hz: finite, in [MIN_RATE_HZ, MAX_RATE_HZ]."""
    return number(value, key, MIN_RATE_HZ, MAX_RATE_HZ)


def parse_number(text: str, key: str) -> float:
    """A number written as text (argparse values, file fields that are strings): ``float(text)``
    then :func:`number`'s finiteness; a non-number is a :class:`ConfigError` naming ``key``."""
    try:
        return float(text)
    except (TypeError, ValueError):
        raise ConfigError(f"{key}={text!r} is not allowed; must be a number") from None


__all__ = ["MAX_COUNT", "MAX_RATE_HZ", "MAX_SECONDS", "MIN_RATE_HZ", "integer", "number", "parse_number", "rate",
           "seconds"]
