"""The engines behind ``python -m simbench hil info|measure|link`` (the CLI only parses; simbench/cli/hil.py)."""

from __future__ import annotations

import datetime as _dt
import shlex
import sys
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from simbench.config.build import load_option
from simbench.config.compose import compose_run, expand, split_argv
from simbench.errors import RunFault
from simbench.hil.board import BoardConfig, BoardConnection, parse_board
from simbench.hil.client import BoardError
from simbench.hil.link import measure_link, parse_link, write_link
from simbench.hil.measure import RECORD_NAME, TRACE_NAME, VlaPipeline, measure, model_components, parse_settings, scene_inputs

FAULT_EXIT_CODE = 1


def format_facts(where: str, facts: dict[str, Any]) -> str:
    def show(v: Any) -> str:
        return "-" if v is None else ", ".join(map(str, v)) if isinstance(v, list) else str(v)

    rows = [
        ("board", f"{facts.get('name')} at {where}"),
        ("cpu", f"{show(facts.get('cpu_model'))} x {show(facts.get('cpu_cores'))} ({show(facts.get('machine'))})"),
        ("kernel", show(facts.get("kernel"))),
        ("os", show(facts.get("os"))),
        ("python", show(facts.get("python"))),
        ("onnxruntime", show(facts.get("onnxruntime"))),
        ("providers", show(facts.get("providers"))),
        ("governor", show(facts.get("governor"))),
        ("frequency", f"{show(facts.get('freq_mhz'))} MHz"),
        ("temperature", f"{show(facts.get('temp_c'))} C"),
        (
            "agent",
            f"simbench-agent {show(facts.get('agent_version'))}, messages <= {show(facts.get('max_message_bytes'))} B, "
            f"models <= {show(facts.get('max_model_bytes'))} B",
        ),
    ]
    return "\n".join(f"  {k:<12} {v}" for k, v in rows)


def info(board: BoardConfig) -> int:
    try:
        with BoardConnection(board) as conn:
            print(format_facts(conn.where, conn.client.facts))
    except BoardError as err:
        print(f"error: {err}", file=sys.stderr)
        return FAULT_EXIT_CODE
    return 0


def measure_command(cfg: DictConfig, board: BoardConfig, argv: list[str]) -> int:
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
    pipeline = None
    if (policy or {}).get("arch") == "smolvla" and hil.get("model") in (None, ""):
        pipeline = VlaPipeline(num_steps=policy.get("num_steps"))  # type: ignore[union-attr]
    try:
        record = measure(board, components, settings, (policy or {}).get("name"), precision, threads, command,
                         inputs, note, pipeline)
    except RunFault as err:
        print(f"error: {err}", file=sys.stderr)
        return FAULT_EXIT_CODE
    out = settings.out
    if not record["complete"]:
        print(f"error: {record['error']}", file=sys.stderr)
        print(f"  partial trace ({record['rows']} inferences, marked incomplete): {out / record['trace']}",
              file=sys.stderr)
        if record["trace"] != TRACE_NAME:
            print(f"  the complete measurement already there is kept: {out / TRACE_NAME}", file=sys.stderr)
        return FAULT_EXIT_CODE
    ms = {k: 1e3 * record[k] for k in ("p50_s", "p90_s", "p99_s")}
    es = record["stats"].get("p90_early_stopping_s")
    print(f"  board       {record['board_summary']}")
    model, sha = record["model"], record["model_sha256"]
    if isinstance(model, dict):  # several graphs: their files, and the first one's sha256
        model = " + ".join(Path(p).name for p in model.values())
        sha = next(iter(sha.values()))
    print(
        f"  model       {model} (sha256 {sha[:16]}..., {record['precision']}, "
        f"{record['execution_provider']}, {threads} thread{'s' if threads > 1 else ''})"
    )
    print(f"  inferences  {record['count']} in {record['duration_s']:.2f} s after {record['warmup']} warm-up")
    print(
        f"  latency     p50 {ms['p50_s']:.3f} ms, p90 {ms['p90_s']:.3f} ms, p99 {ms['p99_s']:.3f} ms"
        + (f", early-stopping p90 {1e3 * es:.3f} ms" if es is not None else "")
    )
    for name, p in (record.get("components_p") or {}).items():
        print(f"  {name:<11} p50 {1e3 * p['p50_s']:.3f} ms, p90 {1e3 * p['p90_s']:.3f} ms, p99 {1e3 * p['p99_s']:.3f} ms")
    print(f"  trace       {out / TRACE_NAME}")
    print(f"  record      {out / RECORD_NAME}")
    node = policy or {}
    model = f" policy.model_path={node['model_path']}" if node.get("name") == "onnx" and node.get("model_path") else ""
    print(f"  replay      python -m simbench run +policy={node.get('name', 'NAME')}{model} latency=trace "
          f"latency.path={out / TRACE_NAME}")
    return 0


def link_command(cfg: DictConfig, board: BoardConfig, argv: list[str]) -> int:
    """Measure the tether with the policy's payloads (default act_int8) and write link.json."""
    if "policy" in cfg and cfg.policy is not None:
        policy: dict[str, Any] = OmegaConf.to_container(cfg.policy, resolve=True)  # type: ignore[assignment]
    else:
        policy = load_option("policy", "act_int8") or {}
    stamp = _dt.datetime.now().strftime("%Y-%m-%d_%H-%M-%S")
    out = (
        Path(str(cfg.out)) if cfg.get("out") not in (None, "") else Path(str(cfg.results_dir)) / "hil" / f"{stamp}_link"
    )
    link_cfg: dict[str, Any] = OmegaConf.to_container(cfg.hil.link, resolve=True)  # type: ignore[assignment]
    settings = parse_link(link_cfg, out)
    command = "python -m simbench hil " + " ".join(shlex.quote(a) for a in argv)
    try:
        record = measure_link(board, policy, settings, command)
        path = write_link(record, out)
    except BoardError as err:
        print(f"error: {err}", file=sys.stderr)
        return FAULT_EXIT_CODE
    except OSError as err:  # disk full, quota, I/O error: nothing half-written (write_json is atomic)
        print(f"error: cannot write the link profile to {out}: {err.strerror or err}; nothing was written",
              file=sys.stderr)
        return FAULT_EXIT_CODE
    ms = {
        k: {q: 1e3 * record[k][q] for q in ("p50", "p99")}
        for k in ("observation_trip_s", "chunk_trip_s", "round_trip_empty_s")
    }
    ser = record["serialize"]
    print(f"  board          {record['board']}")
    print(
        f"  payloads       observation {record['observation_bytes']} B, chunk {record['chunk_bytes']} B "
        f"({policy.get('name')})"
    )
    for key, label in (
        ("observation_trip_s", "observation"),
        ("chunk_trip_s", "chunk"),
        ("round_trip_empty_s", "empty rtt"),
    ):
        print(f"  {label:<14} p50 {ms[key]['p50']:.3f} ms, p99 {ms[key]['p99']:.3f} ms ({record[key]['n']} samples)")
    print(f"  serialize      {1e6 * ser['fixed_s']:.1f} us + {1e9 * ser['per_byte_s']:.3f} ns/B")
    print(
        f"  loop           {record['loop']['achieved_fps']:.3f} fps at {record['loop']['fps']:g}, "
        f"jitter p50 {record['loop']['jitter_p50_ms']:.3f} ms, p99 {record['loop']['jitter_p99_ms']:.3f} ms"
    )
    print(f"  profile        {path}")
    print(f"  use            python -m simbench run +policy={policy.get('name')} scheduler.transport_profile={path}")
    return 0



def compose_with_board(config_name: str, overrides: list[str], command: str) -> tuple[Any, BoardConfig]:
    """``conf/<config_name>.yaml`` with ``overrides`` (Hydra key=value only: ``-x`` flags are refused
    naming ``command``) and its parsed ``board`` node."""
    split_argv(overrides, command, "Hydra overrides (key=value)", multirun_ok=False)
    expand(overrides, multirun=False)
    cfg = compose_run(config_name, overrides)
    return cfg, parse_board(OmegaConf.to_container(cfg.board, resolve=True))  # type: ignore[arg-type]

__all__ = ["FAULT_EXIT_CODE", "compose_with_board", "format_facts", "info", "link_command", "measure_command"]
