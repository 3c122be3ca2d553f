"""``hil measure``: benchmark a policy's ONNX model(s) on a board; write a trace and its record.

Output directory (``hil.out``):

* ``trace.csv``: one row per timed inference, column ``latency_s`` (seconds), plus one column per
  component when the policy is several graphs (``latency_s`` is then their sum). Rows go to a
  temporary file as the board streams them; it becomes ``trace.csv`` together with its record
  (:func:`_commit`), so a run that fails midway keeps what was measured, marked incomplete, and a
  Ctrl-C keeps nothing. A failed run never replaces a complete measurement already in ``hil.out``:
  it is written beside it as ``trace.failed.csv`` / ``trace.failed.json``.
* ``trace.json``: the record: board facts, model sha256(s), precision, execution provider, threads,
  versions, date, count, p50/p90/p99, the early-stopping p90/p99, temperature/frequency samples,
  ``complete`` (false with ``error`` when the run failed; the trace is then partial).

``latency=trace latency.path=DIR/trace.csv`` replays the trace and reads the record beside it.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from simbench import bounds
from simbench.atomic_io import finite_json, signals_held, umask
from simbench.errors import ConfigError, RunFault, bad_value, unknown_name
from simbench.hil.board import BoardConfig, BoardConnection
from simbench.hil.client import BoardError, LoadedModel
from simbench.hil.replies import VLA_COMPONENTS, BenchBatch, BenchDone
from simbench.hil.spec import host_session_spec
from simbench.provenance import versions
from simbench.run_dir import check_dir_path

TRACE_NAME = "trace.csv"
RECORD_NAME = "trace.json"
FAILED_TRACE_NAME = "trace.failed.csv"
FAILED_RECORD_NAME = "trace.failed.json"
"""Where a failed attempt goes when ``hil.out`` already holds a complete measurement (kept as is)."""
RECORD_KIND = "simbench.hil.measure"


INPUT_KINDS = ("generated", "scene")


@dataclass(frozen=True)
class MeasureSettings:
    count: int
    min_duration_s: float
    warmup: int
    max_count: int
    max_duration_s: float
    out: Path
    inputs: str = "generated"


MAX_BENCH_COUNT = 10_000_000
MAX_BENCH_S = 86_400.0
"""The agent's own limits on a bench (count and seconds), checked here so a bad value is exit 2
with nothing written instead of a refusal after connecting."""


def _int(cfg: Mapping[str, Any], key: str, minimum: int, maximum: int = MAX_BENCH_COUNT) -> int:
    return bounds.integer(cfg.get(key), f"hil.{key}", minimum, maximum)


def _seconds(cfg: Mapping[str, Any], key: str, minimum: float) -> float:
    return bounds.number(cfg.get(key), f"hil.{key}", minimum, MAX_BENCH_S)


def parse_settings(cfg: Mapping[str, Any], default_out: Path) -> MeasureSettings:
    count = _int(cfg, "count", 1)
    max_count = _int(cfg, "max_count", 1)
    if max_count < count:
        raise bad_value("hil.max_count", max_count, f"must be >= hil.count ({count})")
    min_duration = _seconds(cfg, "min_duration_s", 0.0)
    max_duration = _seconds(cfg, "max_duration_s", 0.001)
    if max_duration < min_duration:
        raise bad_value("hil.max_duration_s", max_duration, f"must be >= hil.min_duration_s ({min_duration:g})")
    out = cfg.get("out")
    inputs = cfg.get("inputs", "generated")
    if inputs not in INPUT_KINDS:
        raise unknown_name("hil.inputs", inputs, INPUT_KINDS)
    out_path = Path(str(out)).expanduser() if out not in (None, "") else default_out
    check_dir_path(out_path, "hil.out")
    return MeasureSettings(count, min_duration, _int(cfg, "warmup", 0, 100_000), max_count, max_duration, out_path,
                           str(inputs))


def check_onnx(path: Path, key: str) -> None:
    """``path`` is a readable, non-empty ONNX model (checked before connecting or writing anything)."""
    import onnx

    if path.stat().st_size == 0:
        raise bad_value(key, str(path), "is an empty file; give an ONNX model")
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception:  # noqa: BLE001 - onnx raises several types for files that are not models
        model = None
    if model is None or not model.graph.node:
        raise bad_value(key, str(path), "is not an ONNX model (no graph); give an .onnx file")


def scene_inputs(components: list[tuple[str, Path]], seed: int) -> dict[str, dict[str, np.ndarray]]:
    """A real observation for each component: the tea-bag scene's first frame (episode 0 of its
    protocol), preprocessed as the host's ONNX policy does. Needs simbench ACT exports (their
    metadata names the cameras, image size and state size)."""
    import onnx

    from simbench.config.build import load_option
    from simbench.policies.runtime_io import observation_inputs
    from simbench.registry import ENVS, resolve

    metas = {}
    for name, path in components:
        meta = {p.key: p.value for p in onnx.load(str(path), load_external_data=False).metadata_props}
        if meta.get("simbench.arch") != "act":
            raise bad_value(
                "hil.inputs",
                "scene",
                f"needs simbench ACT exports; {path.name} has no simbench.arch=act metadata (use hil.inputs=generated)",
            )
        metas[name] = meta
    env_cfg = load_option("env", "teabag_mug")
    assert env_cfg is not None
    env = resolve(ENVS, "env", "teabag_mug").from_config(env_cfg)
    try:
        env.reset(seed, env.episode_plan()[0])
        observation = env.observation(env.snapshot())
    finally:
        env.close()
    feeds = {}
    for name, meta in metas.items():
        cameras = tuple(meta["simbench.cameras"].split(","))
        size = tuple(int(v) for v in meta["simbench.image_size"].split(","))
        state, images = observation_inputs(observation, cameras, size, int(meta["simbench.state_dim"]))  # type: ignore[arg-type]
        feeds[name] = dict(zip(["observation.state", *[f"observation.images.{c}" for c in cameras]], [state, *images]))
    return feeds


def model_components(policy: Mapping[str, Any] | None, model: Any) -> list[tuple[str, Path]]:
    """(component name, ONNX path) to measure: ``hil.model`` (a path or a list) or the policy's model."""
    from simbench.policies.onnx_model import resolve_model_path

    if model not in (None, ""):
        paths = list(model) if isinstance(model, (list, tuple)) else [model]
        found = []
        for p in paths:
            path = Path(str(p)).expanduser()
            if not path.is_file():
                raise bad_value("hil.model", str(p), "must be an existing ONNX file")
            check_onnx(path, "hil.model")
            found.append(path)
        if len(paths) == 1:
            return [("model", found[0])]
        names = [p.stem for p in found]
        if len(set(names)) != len(names):
            raise bad_value(
                "hil.model",
                [str(p) for p in paths],
                "component files need distinct names (their stems name the trace columns)",
            )
        return list(zip(names, found))
    if policy is None:
        raise ConfigError("nothing to measure; add +policy=NAME (a policy with an ONNX model) or hil.model=PATH")
    if policy.get("arch") == "smolvla":  # three graphs, run as one pipeline per inference (vla_bench)
        from simbench.policies.smolvla.onnx_runtime import component_paths

        return list(component_paths(policy.get("model_path"), policy.get("component_precision")).items())
    components = policy.get("components")
    if components:
        return [(str(n), resolve_model_path(p)) for n, p in dict(components).items()]
    if not policy.get("model_path"):
        raise bad_value(
            "policy.model_path",
            policy.get("model_path"),
            f"policy {policy.get('name')} has no ONNX model to measure; give hil.model=PATH",
        )
    return [("model", resolve_model_path(policy["model_path"]))]


@dataclass(frozen=True)
class VlaPipeline:
    """A three-graph VLA measured as it runs: vision, prefill once, ``num_steps`` expert steps (one
    ``vla`` request per inference); the trace has a column per component (vision, prefill, expert:
    all its steps) and ``latency_s``, their sum."""

    num_steps: int | None = None
    seed: int = 0


def vla_inputs(loaded: Mapping[str, LoadedModel], seed: int) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray],
                                                                      np.ndarray, int]:
    """Inputs for one VLA chunk from the graphs' declared shapes and metadata: the cameras uint8
    uniform (seed), the instruction's tokens, the state N(0, 1), the noise at its mean (zeros, the
    shipped ``noise_scale`` 0), and the model's number of steps."""
    from simbench.policies.smolvla.tokenizer import encode

    rng = np.random.default_rng(seed)
    meta = loaded["vision"].metadata

    def shape(arg: Mapping[str, Any]) -> list[int]:
        return [d if isinstance(d, int) and d > 0 else 1 for d in arg["shape"]]

    vision = {a["name"]: rng.integers(0, 256, size=shape(a), dtype=np.uint8) if a["dtype"] == "uint8"
              else rng.standard_normal(shape(a)).astype(a["dtype"]) for a in loaded["vision"].inputs}
    prefill: dict[str, np.ndarray] = {}
    for a in loaded["prefill"].inputs:
        if a["name"] == "visual":
            continue
        if a["name"] == "token_ids":
            prefill[a["name"]] = np.array([encode(meta.get("simbench.instruction", ""))], np.int64)
        else:
            prefill[a["name"]] = rng.standard_normal(shape(a)).astype(a["dtype"])
    noise = np.zeros((1, int(meta["simbench.chunk_size"]), int(meta["simbench.action_dim"])), np.float32)
    return vision, prefill, noise, int(meta["simbench.num_steps"])


def vla_bench(client: Any, loaded: Mapping[str, LoadedModel], settings: MeasureSettings,
              pipeline: VlaPipeline) -> Iterator[BenchBatch | BenchDone]:
    """``bench``'s events for a VLA: warm-up, then one ``vla`` request per inference until the count
    and the duration are reached (or a maximum): a batch per inference, then the done event with
    the statistics of the total and of each component (the agent's own timings)."""
    from simbench_agent.stats import summarize

    vision, prefill, noise, steps = vla_inputs(loaded, pipeline.seed)
    n = pipeline.num_steps or steps
    graphs = {c: m.sha256 for c, m in loaded.items()}
    for _ in range(settings.warmup):
        client.vla(graphs, vision, prefill, noise, n)
    every: dict[str, list[float]] = {c: [] for c in VLA_COMPONENTS}
    t0 = time.perf_counter()
    count = 0
    while True:
        reply = client.vla(graphs, vision, prefill, noise, n)
        count += 1
        for c in VLA_COMPONENTS:
            every[c].append(reply.components[c])
        yield BenchBatch({c: [reply.components[c]] for c in VLA_COMPONENTS}, [])
        elapsed = time.perf_counter() - t0
        if ((count >= settings.count and elapsed >= settings.min_duration_s) or count >= settings.max_count
                or elapsed >= settings.max_duration_s):
            break
    totals = [sum(v) for v in zip(*every.values())]
    yield BenchDone(count, elapsed, summarize(totals), {c: summarize(v) for c, v in every.items()},
                    client.facts, [])


def _versions(facts: Mapping[str, Any], components: list[tuple[str, Path]]) -> dict[str, Any]:
    """The host's :func:`simbench.provenance.versions` (with the models' sha256) and the board side's."""
    from simbench_agent.protocol import PROTOCOL_VERSION

    return {
        **versions({name: path for name, path in components}),
        "protocol": PROTOCOL_VERSION,
        "agent": facts.get("agent_version"),
        "onnxruntime_board": facts.get("onnxruntime"),
    }


def board_summary(facts: Mapping[str, Any], where: str | None = None) -> str:
    """One line naming a board: name, CPU, cores, runtime (used in metrics and summaries)."""
    text = f"{facts.get('name')} ({facts.get('cpu_model')}, {facts.get('cpu_cores')} cores, {facts.get('machine')}, onnxruntime {facts.get('onnxruntime')})"
    return f"{text} at {where}" if where else text


def measure(
    board: BoardConfig,
    components: list[tuple[str, Path]],
    settings: MeasureSettings,
    policy_name: str | None,
    precision: str | None,
    threads: int,
    command: str,
    inputs: Mapping[str, Mapping[str, np.ndarray]] | None = None,
    inputs_note: str = "generated from the models' declared shapes (seed 0)",
    pipeline: VlaPipeline | None = None,
) -> dict[str, Any]:
    """Run the benchmark and write trace + record; returns the record (``complete`` false on a fault)."""
    out = settings.out
    out.mkdir(parents=True, exist_ok=True)
    names = [n for n, _ in components]
    columns = ["latency_s", *names] if len(names) > 1 else ["latency_s"]
    spec = host_session_spec(threads, board.providers)
    record: dict[str, Any] = {
        "kind": RECORD_KIND,
        "format": 1,
        "complete": False,
        "error": None,
        "trace": TRACE_NAME,
        "rows": 0,
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "command": command,
        "board_config": {"name": board.kind, "address": board.address, "port": board.port},
        "policy": policy_name,
        "threads": threads,
        "providers_requested": list(board.providers),
        "warmup": settings.warmup,
        "min_count": settings.count,
        "min_duration_s": settings.min_duration_s,
        "inputs": inputs_note,
        "reproducible": False,
        "note": "measured on a live board: timings vary run to run; replay the trace for reproducible runs",
    }
    loaded: list[LoadedModel] = []
    thermal: list[dict[str, Any]] = []
    rows = 0
    kept = _complete_record(out)  # a complete earlier measurement here is never replaced by a worse one
    partial = out / f".{TRACE_NAME}.{os.getpid()}.partial"
    try:
        try:
            with open(partial, "w", encoding="utf-8") as trace:
                trace.write(",".join(columns) + "\n")
                try:
                    with BoardConnection(board) as conn:
                        record["board"] = conn.client.facts
                        record["board_summary"] = board_summary(conn.client.facts, conn.where)
                        record["versions"] = _versions(conn.client.facts, components)
                        for name, path in components:
                            loaded.append(conn.client.load(path, spec))
                        _describe_models(record, components, loaded, precision)
                        if pipeline is not None:
                            events = vla_bench(conn.client, dict(zip(names, loaded)), settings, pipeline)
                            record["pipeline"] = "vla: vision, prefill once, the expert's denoising steps (one vla request each)"
                            record["inputs"] = "generated: cameras uint8 uniform (seed 0), the instruction's tokens, state N(0, 1), noise zeros"
                        else:
                            events = conn.client.bench(
                                [(n, m.sha256) for n, m in zip(names, loaded)],
                                settings.warmup,
                                settings.count,
                                settings.min_duration_s,
                                settings.max_count,
                                settings.max_duration_s,
                                inputs,
                            )
                        for event in events:
                            thermal += event.thermal
                            if isinstance(event, BenchBatch):
                                per = [event.latencies[n] for n in names]
                                for values in zip(*per):
                                    row = [sum(values), *values] if len(names) > 1 else [values[0]]
                                    trace.write(",".join(repr(float(v)) for v in row) + "\n")
                                    rows += 1
                                trace.flush()
                            else:
                                record.update(
                                    count=event.count,
                                    duration_s=event.duration_s,
                                    stats=event.stats,
                                    components_stats=event.components,
                                    board_after=event.facts,
                                )
                                record.update({k: event.stats.get(k) for k in ("p50_s", "p90_s", "p99_s", "mean_s")})
                                if len(names) > 1:  # p50/p90/p99 per component, at the record's top level
                                    record["components_p"] = {
                                        n: {k: s.get(k) for k in ("p50_s", "p90_s", "p99_s")}
                                        for n, s in event.components.items()
                                    }
                        record["complete"] = True
                except BoardError as err:
                    record["error"] = str(err)
                    record["error_code"] = err.code
                trace.flush()
                os.fsync(trace.fileno())
        except OSError as err:  # the trace could not be written (disk full, quota, I/O error)
            record.update(complete=False, error=f"cannot write the trace in {out}: {err.strerror or err}",
                          error_code="disk")
            rows = _whole_rows(partial)  # what reached the disk, never a row cut mid-number
        record["rows"] = rows
        record["thermal"] = thermal
        names_to = (TRACE_NAME, RECORD_NAME)
        if not record["complete"]:
            record["note"] = f"INCOMPLETE: the run failed after {rows} inferences; the trace holds those only"
            if kept:
                names_to = (FAILED_TRACE_NAME, FAILED_RECORD_NAME)
                record["note"] += f"; the complete measurement in {TRACE_NAME} and {RECORD_NAME} is kept"
        record["trace"] = names_to[0]
        _commit(partial, out / names_to[0], out / names_to[1], record)
    finally:
        partial.unlink(missing_ok=True)  # Ctrl-C, SIGTERM, a failed commit: no stray trace
    return record


def _whole_rows(partial: Path) -> int:
    """Cut ``partial`` back to its last whole line (a write that failed midway leaves a row cut
    mid-number) and return how many data rows it keeps (the header is not one)."""
    try:
        with open(partial, "r+b") as f:
            data = f.read()
            end = data.rfind(b"\n") + 1  # 0 when not even the header is whole
            f.truncate(end)  # shrinking needs no space, even on a full disk
    except OSError:
        return 0
    return max(data.count(b"\n", 0, end) - 1, 0)


def _complete_record(out: Path) -> bool:
    """True when ``out`` holds a complete measurement (its record says so and its trace is there)."""
    try:
        record = json.loads((out / RECORD_NAME).read_text())
    except (OSError, ValueError):
        return False
    return isinstance(record, dict) and record.get("complete") is True and (out / TRACE_NAME).is_file()


def _commit(partial: Path, trace_path: Path, record_path: Path, record: dict[str, Any]) -> None:
    """Put the trace and its record in place together: the record is written in full to a temporary
    name first, then both are renamed with SIGINT/SIGTERM held back, so no interruption leaves a
    trace without its record. A record that cannot be written (disk full) leaves neither."""
    fd, name = tempfile.mkstemp(prefix=f".{record_path.name}.", dir=record_path.parent)
    tmp_record = Path(name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(json.dumps(finite_json(record), indent=2, sort_keys=True, allow_nan=False) + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp_record, 0o666 & ~umask())
        with signals_held():
            os.replace(partial, trace_path)
            os.replace(tmp_record, record_path)
    except OSError as err:
        tmp_record.unlink(missing_ok=True)
        raise RunFault(f"cannot write the measurement to {record_path.parent}: {err.strerror or err}; "
                       "nothing was written") from None


def _describe_models(
    record: dict[str, Any], components: list[tuple[str, Path]], loaded: list[LoadedModel], precision: str | None
) -> None:
    meta_precision = loaded[0].metadata.get("simbench.precision") if loaded else None
    record["precision"] = precision or meta_precision or "unknown"
    record["components"] = [
        {
            "name": n,
            "path": str(p),
            "sha256": m.sha256,
            "size_bytes": m.size_bytes,
            "uploaded": m.uploaded,
            "load_s": m.load_s,
            "providers": m.providers,
            "inputs": m.inputs,
            "outputs": m.outputs,
        }
        for (n, p), m in zip(components, loaded)
    ]
    record["model_sha256"] = (
        loaded[0].sha256 if len(loaded) == 1 else {n: m.sha256 for (n, _), m in zip(components, loaded)}
    )
    record["model"] = str(components[0][1]) if len(components) == 1 else {n: str(p) for n, p in components}
    record["execution_provider"] = loaded[0].providers[0] if loaded else None
    record["session"] = loaded[0].session if loaded else None


__all__ = [
    "INPUT_KINDS",
    "MeasureSettings",
    "RECORD_NAME",
    "TRACE_NAME",
    "VlaPipeline",
    "board_summary",
    "measure",
    "model_components",
    "parse_settings",
    "scene_inputs",
    "vla_bench",
    "vla_inputs",
]
