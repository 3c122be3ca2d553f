"""What-if grids beyond one process: the grid in blocks, one file per block, merged when all are there.

``python -m simbench whatif`` (:mod:`simbench.cli.whatif`) runs one block of a grid per Hydra job,
so any launcher simbench already has fans the blocks out (joblib, submitit, SLURM, Ray); this module
is what a job does, with typed arguments only:

- :class:`GridSpec` names a grid (policy, device, points, simulated seconds, seed, number of blocks)
  and validates it: a bad value is one :class:`~simbench.errors.ConfigError` line before any work.
- :func:`run_block` computes block ``k`` of ``n`` (:func:`simbench.whatif.blocks` on the grid's
  points: contiguous, sizes differing by at most one) with :func:`simbench.whatif.run_grid` and writes
  ``block_<k>_of_<n>.json`` atomically with the rows, the grid, ``versions`` and the command. A block
  whose file is there and complete (same grid, every row) is skipped: re-running the command resumes.
- :func:`merge` checks that every block of the grid is present and writes ``whatif.json`` (all rows in
  grid order: the rows :func:`simbench.whatif.run_grid` returns for the whole grid in one process, bit
  for bit, since every point is simulated with the grid's seed whichever block holds it) and
  ``pareto.png``.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from simbench import whatif
from simbench.atomic_io import write_json, write_with
from simbench.config.options import available, load_option, runnable_policies
from simbench.errors import ConfigError, bad_value, unknown_name
from simbench.provenance import describe, mixed_versions, versions

BLOCK_FILE = re.compile(r"block_(\d+)_of_(\d+)\.json")
MERGED_FILE = "whatif.json"
PLOT_FILE = "pareto.png"
FORMAT = 1
"""``format`` of a block file and of ``whatif.json``."""


def priced_policies() -> list[str]:
    """Policies a grid can price: runnable ones with shipped ONNX graphs (not ``scripted``, not ``onnx``
    without its file)."""
    nodes = {name: load_option("policy", name) for name in runnable_policies()}
    return [name for name, node in nodes.items() if node is not None and node.get("runtime") == "onnx"
            and node.get("model_path")]


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True)
class GridSpec:
    """One what-if grid: every block of it shares these (a block file records them under ``grid``)."""

    policy: str = "act_fp32"
    device: str = "imx95"
    points: int = 1000
    """Points asked for; a smaller grid (ACT's has 1,080) gives all of its own."""
    duration_s: float = 60.0
    """Simulated seconds per point."""
    seed: int = 0
    blocks: int = 1
    jitter: float = 0.05

    def __post_init__(self) -> None:
        if self.policy not in (priced := priced_policies()):
            raise bad_value("policy", self.policy, f"a policy with shipped ONNX graphs: {', '.join(priced)}")
        if self.device not in available("device"):
            raise unknown_name("device", self.device, available("device"))
        if not _is_int(self.points) or self.points < 1:
            raise bad_value("points", self.points, "an integer >= 1")
        if isinstance(self.duration_s, bool) or not isinstance(self.duration_s, (int, float)) or not (
                0 < self.duration_s < float("inf")):
            raise bad_value("duration_s", self.duration_s, "simulated seconds per point, a number > 0")
        if not _is_int(self.seed) or self.seed < 0:
            raise bad_value("seed", self.seed, "an integer >= 0")
        size = self.size
        if not _is_int(self.blocks) or not 1 <= self.blocks <= size:
            raise bad_value("blocks", self.blocks, f"an integer from 1 to the grid's {size} points")
        object.__setattr__(self, "duration_s", float(self.duration_s))

    @property
    def size(self) -> int:
        """Points in the grid (``points``, or the whole cross product when that is smaller)."""
        return min(self.points, len(whatif.grid(None, self.axes)))

    @property
    def axes(self) -> dict[str, Any] | None:
        return None if whatif.has_steps(self.policy) else whatif.NO_STEPS_AXES

    def grid(self) -> list[whatif.Point]:
        return whatif.grid(self.points, self.axes)

    def ranges(self) -> list[tuple[int, int]]:
        """(start, stop) in the grid of each block, in order."""
        return [(b[0], b[-1] + 1) for b in whatif.blocks(range(self.size), self.blocks)]

    def check_block(self, block: object) -> int | None:
        """``block`` as given (None: every block in this process), or a one-line ConfigError."""
        if block is not None and (not _is_int(block) or not 0 <= block < self.blocks):  # type: ignore[operator]
            raise bad_value("block", block, f"null (every block here) or an integer from 0 to blocks-1={self.blocks - 1}")
        return block  # type: ignore[return-value]


def block_path(out: Path, block: int, blocks: int) -> Path:
    return out / f"block_{block}_of_{blocks}.json"


def read_block(path: Path) -> dict[str, Any] | None:
    """A block file's record, or None when it is missing or unreadable (a job not run, or not to the end)."""
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) and record.get("format") == FORMAT else None


def is_complete(record: dict[str, Any] | None, spec: GridSpec, block: int) -> bool:
    """Whether ``record`` is block ``block`` of ``spec``'s grid with every one of its rows."""
    if record is None or record.get("grid") != asdict(spec) or record.get("block") != block:
        return False
    start, stop = spec.ranges()[block]
    return record.get("range") == [start, stop] and len(record.get("rows") or ()) == stop - start


def foreign_blocks(out: Path, spec: GridSpec) -> list[str]:
    """Block files in ``out`` that belong to another grid (one grid per directory)."""
    return sorted(p.name for p in out.glob("block_*_of_*.json")
                  if BLOCK_FILE.fullmatch(p.name) and (r := read_block(p)) is not None and r.get("grid") != asdict(spec))


@lru_cache(maxsize=4)
def _price(policy: str, device: str) -> whatif.Pricing:
    """Priced once per process (``block=null`` runs every block in one)."""
    return whatif.price(policy, device)


def run_block(spec: GridSpec, block: int, out: Path, workers: int | None = None, command: str = "",
              launcher: str | None = None) -> tuple[Path, bool]:
    """Compute and write block ``block`` of ``spec``'s grid; (its file, whether it ran: False when skipped)."""
    path = block_path(out, block, spec.blocks)
    if is_complete(read_block(path), spec, block):
        return path, False
    start, stop = spec.ranges()[block]
    t0 = time.perf_counter()
    pricing = _price(spec.policy, spec.device)
    rows = whatif.run_grid(spec.grid()[start:stop], pricing, spec.policy, spec.duration_s, workers, spec.seed,
                           spec.jitter)
    record = {
        "format": FORMAT, "grid": asdict(spec), "block": block, "range": [start, stop], "rows": rows,
        "wall_s": round(time.perf_counter() - t0, 3), "workers": workers or os.cpu_count() or 1,
        "launcher": launcher, "command": command, "versions": versions(),
    }
    write_json(path, record)
    return path, True


@dataclass(frozen=True)
class Job:
    """One job of ``python -m simbench whatif``: the grid, its block (None: every block), processes, directory."""

    spec: GridSpec
    block: int | None = None
    workers: int | None = None
    """Processes for this job's points (None: the CPUs)."""
    out: Path = Path(".")

    def __post_init__(self) -> None:
        self.spec.check_block(self.block)
        w = self.workers
        if w is not None and (not _is_int(w) or w < 1):
            raise bad_value("workers", w, "null (the CPUs) or an integer >= 1")
        if not isinstance(self.out, (str, Path)) or not str(self.out).strip():
            raise bad_value("out", self.out, "a directory")
        object.__setattr__(self, "out", Path(self.out))

    @property
    def block_numbers(self) -> list[int]:
        return list(range(self.spec.blocks)) if self.block is None else [self.block]


@dataclass(frozen=True)
class Blocks:
    """What a directory holds of one grid."""

    spec: GridSpec
    records: dict[int, dict[str, Any]]
    """block -> its complete record."""
    missing: list[int]


def find_blocks(out: Path) -> Blocks:
    """The grid ``out``'s block files belong to and which of its blocks are complete; a ConfigError
    when there is no block file, or files of more than one grid."""
    if not out.is_dir():
        raise bad_value("DIR", str(out), "a directory of block_<k>_of_<n>.json files (python -m simbench whatif out=DIR)")
    found = [(p, read_block(p)) for p in sorted(out.glob("block_*_of_*.json")) if BLOCK_FILE.fullmatch(p.name)]
    grids = {json.dumps(r["grid"], sort_keys=True) for _, r in found if r is not None and isinstance(r.get("grid"), dict)}
    if not grids:
        raise ConfigError(f"{str(out)!r} has no readable block files (block_<k>_of_<n>.json from "
                          "python -m simbench whatif out=DIR)")
    if len(grids) > 1:
        raise ConfigError(f"{str(out)!r} holds blocks of {len(grids)} different grids ({'; '.join(sorted(grids))}); "
                          "keep one grid per directory")
    spec = GridSpec(**json.loads(grids.pop()))
    records = {k: r for k in range(spec.blocks)
               if is_complete(r := read_block(block_path(out, k, spec.blocks)), spec, k)}
    return Blocks(spec, records, [k for k in range(spec.blocks) if k not in records])


def missing_line(out: Path, found: Blocks) -> str:
    """One line naming the blocks a merge still needs (and the command that computes one)."""
    names = ", ".join(str(k) for k in found.missing)
    return (f"{str(out)!r}: {len(found.missing)} of {found.spec.blocks} blocks missing or incomplete: block={names} "
            f"(run them with python -m simbench whatif out=DIR block=K blocks={found.spec.blocks} and this grid's keys)")


def merge(out: Path, found: Blocks) -> dict[str, Any]:
    """Write ``whatif.json`` (every row in grid order) and ``pareto.png`` from a complete set of blocks."""
    assert not found.missing, found.missing
    spec = found.spec
    rows = [row for k in range(spec.blocks) for row in found.records[k]["rows"]]
    assert len(rows) == spec.size
    block_versions = [found.records[k].get("versions") for k in range(spec.blocks)]
    record = {
        "format": FORMAT, "grid": asdict(spec), "points": len(rows), "rows": rows,
        "pareto_front": whatif.pareto_front(rows),
        "blocks": [{key: found.records[k].get(key) for key in ("block", "range", "wall_s", "workers", "launcher",
                                                                "command", "versions")} for k in range(spec.blocks)],
        "mixed_versions": mixed_versions(block_versions),
        "versions": versions(),
    }
    write_json(out / MERGED_FILE, record)
    title = (f"{spec.policy} on {spec.device}: {len(rows)} what-if points, {spec.duration_s:g} s each, seed {spec.seed} "
             f"({spec.blocks} blocks)")
    write_with(out / PLOT_FILE, lambda tmp: whatif.plot(rows, str(tmp), title))
    return record


def closing_report(jobs: list[Job]) -> int:
    """After a command's jobs: 1 and a line when a block it asked for is not complete; else merge when
    every block of the grid is there (print the front), or say which are still to run. All jobs share a grid."""
    spec, out = jobs[0].spec, jobs[0].out
    found = find_blocks(out)
    failed = sorted({k for job in jobs for k in job.block_numbers} & set(found.missing))
    if failed:
        print(f"error: block(s) {', '.join(map(str, failed))} of {spec.blocks} did not complete (no complete "
              f"{block_path(out, failed[0], spec.blocks).name}); run the same command again to retry them",
              file=sys.stderr)
        return 1
    if found.missing:
        print(f"{spec.blocks - len(found.missing)} of {spec.blocks} blocks complete in {out}; still to run: "
              f"block={','.join(map(str, found.missing))}, then python -m simbench whatif-merge {out}")
        return 0
    print(summary(out, merge(out, found)))
    return 0


def front_table(rows: list[dict[str, Any]], count: int = 8) -> str:
    """The Pareto front's first ``count`` rows (least compute first) as a plain-text table."""
    front = whatif.pareto_front(rows)
    head = ("point", "precision", "resolution", "chunk", "steps", "actions", "threshold", "latency_s", "stall_%")
    lines = ["  ".join(f"{h:>10}" for h in head)]
    for i in front[:count]:
        r = rows[i]
        cells = (i, r["precision"], f"{r['resolution']:g}", r["chunk"], r["steps"],
                 max(1, round(r["chunk"] * r["actions_fraction"])), f"{r['threshold']:g}", f"{r['predicted_s']:.3f}",
                 f"{100 * (r['stall_fraction'] or 0):.1f}")
        lines.append("  ".join(f"{c!s:>10}" for c in cells))
    if len(front) > count:
        lines.append(f"  ... {len(front) - count} more on the front ({len(front)} in all)")
    return "\n".join(lines)


def summary(out: Path, record: dict[str, Any]) -> str:
    """What a merge prints: the grid, where it went, the Pareto front's first rows."""
    spec = record["grid"]
    head = (f"what-if grid {spec['policy']} on {spec['device']}: {record['points']} points x {spec['duration_s']:g} s, "
            f"seed {spec['seed']}, {spec['blocks']} blocks -> {out / MERGED_FILE}, {out / PLOT_FILE}")
    lines = [head, f"  {describe(record['versions'])}"]
    for key, values in record["mixed_versions"].items():
        lines.append(f"  warning: the blocks ran with different {key}: {', '.join(values)}")
    lines.append(f"Pareto front ({len(record['pareto_front'])} points: most compute for each stall share):")
    return "\n".join(lines + [front_table(record["rows"])])


__all__ = ["BLOCK_FILE", "Blocks", "GridSpec", "Job", "block_path", "closing_report", "find_blocks", "foreign_blocks", "front_table",
           "is_complete", "merge", "missing_line", "read_block", "run_block", "summary"]
