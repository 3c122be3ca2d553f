"""The nightly regression against a lab board (``hil/nightly/run board=NAME out=DIR``).

1. Every shipped policy variant (the ``conf/policy`` configs whose model is under
   ``simbench/models/act/``) is measured on the board with ``hil measure``'s machinery: a trace and a
   record per variant under ``DIR/variants/<name>/``.
2. The published protocol (30 tea-bag episodes) runs for the default policy with ``latency=board``:
   every inference on the board, on the scene's real observation; the run directory (metrics,
   per-episode CSV, timeline parquet and plot) is ``DIR/protocol/``. The same protocol runs for the
   VLA (``nightly.vla_policy``, null: none) in ``DIR/protocol_vla/``, with its own baseline row and
   the same test; ``nightly.episodes`` applies to both.
3. Both are compared with the stored baseline (``hil/nightly/baselines/<board>.json``): a variant
   regresses when its p90 exceeds the baseline's by more than ``nightly.p90_tolerance``; the
   protocol regresses when its success rate is below the baseline's beyond statistical noise: the
   upper end of the Newcombe (hybrid Wilson score) interval for the difference of the two rates, at
   ``nightly.success_confidence``, is below zero.
4. A dated report (``DIR/nightly_<date>.md``, a p90 plot, ``nightly.json``) is written; the exit
   code is 1 when anything regressed, and each regression is named on stderr and in the report.

A baseline belongs to one board: it records the board's identity (:func:`board_identity`: CPU model,
cores, architecture, ONNX Runtime version and providers, agent version) and the versions that took
it. Against a board of another identity the nightly calls no regressions: it names both identities
and the command that records this board's baseline (``rebaseline=true``), and exits 2.
"""

from __future__ import annotations

import datetime as _dt
import json
import re
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from simbench.atomic_io import write_json, write_text
from simbench.config.build import available, load_option
from simbench.errors import ConfigError, bad_value
from simbench.hil.board import BoardConfig
from simbench.hil.measure import MeasureSettings, VlaPipeline, measure, model_components
from simbench.paths import CONF_DIR
from simbench.policies.chunk_contract import read_contract
from simbench.provenance import describe as describe_versions
from simbench.provenance import versions
from simbench.stats import newcombe, wilson

REPO_ROOT = CONF_DIR.parent
BASELINE_DIR = REPO_ROOT / "hil" / "nightly" / "baselines"
BASELINE_KIND = "simbench.hil.nightly.baseline"


@dataclass(frozen=True)
class NightlySettings:
    out: Path
    policy: str
    variants: tuple[str, ...]
    episodes: int | None
    count: int
    warmup: int
    p90_tolerance: float
    success_confidence: float
    baseline: Path
    rebaseline: bool
    seed: int
    board_overrides: tuple[str, ...] = ()
    vla_policy: str | None = None

    def rebaseline_command(self) -> str:
        return "hil/nightly/run " + " ".join([*self.board_overrides, "rebaseline=true", "out=DIR"])


OWN_LABEL = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


def own_model(entry: str, shipped: list[str]) -> tuple[str, Path]:
    """A user's ONNX chunk policy in ``nightly.variants`` (docs/byo-policy.md), measured like a shipped
    variant: ``PATH.onnx`` (labelled by its file name, or its folder's for ``model.onnx``, the layout
    ``import-lerobot`` writes) or ``LABEL=PATH.onnx``; its contract is checked before the board is touched."""
    label, sep, raw = entry.partition("=")
    if not sep:
        raw = entry
        label = Path(raw).parent.name if Path(raw).stem == "model" else Path(raw).stem
    if not raw.endswith(".onnx"):
        raise bad_value("nightly.variants", entry, f"must be a shipped variant ({', '.join(shipped)}), PATH.onnx or "
                        "LABEL=PATH.onnx (an ONNX chunk policy of your own)")
    if not OWN_LABEL.fullmatch(label) or label in shipped:
        raise bad_value("nightly.variants", entry, f"its label {label!r} must be letters, digits, '_', '.', '-' and "
                        "not a shipped name (give LABEL=PATH.onnx)")
    path = Path(raw).expanduser()
    if not path.is_file():
        raise bad_value("nightly.variants", entry, f"{raw} is not a file (give an ONNX chunk policy)")
    read_contract(path)
    return label, path


def shipped_variants() -> list[str]:
    """Policy configs whose ONNX model ships: ACT in simbench/models/act/, then every SmolVLA
    precision recipe whose three graphs ship in simbench/models/smolvla/ (measured per component)."""
    from simbench.policies.smolvla.onnx_runtime import component_paths

    act, vla = [], []
    for name in available("policy"):
        node = load_option("policy", name) or {}
        if not node.get("actions_per_chunk"):
            continue
        if str(node.get("model_path", "")).startswith("act/"):
            act.append(name)
        elif node.get("arch") == "smolvla" and node.get("runtime") == "onnx" and node.get("model_path"):
            try:
                component_paths(node.get("model_path"), node.get("component_precision"))
            except ConfigError:  # a recipe whose graphs are not shipped
                continue
            vla.append(name)
    return act + vla


def parse_settings(cfg: DictConfig, board: BoardConfig, board_overrides: list[str] | None = None) -> NightlySettings:
    n: dict[str, Any] = OmegaConf.to_container(cfg.nightly, resolve=True)  # type: ignore[assignment]
    out = None if OmegaConf.is_missing(cfg, "out") else cfg.get("out")
    if out in (None, ""):
        raise ConfigError("out=DIR is required (where the dated report, traces and plots go)")
    shipped = shipped_variants()
    variants = n.get("variants") or shipped
    if not isinstance(variants, list) or not all(isinstance(v, str) for v in variants):
        raise bad_value("nightly.variants", variants, f"must be a list of shipped variants ({', '.join(shipped)}) "
                        "or LABEL=MODEL.onnx entries (an ONNX chunk policy of your own)")
    variants = [v if v in shipped else "=".join(map(str, own_model(v, shipped))) for v in variants]
    labels = [v.split("=", 1)[0] for v in variants]
    if len(set(labels)) != len(labels):
        raise bad_value("nightly.variants", variants, "every variant needs its own label (give LABEL=PATH.onnx)")
    policy = n.get("policy")
    if policy not in shipped:
        raise bad_value("nightly.policy", policy, f"must be one of {', '.join(shipped)}")
    vla_policy = n.get("vla_policy")
    vla_shipped = [v for v in shipped if v.startswith("smolvla_")]
    if vla_policy is not None and vla_policy not in vla_shipped:
        raise bad_value("nightly.vla_policy", vla_policy, f"must be null or one of {', '.join(vla_shipped)}")
    episodes = n.get("episodes")
    if episodes is not None and (isinstance(episodes, bool) or not isinstance(episodes, int) or episodes < 1):
        raise bad_value("nightly.episodes", episodes, "must be an integer >= 1 or null (the published protocol)")
    for key, lo in (("count", 10), ("warmup", 0)):
        v = n.get(key)
        if isinstance(v, bool) or not isinstance(v, int) or v < lo:
            raise bad_value(f"nightly.{key}", v, f"must be an integer >= {lo}")
    tol = n.get("p90_tolerance")
    if isinstance(tol, bool) or not isinstance(tol, (int, float)) or not 0 <= tol <= 100:
        raise bad_value(
            "nightly.p90_tolerance", tol, "must be a number in [0, 100] (0.5: 50% above the baseline's p90)"
        )
    conf = n.get("success_confidence")
    if isinstance(conf, bool) or not isinstance(conf, (int, float)) or not 0.5 <= conf < 1:
        raise bad_value("nightly.success_confidence", conf, "must be a number in [0.5, 1)")
    baseline = Path(str(n["baseline"])) if n.get("baseline") not in (None, "") else BASELINE_DIR / f"{board.kind}.json"
    rebaseline = cfg.get("rebaseline", False)
    if not isinstance(rebaseline, bool):
        raise bad_value("rebaseline", rebaseline, "must be true or false")
    seed = cfg.get("seed", 0)
    return NightlySettings(
        Path(str(out)),
        str(policy),
        tuple(variants),
        episodes,
        int(n["count"]),
        int(n["warmup"]),
        float(tol),
        float(conf),
        baseline,
        rebaseline,
        int(seed),
        tuple(board_overrides or [f"board={board.kind}"]),
        None if vla_policy is None else str(vla_policy),
    )


# --- the board a baseline belongs to -------------------------------------------------------------

IDENTITY_KEYS: tuple[str, ...] = ("cpu_model", "cpu_cores", "machine", "onnxruntime", "providers", "agent_version")


def board_identity(facts: dict[str, Any]) -> dict[str, Any]:
    """What must match for two measurements to be compared: the board's CPU, runtime and agent."""
    return {k: facts.get(k) for k in IDENTITY_KEYS}


def describe_identity(identity: dict[str, Any] | None) -> str:
    if not identity:
        return "unrecorded"
    providers = ",".join(identity.get("providers") or [])
    return (f"{identity.get('cpu_model')} x{identity.get('cpu_cores')} ({identity.get('machine')}), onnxruntime "
            f"{identity.get('onnxruntime')} [{providers}], agent {identity.get('agent_version')}")


def read_baseline(s: NightlySettings) -> dict[str, Any]:
    if not s.baseline.is_file():
        raise bad_value(
            "nightly.baseline", str(s.baseline), f"does not exist; record this board's baseline: {s.rebaseline_command()}"
        )
    try:
        baseline = json.loads(s.baseline.read_text())
    except (OSError, ValueError) as err:
        raise bad_value("nightly.baseline", str(s.baseline), f"is not readable JSON ({type(err).__name__})") from None
    if not isinstance(baseline, dict) or baseline.get("kind") != BASELINE_KIND:
        raise bad_value("nightly.baseline", str(s.baseline), f"is not a nightly baseline (kind {BASELINE_KIND})")
    return baseline


def check_identity(baseline: dict[str, Any], identity: dict[str, Any], s: NightlySettings) -> None:
    """Refuse (ConfigError, exit 2) to compare a board with another board's baseline."""
    theirs = baseline.get("identity")
    if theirs != identity:
        raise ConfigError(
            f"nightly.baseline={s.baseline} was taken on another board: this board is {describe_identity(identity)}; "
            f"the baseline's is {describe_identity(theirs)}. No regressions called; record this board's baseline: "
            f"{s.rebaseline_command()}"
        )


def probe_identity(board: BoardConfig) -> dict[str, Any]:
    """Connect once and read the board's identity (the loopback agent lives only for this call)."""
    from simbench.hil.board import BoardConnection

    with BoardConnection(board) as conn:
        return board_identity(conn.client.facts)


# --- the run ------------------------------------------------------------------------------------


def measure_variants(board: BoardConfig, s: NightlySettings, command: str) -> dict[str, dict[str, Any]]:
    rows: dict[str, dict[str, Any]] = {}
    for entry in s.variants:
        if "=" in entry:  # LABEL=PATH.onnx, as parse_settings resolved it
            name, path = entry.split("=", 1)
            policy: dict[str, Any] = {"precision": read_contract(path).precision}
            components = model_components(None, path)
        else:
            name, policy = entry, load_option("policy", entry) or {}
            components = model_components(policy, None)
        settings = MeasureSettings(s.count, 0.0, s.warmup, max(s.count, 1_000_000), 3600.0, s.out / "variants" / name)
        pipeline = VlaPipeline(num_steps=policy.get("num_steps")) if policy.get("arch") == "smolvla" else None
        record = measure(
            board,
            components,
            settings,
            name,
            policy.get("precision"),
            board.threads or int(policy.get("threads", 1) or 1),
            command,
            pipeline=pipeline,
        )
        rows[name] = {
            "complete": record["complete"],
            "error": record.get("error"),
            "p50_s": record.get("p50_s"),
            "p90_s": record.get("p90_s"),
            "p99_s": record.get("p99_s"),
            "count": record.get("count"),
            "precision": record.get("precision"),
            "trace": str(settings.out / "trace.csv"),
            "board": record.get("board_summary"),
            "components": {c: {k: p.get(k) for k in ("p50_s", "p90_s", "p99_s")}
                           for c, p in (record.get("components_p") or {}).items()},
        }
        print(
            f"  {name:<18} p50 {1e3 * (record.get('p50_s') or float('nan')):.3f} ms, "
            f"p90 {1e3 * (record.get('p90_s') or float('nan')):.3f} ms",
            flush=True,
        )
    return rows


def run_protocol(
    board_overrides: list[str], s: NightlySettings, policy: str | None = None, subdir: str = "protocol"
) -> dict[str, Any]:
    """The published protocol with latency=board for ``policy`` (default ``nightly.policy``), written
    as a normal run directory ``DIR/<subdir>/``."""
    policy = policy or s.policy
    from simbench import runner
    from simbench.config.build import build_run_spec
    from simbench.config.compose import compose_run

    overrides = [
        f"+policy={policy}",
        "latency=board",
        "env=teabag_mug",
        f"seed={s.seed}",
        "progress=false",
        *board_overrides,
    ]
    if s.episodes is not None:
        overrides.append(f"episodes={s.episodes}")
    spec = build_run_spec(compose_run("config", overrides))
    out = s.out / subdir
    meta = {"policy": policy, "scheduler": "async", "latency": "board", "seed": s.seed}
    metrics = runner.run(spec, out, meta, progress=False, plots=True, summary_to_console=False)
    successes = (
        int(round(metrics["success_rate"] * metrics["episodes"])) if metrics.get("success_rate") is not None else 0
    )
    return {
        "policy": policy,
        "episodes": metrics["episodes"],
        "successes": successes,
        "success_rate": metrics.get("success_rate"),
        "stall_fraction": metrics.get("stall_fraction"),
        "latency_p50_s": metrics.get("latency_p50_s"),
        "run_dir": str(out),
        "overrides": overrides,
    }


def protocol_row(
    protocol: dict[str, Any], bp: dict[str, Any] | None, policy: str, s: NightlySettings, regressions: list[str]
) -> dict[str, Any]:
    """One protocol's success against its baseline row (Newcombe interval of the difference)."""
    prow: dict[str, Any] = {"successes": protocol["successes"], "episodes": protocol["episodes"], "verdict": "ok"}
    if bp and bp.get("episodes") and bp.get("policy", policy) == policy:
        lo, hi = newcombe(
            protocol["successes"], protocol["episodes"], int(bp["successes"]), int(bp["episodes"]), s.success_confidence
        )
        prow.update(baseline_successes=bp["successes"], baseline_episodes=bp["episodes"], difference_interval=[lo, hi])
        if hi < 0:
            prow["verdict"] = "REGRESSION"
            regressions.append(
                f"{policy} protocol: success {protocol['successes']}/{protocol['episodes']} vs baseline "
                f"{bp['successes']}/{bp['episodes']} (difference {100 * lo:+.1f} to {100 * hi:+.1f} pt at "
                f"{100 * s.success_confidence:g}% confidence)"
            )
    else:
        prow["verdict"] = "no baseline"
    return prow


def p90_row(label: str, p90: float | None, base: float | None, s: NightlySettings, regressions: list[str],
            failure: str | None = None) -> dict[str, Any]:
    """One p90 against its baseline's (a variant, or one component of a multi-graph variant); a
    regression, or a failure with text, is appended to ``regressions`` as one line."""
    row: dict[str, Any] = {"p90_s": p90, "baseline_p90_s": base, "ratio": None, "verdict": "ok"}
    if failure is not None:
        row["verdict"] = "failed"
        if failure:
            regressions.append(f"{label}: {failure}")
    elif base is None:
        row["verdict"] = "no baseline"
    else:
        row["ratio"] = p90 / base  # type: ignore[operator]
        if p90 > base * (1 + s.p90_tolerance):  # type: ignore[operator]
            row["verdict"] = "REGRESSION"
            regressions.append(f"{label}: p90 latency {1e3 * p90:.3f} ms vs baseline {1e3 * base:.3f} ms "  # type: ignore[operator]
                               f"(x{row['ratio']:.2f}, tolerance x{1 + s.p90_tolerance:.2f})")
    return row


def compare(
    variants: dict[str, dict[str, Any]],
    protocol: dict[str, Any],
    baseline: dict[str, Any],
    s: NightlySettings,
    vla_protocol: dict[str, Any] | None = None,
) -> tuple[list[str], dict[str, Any]]:
    """Regressions (one line each) and the comparison rows for the report (``vla_protocol``: the
    SmolVLA protocol row, compared with the baseline's ``vla_protocol``)."""
    regressions: list[str] = []
    rows: dict[str, Any] = {"variants": {}, "protocol": {}}
    base_vars = baseline.get("variants", {})
    for name, v in variants.items():
        failed = not v["complete"] or v["p90_s"] is None
        row = p90_row(name, v["p90_s"], base_vars.get(name, {}).get("p90_s"), s, regressions,
                      f"measurement failed ({v['error']})" if failed else None)
        rows["variants"][name] = row
        base_comps = base_vars.get(name, {}).get("components") or {}
        row["components"] = {}
        for comp, c in (v.get("components") or {}).items():  # a multi-graph variant: each component's p90
            crow = p90_row(f"{name} {comp}", c.get("p90_s"), (base_comps.get(comp) or {}).get("p90_s"), s, regressions,
                           "" if c.get("p90_s") is None else None)
            row["components"][comp] = {"p50_s": c.get("p50_s"), **crow}
    rows["protocol"] = protocol_row(protocol, baseline.get("protocol"), s.policy, s, regressions)
    if vla_protocol is not None:
        policy = vla_protocol.get("policy") or s.vla_policy or "vla"
        rows["vla_protocol"] = protocol_row(vla_protocol, baseline.get("vla_protocol"), policy, s, regressions)
    return regressions, rows


def plot_p90(path: Path, variants: dict[str, dict[str, Any]], baseline: dict[str, Any], tolerance: float) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(variants)
    now = [1e3 * (variants[n]["p90_s"] or 0.0) for n in names]
    base = [1e3 * (baseline.get("variants", {}).get(n, {}).get("p90_s") or 0.0) for n in names]
    fig, ax = plt.subplots(figsize=(8, 3.5))
    x = range(len(names))
    ax.bar([i - 0.2 for i in x], base, 0.4, label="baseline p90")
    ax.bar([i + 0.2 for i in x], now, 0.4, label="tonight p90")
    ax.scatter(list(x), [b * (1 + tolerance) for b in base], marker="_", s=400, color="red", label="tolerance")
    ax.set_xticks(list(x), names, rotation=20)
    ax.set_ylabel("ms")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def report(
    s: NightlySettings,
    board: BoardConfig,
    command: str,
    variants: dict[str, dict[str, Any]],
    protocol: dict[str, Any],
    rows: dict[str, Any],
    regressions: list[str],
    date: str,
    vla_protocol: dict[str, Any] | None = None,
) -> Path:
    def ms(v: float | None) -> str:
        return "-" if v is None else f"{1e3 * v:.3f}"

    board_line = next((v["board"] for v in variants.values() if v.get("board")), board.label)
    lines = [
        f"# Nightly HIL regression, {date}",
        "",
        f"- board: {board_line}",
        f"- host: {describe_versions(versions())}",
        f"- command: `{command}`",
        f"- baseline: `{s.baseline}`",
        f"- verdict: **{'REGRESSED' if regressions else 'pass'}**",
        "",
    ]
    if regressions:
        lines += ["## Regressions", "", *[f"- {r}" for r in regressions], ""]
    lines += [
        "## Latency per variant (hil measure)",
        "",
        f"p90 tolerance: x{1 + s.p90_tolerance:.2f} the baseline's. "
        "Traces: `variants/<name>/trace.csv` (records beside them).",
        "",
        "| variant | precision | p50 ms | p90 ms | baseline p90 ms | ratio | verdict |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, v in variants.items():
        r = rows["variants"][name]
        ratio = "-" if r["ratio"] is None else f"{r['ratio']:.2f}"
        lines.append(
            f"| {name} | {v['precision']} | {ms(v['p50_s'])} | {ms(v['p90_s'])} | {ms(r['baseline_p90_s'])} "
            f"| {ratio} | {r['verdict']} |"
        )
    multi = [(n, c, r) for n in variants for c, r in (rows["variants"][n].get("components") or {}).items()]
    if multi:
        lines += [
            "",
            "### Per component (multi-graph variants: vision, prefill once, the expert's denoising steps)",
            "",
            "| variant | component | p50 ms | p90 ms | baseline p90 ms | ratio | verdict |",
            "|---|---|---|---|---|---|---|",
            *[f"| {n} | {c} | {ms(r['p50_s'])} | {ms(r['p90_s'])} | {ms(r['baseline_p90_s'])} | "
              f"{'-' if r['ratio'] is None else format(r['ratio'], '.2f')} | {r['verdict']} |" for n, c, r in multi],
        ]
    lines += ["", "![p90 per variant](nightly_p90.png)"]
    sections = [(s.policy, protocol, rows["protocol"], "protocol")]
    if vla_protocol is not None:
        sections.append((vla_protocol.get("policy") or str(s.vla_policy), vla_protocol, rows["vla_protocol"],
                         "protocol_vla"))
    for policy, run, p, subdir in sections:
        interval = p.get("difference_interval")
        lines += [
            "",
            f"## Protocol: {policy}, latency=board",
            "",
            f"- success: {p['successes']}/{p['episodes']}"
            + (
                f" (baseline {p['baseline_successes']}/{p['baseline_episodes']}; difference {100 * interval[0]:+.1f} "
                f"to {100 * interval[1]:+.1f} pt at {100 * s.success_confidence:g}% confidence)"
                if interval
                else ""
            ),
            f"- stall share: {100 * (run['stall_fraction'] or 0):.2f}%, "
            f"board latency p50 {ms(run['latency_p50_s'])} ms",
            f"- verdict: {p['verdict']}",
            f"- run directory: `{subdir}/` (metrics.json, episodes.csv, timeline.parquet, timeline.png)",
        ]
    lines.append("")
    path = s.out / f"nightly_{date}.md"
    write_text(path, "\n".join(lines) + "\n")
    return path


def run_nightly(cfg: DictConfig, board: BoardConfig, board_overrides: list[str], argv: list[str]) -> int:
    from simbench.hil.client import BoardError

    s = parse_settings(cfg, board, [a for a in argv if a.startswith("board")])
    command = "hil/nightly/run " + " ".join(shlex.quote(a) for a in argv)
    date = _dt.datetime.now().strftime("%Y-%m-%d")
    try:
        identity = probe_identity(board)
    except BoardError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    if not s.rebaseline:
        check_identity(read_baseline(s), identity, s)
    s.out.mkdir(parents=True, exist_ok=True)
    protocols = s.policy + (f" and {s.vla_policy}" if s.vla_policy else "")
    print(
        f"nightly: {len(s.variants)} variants on {board.label} ({describe_identity(identity)}), then {protocols}'s "
        "protocol with latency=board",
        flush=True,
    )
    vla_protocol: dict[str, Any] | None = None
    try:
        variants = measure_variants(board, s, command)
        protocol = run_protocol(board_overrides, s)
        if s.vla_policy:
            vla_protocol = run_protocol(board_overrides, s, s.vla_policy, "protocol_vla")
    except BoardError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    for run in (protocol, vla_protocol):
        if run is not None:
            print(
                f"  protocol {run['policy']:<18}success {run['successes']}/{run['episodes']}, "
                f"stall share {100 * (run['stall_fraction'] or 0):.2f}%",
                flush=True,
            )
    if s.rebaseline:
        baseline = {
            "kind": BASELINE_KIND,
            "date": date,
            "board": board.kind,
            "identity": identity,
            "versions": versions(),
            "command": command,
            "variants": {
                n: {"p90_s": v["p90_s"], "p50_s": v["p50_s"], "count": v["count"],
                    **({"components": {c: {"p90_s": p["p90_s"], "p50_s": p["p50_s"]}
                                       for c, p in v["components"].items()}} if v.get("components") else {})}
                for n, v in variants.items()
            },
            "protocol": {"policy": s.policy, "episodes": protocol["episodes"], "successes": protocol["successes"]},
            **({"vla_protocol": {"policy": s.vla_policy, "episodes": vla_protocol["episodes"],
                                 "successes": vla_protocol["successes"]}} if vla_protocol is not None else {}),
        }
        write_json(s.baseline, baseline)
        print(f"baseline written: {s.baseline}")
    baseline = read_baseline(s)
    regressions, rows = compare(variants, protocol, baseline, s, vla_protocol)
    plot_p90(s.out / "nightly_p90.png", variants, baseline, s.p90_tolerance)
    path = report(s, board, command, variants, protocol, rows, regressions, date, vla_protocol)
    write_json(
        s.out / "nightly.json",
        {
            "date": date,
            "command": command,
            "board": board.kind,
            "variants": variants,
            "protocol": protocol,
            "vla_protocol": vla_protocol,
            "comparison": rows,
            "regressions": regressions,
            "identity": identity,
            "versions": versions(),
        },
    )
    print(f"report: {path}")
    if regressions:
        for r in regressions:
            print(f"REGRESSION {r}", file=sys.stderr)
        print(f"nightly: {len(regressions)} regression(s)", file=sys.stderr)
        return 1
    print("nightly: no regressions")
    return 0


__all__ = [
    "BASELINE_DIR",
    "IDENTITY_KEYS",
    "NightlySettings",
    "board_identity",
    "check_identity",
    "compare",
    "newcombe",
    "parse_settings",
    "run_nightly",
    "shipped_variants",
    "wilson",
]
