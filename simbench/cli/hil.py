"""``python -m simbench hil info|measure [+policy=NAME] board=NAME [overrides]``: talk to a board.

``info`` prints the board's hello (facts). ``measure`` benchmarks a policy's ONNX model(s) (or
``hil.model=PATH``) on the board and writes ``trace.csv`` + ``trace.json`` to ``hil.out``.
A bad override ends in one line and exit 2 with nothing written; a board fault (unreachable, token
refused, timeout, dropped) in one line and exit 1, and ``measure`` keeps the partial trace with a
record saying it is incomplete. Guide: docs/hil.md.
"""

from __future__ import annotations

import datetime as _dt
import shlex
import sys
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from simbench.cli.compose import compose_run, expand
from simbench.config.build import available
from simbench.errors import ConfigError, unknown_name
from simbench.hil.board import BoardConnection, parse_board
from simbench.hil.client import BoardError
from simbench.hil.measure import RECORD_NAME, TRACE_NAME, board_summary, measure, model_components, parse_settings, scene_inputs

ACTIONS = ("info", "measure")
FAULT_EXIT_CODE = 1

HELP = f"""usage: python -m simbench hil info|measure [overrides]

  hil info    board=NAME                 the board's facts (CPU, kernel, ONNX Runtime, providers, governor, temperature)
  hil measure +policy=NAME board=NAME    benchmark the policy's ONNX model on the board -> trace.csv + trace.json
              hil.count=N hil.min_duration_s=S hil.warmup=N hil.out=DIR hil.model=PATH (any ONNX file)
              hil.inputs=generated|scene (declared shapes, or a rendered tea-bag scene observation)

  board=NAME  {', '.join(available('board'))}  (board.address, board.port, board.token_file, board.providers,
              board.threads, board.timeout_s)
  +policy=NAME  {', '.join(available('policy'))}

Then: python -m simbench run +policy=NAME latency=trace latency.path=DIR/{TRACE_NAME}
Guide: docs/hil.md"""


def format_facts(where: str, facts: dict[str, Any]) -> str:
    def show(v: Any) -> str:
        return "-" if v is None else ", ".join(map(str, v)) if isinstance(v, list) else str(v)

    rows = [
        ("board", f"{facts.get('name')} at {where}"), ("cpu", f"{show(facts.get('cpu_model'))} x {show(facts.get('cpu_cores'))} ({show(facts.get('machine'))})"),
        ("kernel", show(facts.get("kernel"))), ("os", show(facts.get("os"))), ("python", show(facts.get("python"))),
        ("onnxruntime", show(facts.get("onnxruntime"))), ("providers", show(facts.get("providers"))),
        ("governor", show(facts.get("governor"))), ("frequency", f"{show(facts.get('freq_mhz'))} MHz"),
        ("temperature", f"{show(facts.get('temp_c'))} C"),
        ("agent", f"simbench-agent {show(facts.get('agent_version'))}, messages <= {show(facts.get('max_message_bytes'))} B, "
                  f"models <= {show(facts.get('max_model_bytes'))} B"),
    ]
    return "\n".join(f"  {k:<12} {v}" for k, v in rows)


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help", "help") or any(a in ("-h", "--help") for a in argv):
        print(HELP)
        return 0
    action, overrides = argv[0], argv[1:]
    if action not in ACTIONS:
        raise unknown_name("hil", action, ACTIONS)
    flags = [a for a in overrides if a.startswith("-")]
    if flags:
        raise ConfigError(f"unknown option(s) {' '.join(flags)}; hil takes Hydra overrides")
    expand(overrides, multirun=False)
    cfg = compose_run("hil", overrides)
    board = parse_board(OmegaConf.to_container(cfg.board, resolve=True))  # type: ignore[arg-type]
    if action == "info":
        try:
            with BoardConnection(board) as conn:
                print(format_facts(conn.where, conn.client.facts))
        except BoardError as err:
            print(f"error: {err}", file=sys.stderr)
            return FAULT_EXIT_CODE
        return 0

    policy = OmegaConf.to_container(cfg.policy, resolve=True) if "policy" in cfg and cfg.policy is not None else None
    hil: dict[str, Any] = OmegaConf.to_container(cfg.hil, resolve=True)  # type: ignore[assignment]
    components = model_components(policy, hil.get("model"))  # type: ignore[arg-type]
    label = (policy or {}).get("name") if hil.get("model") in (None, "") else components[0][1].stem
    stamp = _dt.datetime.now().strftime("%Y-%m-%d_%H-%M-%S")
    settings = parse_settings(hil, Path(str(cfg.results_dir)) / "hil" / f"{stamp}_{label}")
    threads = board.threads or int((policy or {}).get("threads", 1) or 1)
    precision = (policy or {}).get("precision") if hil.get("model") in (None, "") else None
    command = "python -m simbench hil " + " ".join(shlex.quote(a) for a in argv)
    inputs, note = None, "generated from the models' declared shapes (seed 0)"
    if settings.inputs == "scene":
        seed = int(cfg.get("seed", 0))
        inputs = scene_inputs(components, seed)
        note = f"scene: the first frame of teabag_mug episode 0 (seed {seed}), preprocessed as the host policy does"
    record = measure(board, components, settings, (policy or {}).get("name"), precision, threads, command, inputs, note)
    out = settings.out
    if not record["complete"]:
        print(f"error: {record['error']}", file=sys.stderr)
        print(f"  partial trace ({record['rows']} inferences, marked incomplete): {out / TRACE_NAME}", file=sys.stderr)
        return FAULT_EXIT_CODE
    ms = {k: 1e3 * record[k] for k in ("p50_s", "p90_s", "p99_s")}
    es = record["stats"].get("p90_early_stopping_s")
    print(f"  board       {record['board_summary']}")
    print(f"  model       {record['model']} (sha256 {str(record['model_sha256'])[:16]}..., {record['precision']}, "
          f"{record['execution_provider']}, {threads} thread{'s' if threads > 1 else ''})")
    print(f"  inferences  {record['count']} in {record['duration_s']:.2f} s after {record['warmup']} warm-up")
    print(f"  latency     p50 {ms['p50_s']:.3f} ms, p90 {ms['p90_s']:.3f} ms, p99 {ms['p99_s']:.3f} ms"
          + (f", early-stopping p90 {1e3 * es:.3f} ms" if es is not None else ""))
    print(f"  trace       {out / TRACE_NAME}")
    print(f"  record      {out / RECORD_NAME}")
    print(f"  replay      python -m simbench run +policy={(policy or {}).get('name', 'NAME')} latency=trace latency.path={out / TRACE_NAME}")
    return 0


__all__ = ["board_summary", "format_facts", "main"]
