"""``python -m simbench whatif-merge DIR``: join a what-if grid's blocks (``python -m simbench whatif``).

Checks that every block of the grid in ``DIR`` is there and complete, then writes ``DIR/whatif.json``
(every row in grid order, the Pareto front, each block's command and versions) and ``DIR/pareto.png``
and prints the Pareto front's first rows (:mod:`simbench.whatif_launch`).

Exit codes: 0 merged; 1 blocks missing or incomplete (one line naming them; nothing written);
2 bad input (no block files, blocks of several grids).
"""

from __future__ import annotations

import sys
from pathlib import Path

from simbench.errors import ConfigError

USAGE = "usage: python -m simbench whatif-merge DIR   (DIR: the out= of python -m simbench whatif)"


def main(argv: list[str]) -> int:
    if any(a in ("-h", "--help") for a in argv):
        print(f"{USAGE}\n\n{__doc__}")
        return 0
    if len(argv) != 1 or argv[0].startswith("-"):
        raise ConfigError(f"whatif-merge takes one directory, got {' '.join(argv) or 'nothing'}; {USAGE}")
    from simbench.whatif_launch import find_blocks, merge, missing_line, summary

    out = Path(argv[0])
    found = find_blocks(out)
    if found.missing:
        print(f"error: {missing_line(out, found)}", file=sys.stderr)
        return 1
    print(summary(out, merge(out, found)))
    return 0
