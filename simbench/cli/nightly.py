"""Parse ``hil/nightly/run``'s Hydra-style overrides (conf/nightly.yaml) and run the nightly."""

from __future__ import annotations

from simbench.hil.commands import compose_with_board
from simbench.hil.nightly import run_nightly

USAGE = """usage: hil/nightly/run board=NAME out=DIR [overrides]

  board=NAME                loopback | lab (board.address=..., board.token_file=...); board.slowdown=2 (loopback fault)
  out=DIR                   the dated report (nightly_<date>.md), p90 plot, traces, the protocol's run directory
  nightly.episodes=N        the protocol's first N episodes (default: all 30)
  nightly.variants=[a,b]    which shipped variants to measure (default: all)
  nightly.count=N           timed inferences per variant; nightly.p90_tolerance=X; nightly.success_confidence=C
  nightly.baseline=PATH     default hil/nightly/baselines/<board>.json (the board it was taken on is checked)
  rebaseline=true           measure, then write this board's baseline (with its identity) before comparing

Config: conf/nightly.yaml. Exit 0 pass, 1 regression(s) or a board fault, 2 bad input."""


def main(argv: list[str]) -> int:
    if any(a in ("-h", "--help", "help") for a in argv):
        print(USAGE)
        return 0
    cfg, board = compose_with_board("nightly", argv, "hil/nightly/run")
    board_overrides = [a for a in argv if a.lstrip("+~").startswith("board")]
    return run_nightly(cfg, board, board_overrides, argv)
