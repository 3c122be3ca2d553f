"""``python -m simbench hil info|measure|link [+policy=NAME] board=NAME [overrides]``: talk to a board.

``info`` prints the board's hello (facts). ``measure`` benchmarks a policy's ONNX model(s) (or
``hil.model=PATH``) on the board and writes ``trace.csv`` + ``trace.json`` to ``hil.out``. ``link``
measures the tether with the policy's real payloads and writes ``link.json`` (``out=PATH``), which
the DES loads with ``scheduler.transport_profile=PATH``. A bad override ends in one line and exit 2
with nothing written; a board fault (unreachable, token refused, timeout, dropped) in one line and
exit 1, and ``measure`` keeps the partial trace with a record saying it is incomplete. Engines:
simbench/hil/commands.py. Guide: docs/hil.md.
"""

from __future__ import annotations

from simbench.config.build import available
from simbench.errors import unknown_name
from simbench.hil.commands import FAULT_EXIT_CODE, compose_with_board, format_facts, info, link_command, measure_command
from simbench.hil.measure import TRACE_NAME, board_summary

ACTIONS = ("info", "measure", "link")

HELP = f"""usage: python -m simbench hil info|measure|link [overrides]

  hil info    board=NAME                 the board's facts (CPU, kernel, ONNX Runtime, providers, governor, temperature)
  hil measure +policy=NAME board=NAME    benchmark the policy's ONNX model on the board -> trace.csv + trace.json
              hil.count=N hil.min_duration_s=S hil.warmup=N hil.out=DIR hil.model=PATH (any ONNX file)
              hil.inputs=generated|scene (declared shapes, or a rendered tea-bag scene observation)
  hil link    board=NAME [+policy=NAME] [out=PATH]   observation/chunk trips with the policy's payloads,
              serialization vs size, the loop's achieved rate -> link.json (hil.link.count=N, hil.link.fps=F)

  board=NAME  {', '.join(available('board'))}  (board.address, board.port, board.token_file, board.providers,
              board.threads, board.timeout_s)
  +policy=NAME  {', '.join(available('policy'))}

Then: python -m simbench run +policy=NAME latency=trace latency.path=DIR/{TRACE_NAME}
      python -m simbench run +policy=NAME scheduler.transport_profile=PATH/link.json
Guide: docs/hil.md"""


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help", "help") or any(a in ("-h", "--help") for a in argv):
        print(HELP)
        return 0
    action, overrides = argv[0], argv[1:]
    if action not in ACTIONS:
        raise unknown_name("hil", action, ACTIONS)
    cfg, board = compose_with_board("hil", overrides, "hil")
    if action == "info":
        return info(board)
    if action == "link":
        return link_command(cfg, board, argv)
    return measure_command(cfg, board, argv)


__all__ = ["FAULT_EXIT_CODE", "board_summary", "format_facts", "main"]
