"""Parse ``hil/nightly/run``'s Hydra-style overrides (conf/nightly.yaml) and run the nightly."""

from __future__ import annotations

from omegaconf import OmegaConf

from simbench.config.compose import compose_run, expand
from simbench.errors import ConfigError
from simbench.hil.board import parse_board
from simbench.nightly import run_nightly

USAGE = """usage: hil/nightly/run board=NAME out=DIR [overrides]

  board=NAME                loopback | lab (board.address=..., board.token_file=...); board.slowdown=2 (loopback fault)
  out=DIR                   the dated report (nightly_<date>.md), p90 plot, traces, the protocol's run directory
  nightly.episodes=N        the protocol's first N episodes (default: all 30)
  nightly.variants=[a,b]    which shipped variants to measure (default: all)
  nightly.count=N           timed inferences per variant; nightly.p90_tolerance=X; nightly.success_confidence=C
  nightly.baseline=PATH     default hil/nightly/baselines/<board>.json; nightly.update_baseline=true writes it

Config: conf/nightly.yaml. Exit 0 pass, 1 regression(s) or a board fault, 2 bad input."""


def main(argv: list[str]) -> int:
    if any(a in ("-h", "--help", "help") for a in argv):
        print(USAGE)
        return 0
    flags = [a for a in argv if a.startswith("-")]
    if flags:
        raise ConfigError(f"unknown option(s) {' '.join(flags)}; hil/nightly/run takes Hydra overrides (key=value)")
    expand(argv, multirun=False)
    cfg = compose_run("nightly", argv)
    board = parse_board(OmegaConf.to_container(cfg.board, resolve=True))  # type: ignore[arg-type]
    board_overrides = [a for a in argv if a.lstrip("+~").startswith("board")]
    return run_nightly(cfg, board, board_overrides, argv)
