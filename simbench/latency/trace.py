"""Empirical latencies resampled from a recorded trace (``latency=trace``).

A trace is what a board run leaves behind: one row per inference, a ``latency_s`` column and
optionally one column per pipeline component (``backbone``, ``transformer``...). Resampling rows
whole keeps the correlation between components that a real board shows (a slow frame is slow in
every stage).

A trace written by ``python -m simbench hil measure`` has its record beside it (``trace.json`` next
to ``trace.csv``: board facts, model sha256, precision...); :meth:`TraceLatency.describe` reports it,
so a run's metrics say which board and model its latencies came from.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from simbench.bounds import MAX_SECONDS
from simbench.errors import ConfigError, bad_value
from simbench.latency.base import SampledLatency, StageTimes
from simbench.latency.context import LatencyContext


MAX_ROWS = 10_000_000
"""Most rows a trace may hold (hil measure writes thousands; the trace is held in memory)."""


class TraceLatency(SampledLatency):
    """Resamples rows of a CSV or Parquet trace with replacement."""

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any], ctx: LatencyContext) -> TraceLatency:
        return cls(str(cfg.get("path")), str(cfg.get("column", "latency_s")))

    def __init__(self, path: str | Path, column: str = "latency_s") -> None:
        if str(path) in ("???", "", "None"):
            raise ConfigError("latency.path is required with latency=trace; set latency.path=FILE (CSV or Parquet)")
        path = Path(path)
        if not path.is_file():
            raise bad_value("latency.path", str(path), "must be an existing CSV or Parquet file")
        try:
            table = pq.read_table(path) if path.suffix == ".parquet" else pacsv.read_csv(path)
        except Exception as err:
            raise ConfigError(f"latency.path={str(path)!r} could not be read: {str(err).splitlines()[0]}") from err
        if column not in table.column_names and column != "latency_s":
            raise bad_value("latency.column", column, f"not in {path.name}; columns: {', '.join(table.column_names)}")
        columns = {}
        for name in table.column_names:
            kind = table.schema.field(name).type
            if pa.types.is_integer(kind) or pa.types.is_floating(kind):
                columns[name] = np.asarray(table.column(name).to_numpy(zero_copy_only=False), dtype=np.float64)
            else:
                raise bad_value(
                    "latency.path",
                    str(path),
                    f"column {name!r} is not numeric (a trace holds latencies in seconds only)",
                )
        component_names = tuple(n for n in columns if n != column)
        if column in columns:
            total = columns[column]
        elif len(component_names) >= 2 and column == "latency_s":  # a per-component trace: the total is their sum
            total = np.sum([columns[n] for n in component_names], axis=0)
        else:  # one column that is not latency_s is not a breakdown into components
            raise bad_value("latency.column", column, f"not in {path.name}; columns: {', '.join(columns)} "
                            "(a trace needs latency_s, or two or more component columns, or latency.column=NAME)")
        if len(total) > MAX_ROWS:
            raise bad_value("latency.path", str(path), f"has {len(total):,} rows; at most {MAX_ROWS:,}")
        every = [total, *(columns[n] for n in component_names)]
        if len(total) == 0 or not all(np.all(np.isfinite(c)) and np.all((c >= 0) & (c <= MAX_SECONDS)) for c in every):
            raise bad_value("latency.path", str(path),
                            f"needs at least one row of finite latencies in [0, {MAX_SECONDS:g}] s")
        self.total = total
        self.components: tuple[str, ...] = component_names
        self._columns = {n: columns[n] for n in component_names}
        self._row = 0
        self.path = path
        self.column = column
        self.record = read_record(path)

    def sample(self, rng: np.random.Generator) -> float:
        self._row = int(rng.integers(len(self.total)))
        return float(self.total[self._row])

    def draw(self, rng: np.random.Generator, measured_s: float) -> StageTimes:
        """One whole row: its total and, when the trace has them, its per-component columns."""
        total = self.sample(rng)
        components = {n: float(col[self._row]) for n, col in self._columns.items()} if self.components else None
        return StageTimes(total, components)

    def describe(self) -> dict[str, Any]:
        """Where these latencies came from: the file, and the board and model when a record is beside it."""
        info: dict[str, Any] = {
            "kind": "trace",
            "path": str(self.path),
            "rows": int(len(self.total)),
            "column": self.column,
            "components": list(self.components),
        }
        rec = self.record
        if rec is not None:
            info.update(
                {
                    "board": rec.get("board_summary"),
                    "board_name": (rec.get("board") or {}).get("name"),
                    "model_sha256": rec.get("model_sha256"),
                    "precision": rec.get("precision"),
                    "execution_provider": rec.get("execution_provider"),
                    "threads": rec.get("threads"),
                    "measured": rec.get("date"),
                    "complete": rec.get("complete"),
                    "record": str(self.path.with_suffix(".json")),
                }
            )
        return info


def read_record(trace_path: Path) -> dict[str, Any] | None:
    """The ``hil measure`` record beside a trace (same name, ``.json``), or None when there is none."""
    sidecar = trace_path.with_suffix(".json")
    if not sidecar.is_file():
        return None
    try:
        record = json.loads(sidecar.read_text())
    except (OSError, ValueError) as err:
        raise bad_value(
            "latency.path", str(trace_path), f"its record {sidecar.name} is not readable JSON ({type(err).__name__})"
        ) from None
    if not isinstance(record, dict) or record.get("kind") != "simbench.hil.measure":
        return None
    for key, kinds in RECORD_FIELDS.items():  # the fields describe() reads, typed (the file is outside data)
        if record.get(key) is not None and not isinstance(record[key], kinds):
            raise bad_value("latency.path", str(trace_path),
                            f"its record {sidecar.name} has {key}={str(record[key])[:40]!r}; expected "
                            f"{' or '.join(k.__name__ for k in kinds)}")
    return record


RECORD_FIELDS: dict[str, tuple[type, ...]] = {
    "board": (dict,),
    "board_summary": (str,),
    "model_sha256": (str, dict),
    "precision": (str,),
    "execution_provider": (str,),
    "threads": (int,),
    "date": (str,),
    "complete": (bool,),
}
"""Fields of a ``hil measure`` record that a replay reports, and the types they must have."""
