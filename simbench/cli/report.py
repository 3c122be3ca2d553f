"""``python -m simbench report <sweep dir>``: summary table (markdown + CSV), plots, index.html."""

from __future__ import annotations

import sys
from pathlib import Path

from simbench.errors import ConfigError
from simbench.reporting.sweep_report import write_report


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        print(
            "usage: python -m simbench report <sweep dir>\n\nWrites summary.md, summary.csv, plots and index.html into "
            "the sweep directory."
        )
        return 0 if argv else 2
    if len(argv) != 1:
        raise ConfigError(f"report takes one sweep directory, got {len(argv)} arguments")
    paths = write_report(Path(argv[0]))
    text = Path(paths["md"]).read_text()
    print(text)
    if "warning: this sweep mixes versions" in text:
        print(next(line for line in text.splitlines() if line.startswith("warning:")), file=sys.stderr)
    print(f"report: {paths['html']}")
    return 0
