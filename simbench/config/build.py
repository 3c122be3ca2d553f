"""Validate a composed run config and build the typed pieces the library takes.

Only entry points see the Hydra config; everything below them takes the typed objects built here.
Every check names the key, the value and what is allowed, in one line (:class:`ConfigError`).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from omegaconf import DictConfig, OmegaConf

from simbench import bounds
from simbench.config.options import available, load_option, runnable_policies  # noqa: F401 (load_option: re-exported)
from simbench.errors import ConfigError, bad_value, unknown_name
from simbench.extras import RERUN_INSTALL, rerun_sdk_problem
from simbench.latency.base import LatencySource
from simbench.latency.factory import make_latency
from simbench.latency.context import GraphsOf, PolicyGraphs
from simbench.registry import POLICY_RUNTIMES, target
from simbench.scheduler.aggregate import make_aggregator
from simbench.scheduler.settings import SchedulerSettings, Stage

SCHEDULER_MODES = ("async", "sync")

MAX_EPISODE_S = 100_000.0
"""Longest simulated episode (~28 h): a timing episode this long takes seconds of CPU and ~130 MB;
1e7 s took ~15 min and 1e12 s would take days and grow memory ~1.3 GB per million seconds."""
MAX_CHUNK = 10_000
"""Largest chunk (actions per inference); ACT uses 100. 1e9 asked for 45 GB before it was bounded."""
MAX_ACTION_DIM = 1_000
MAX_EPISODES = 100_000
MAX_RUN_S = 1_000_000.0
"""Most simulated seconds in one run (episode length x env.episodes): results stay in memory until
the run is written, ~1.3 GB per million simulated seconds."""
MAX_TICKS = 100_000_000
"""Most control ticks in one episode (env duration x scheduler.fps)."""
MAX_DENOISING_STEPS = 1_000
"""SmolVLA's forward-Euler steps per inference (10 shipped); 1e9 would run for days per chunk."""
MAX_TEMPORAL_ENSEMBLE_M = 100.0
MAX_DELAY_WINDOW = 10_000
"""ACT's temporal-ensemble decay: exp(-m * i); at 100 every older chunk already weighs < 1e-43."""


def _check_model_chunk(policy: Mapping[str, Any], chunk_size: int) -> None:
    """A policy backed by an ONNX file predicts the file's ``chunk_size``; another value cannot be
    honoured (the number of actions the server returns is ``policy.actions_per_chunk``)."""
    from simbench.policies.factory import model_metadata_file
    from simbench.policies.onnx_model import model_metadata

    path = model_metadata_file(policy)
    raw = model_metadata(path).get("simbench.chunk_size")
    if raw is None:
        return
    try:
        predicted = bounds.integer(int(raw), "simbench.chunk_size", 1, MAX_CHUNK)
    except (ValueError, ConfigError):
        raise bad_value("policy.model_path", str(path), f"has unreadable simbench.chunk_size metadata {raw[:40]!r} "
                        "(an integer in [1, 10000]); re-run 'python -m simbench export'") from None
    if predicted != chunk_size:
        raise bad_value("policy.chunk_size", chunk_size,
                        f"the model {path.name} predicts {predicted} actions per inference; "
                        f"to return fewer per chunk set policy.actions_per_chunk (<= {predicted}) instead")


def graphs_of(policy: Mapping[str, Any]) -> GraphsOf:
    """A policy's ONNX graphs by name for the latency model: None is ``policy`` (the run's node, with
    its overrides: ``num_steps``, ``component_precision``), a name is ``conf/policy/<name>.yaml`` (a
    device profile's published anchor)."""
    from simbench.policies.graphs import policy_graphs

    cache: dict[str | None, PolicyGraphs] = {}

    def of(name: str | None) -> PolicyGraphs:
        if name not in cache:
            node = policy if name is None or name == policy.get("name") else load_option("policy", name)
            if node is None:
                raise unknown_name("policy", name, runnable_policies())
            cache[name] = policy_graphs(node)
        return cache[name]

    return of


@dataclass(frozen=True)
class PolicySpec:
    """The policy of a run, validated: the names and sizes the run needs, typed, and the whole
    composed node (read-only) for the runtime that opens it."""

    name: str
    runtime: str
    """The runtime that opens it (``POLICY_RUNTIMES``): ``timing`` when the env cannot feed its model."""
    arch: str | None
    precision: str | None
    chunk_size: int
    actions_per_chunk: int
    n_action_steps: int
    action_dim: int
    control_hz: float
    """The control rate its chunks are resampled to (the node's ``fps``, else ``scheduler.fps``)."""
    timing_only: bool
    """A model-backed policy that runs timing-only (chunks of its shape, no network): the env has no cameras."""
    node: Mapping[str, Any]
    """The policy's config node as composed, read-only."""

    def runtime_config(self) -> dict[str, Any]:
        """A fresh dict for ``from_config`` of its runtime: the node with the run's runtime and rate."""
        cfg = copy.deepcopy(dict(self.node))
        if self.timing_only:
            cfg["runtime"] = "timing"
            cfg["timing_only"] = True
        cfg.setdefault("fps", self.control_hz)
        return cfg


@dataclass(frozen=True)
class EnvSpec:
    """The env of a run, validated; ``node`` is its config node as composed, read-only."""

    name: str
    cameras: tuple[str, ...]
    episode_s: float
    """Simulated seconds per episode (``duration_s`` or ``time_limit_s``)."""
    node: Mapping[str, Any]

    def config(self) -> dict[str, Any]:
        """A fresh dict for the env class's ``from_config``."""
        return copy.deepcopy(dict(self.node))


@dataclass(frozen=True)
class RunSpec:
    """Everything a run needs, validated and built once (nothing downstream changes it)."""

    settings: SchedulerSettings
    latency: LatencySource
    policy: PolicySpec
    env: EnvSpec
    seed: int
    episodes: int | None


def _number(cfg: Mapping[str, Any], key: str, prefix: str, lo: float | None = None, hi: float | None = None,
            *, lo_open: bool = False) -> float:
    """``cfg[key]`` through the shared validator (:func:`simbench.bounds.number`)."""
    return bounds.number(cfg.get(key), f"{prefix}.{key}", lo, hi, lo_open=lo_open)


def _integer(cfg: Mapping[str, Any], key: str, prefix: str, minimum: int, maximum: int | None = None) -> int:
    return bounds.integer(cfg.get(key), f"{prefix}.{key}", minimum, maximum if maximum is not None else bounds.MAX_COUNT)


def _boolean(cfg: Mapping[str, Any], key: str, prefix: str) -> bool:
    value = cfg.get(key)
    if not isinstance(value, bool):
        raise bad_value(f"{prefix}.{key}", value, "must be true or false")
    return value


def _check_env(env: Mapping[str, Any]) -> float:
    """Types and ranges of the env keys (the env itself checks what only it knows, e.g. which
    control rates divide its physics rate); returns the simulated seconds per episode."""
    for key in ("duration_s", "time_limit_s", "control_hz", "success_dwell_s"):
        if key in env:
            _number(env, key, "env", 0.0, 1_000.0 if key == "control_hz" else MAX_EPISODE_S, lo_open=True)
    if "episodes" in env:
        _integer(env, "episodes", "env", 1, MAX_EPISODES)
    if "action_dim" in env:
        _integer(env, "action_dim", "env", 1, MAX_ACTION_DIM)
    if "cameras" in env:
        cams = env["cameras"]
        if not isinstance(cams, list) or not cams or not all(isinstance(c, str) for c in cams):
            raise bad_value("env.cameras", cams, "give a non-empty list of camera names")
    if "image_size" in env:
        size = env["image_size"]
        if (
            not isinstance(size, list)
            or len(size) != 2
            or any(isinstance(v, bool) or not isinstance(v, int) for v in size)
        ):
            raise bad_value("env.image_size", size, "give [height, width] as two integers")
    if env.get("randomize"):
        from simbench.envs.randomization import Randomization  # bad ranges fail here, before anything is written

        Randomization.parse(env["randomize"])
    key = "duration_s" if "duration_s" in env else "time_limit_s"
    if key not in env:
        raise ConfigError(
            f"env={env.get('name')!r} sets neither env.duration_s nor env.time_limit_s (simulated seconds per episode)"
        )
    return float(env[key])


def _stages(policy: Mapping[str, Any], policy_name: str) -> tuple[Stage, ...]:
    raw = policy.get("pipeline", None)
    if raw is None:
        raw = [{"name": "model", "unit": "cpu", "share": 1.0}]
    elif not isinstance(raw, list) or not raw:
        raise bad_value(
            "policy.pipeline",
            raw,
            "give a non-empty list of stages ({name, unit, share}), or leave it out for one stage",
        )
    stages = []
    for i, st in enumerate(raw):
        key = f"policy.pipeline[{i}]"
        if not isinstance(st, dict):
            raise bad_value(key, st, "give a stage as {name, unit, share[, repeat, latency]}")
        unit = st.get("unit", "cpu")
        if unit not in ("cpu", "npu", "gpu", "link"):
            raise unknown_name(f"{key}.unit", unit, ("cpu", "npu", "gpu", "link"))
        share = _number(st, "share", key, 0.0, 1.0) if "share" in st else 1.0
        repeat = _integer(st, "repeat", key, 1) if "repeat" in st else 1
        own = make_latency(st["latency"], policy_name, key=f"{key}.latency") if st.get("latency") else None
        stages.append(Stage(str(st.get("name", f"stage{i}")), unit, share, repeat, own))
    total_share = sum(s.share for s in stages if s.latency is None)
    if stages and any(s.latency is None for s in stages) and not math.isclose(total_share, 1.0, abs_tol=1e-6):
        raise bad_value(
            "policy.pipeline", [s.share for s in stages], "shares of stages without their own latency must sum to 1"
        )
    rtc = policy.get("rtc") or {}
    if policy.get("rtc_enabled") and rtc.get("vjp") == "fd" and float(rtc.get("max_guidance_weight", 1.0)) > 0:
        # Guided RTC by forward differences calls the expert twice per step: the expert stage costs
        # twice its share of the sampled latency (a measured source times the extra calls itself).
        stages = [Stage(st.name, st.unit, 2 * st.share, 2 * st.repeat, st.latency) if st.name == "expert" else st
                  for st in stages]
    return tuple(stages)


def _tether(cfg: DictConfig, sched: Mapping[str, Any], policy: Mapping[str, Any], latency_cfg: Mapping[str, Any],
            name: str) -> tuple[Any, float | None, Any]:
    """scheduler.clock and the DES's transport keys (simbench.scheduler.transport, .wallclock)."""
    from simbench.scheduler.transport import make_transport

    def sizes() -> tuple[int, int] | None:  # the tether's bytes each way, by the protocol's plug-in
        spec = sched.get("payload_sizes")
        return target(spec, "scheduler.payload_sizes")(policy) if spec and policy.get("model_path") else None

    transport, loop_fps = make_transport(sched, name, sizes)
    if sched["clock"] == "des":
        return transport, loop_fps, None
    return transport, loop_fps, target(sched.get("wall_clock"), "scheduler.wall_clock")(cfg, sched, policy, latency_cfg)


def _check_rtc(policy: dict[str, Any], aggregate: str, mode: str, runtime: str) -> None:
    """``scheduler.aggregate=rtc`` turns on the flow policy's Real-Time Chunking in async (``policy.rtc``,
    checked for every flow policy); sync, which uses no aggregate, ignores it as it ignores the others.
    Other policies have no denoising to guide."""
    if policy.get("arch") == "smolvla":
        from simbench.policies.smolvla.onnx_runtime import rtc_config

        policy["rtc_enabled"] = aggregate == "rtc" and mode == "async"
        rtc_config(policy)
    if aggregate != "rtc" or mode != "async":
        return
    if policy.get("arch") != "smolvla" and runtime != "timing":
        raise bad_value("scheduler.aggregate", "rtc", f"needs a flow-matching policy (smolvla_*); {policy.get('name')} "
                        "is not one: for ACT use temporal_ensemble or weighted_average")


def scheduler_keys(sched: Mapping[str, Any]) -> dict[str, Any]:
    """The scheduler node (``conf/scheduler/``, every key required), validated, as ``SchedulerSettings``
    keyword arguments: the one place its keys become typed settings."""
    mode = sched.get("name")
    if mode not in SCHEDULER_MODES:
        raise unknown_name("scheduler", mode, SCHEDULER_MODES)
    fps = bounds.rate(sched.get("fps"), "scheduler.fps")
    threshold = _number(sched, "threshold", "scheduler", 0.0, 1.0)
    # ACT's temporal ensemble weights exp(-m * i): m of 0.01 (ACT's) to a few; 100 already keeps only the newest
    te_m = _number(sched, "temporal_ensemble_m", "scheduler", 0.0, MAX_TEMPORAL_ENSEMBLE_M)
    eps = sched.get("similarity_eps")
    if eps is not None:
        eps = _number(sched, "similarity_eps", "scheduler", 0.0, 1e6)
    delays = {key: bounds.seconds(sched.get(key), f"scheduler.{key}") for key in ("capture_delay_s", "actuation_delay_s")}
    delay_window = _integer(sched, "delay_window", "scheduler", 1, MAX_DELAY_WINDOW)
    shift_ticks = _integer(sched, "shift_ticks", "scheduler", 1, MAX_CHUNK)
    aggregate = str(sched.get("aggregate"))
    make_aggregator(aggregate, te_m, shift_ticks)  # a name it does not know: one line listing the names
    clock = sched.get("clock")
    if clock not in ("des", "wall"):
        raise unknown_name("scheduler.clock", clock, ("des", "wall"))
    return {"mode": mode, "fps": fps, "threshold": threshold, "aggregate": aggregate, "temporal_ensemble_m": te_m,
            "delay_window": delay_window, "shift_ticks": shift_ticks, "similarity_eps": eps,
            "pipelined": _boolean(sched, "pipelined", "scheduler"), **delays, "clock": clock}


def _policy_spec(policy: dict[str, Any], env: Mapping[str, Any], latency_cfg: Mapping[str, Any],
                 fps: float) -> PolicySpec:
    """The policy node checked against the env and the latency source: which runtime opens it and its sizes."""
    name = str(policy.get("name"))
    if policy.get("runtime", "timing") not in POLICY_RUNTIMES:
        raise unknown_name("policy.runtime", policy.get("runtime"), POLICY_RUNTIMES)
    if policy.get("runtime", "timing") == "timing" and env.get("cameras"):
        # A physics env scores what the policy does; a policy with no model would only report the
        # 0% success of holding still, which reads like a finding. Timing envs are where it belongs.
        raise ConfigError(f"policy={name} has no model (runtime=timing) and env={env.get('name')} needs one to act; "
                          f"use env=timing for its timing, or a policy with a model: "
                          f"{', '.join(p for p in runnable_policies() if p.startswith('act_'))}")
    if policy.get("runtime") == "onnx" and not policy.get("model_path"):
        raise bad_value("policy.model_path", policy.get("model_path"), f"+policy={name} needs an ONNX file: "
                        "policy.model_path=FILE.onnx")
    if policy.get("runtime") == "onnx":
        _check_model_chunk(policy, _integer(policy, "chunk_size", "policy", 1))
    # A camera-less env cannot feed a vision model: the policy runs timing-only (chunks of its shape,
    # its latency profile), which is what timing sweeps over real policy names want.
    timing_only = policy.get("runtime") in ("onnx", "ensemble", "torch") and not env.get("cameras")
    # A contract model (+policy=onnx) runs on generated inputs there when the run times the call itself.
    timing_only = timing_only and not (policy.get("arch") == "chunk" and latency_cfg.get("name") in ("host", "board"))
    chunk_size = _integer(policy, "chunk_size", "policy", 1, MAX_CHUNK)
    actions_per_chunk = _integer(policy, "actions_per_chunk", "policy", 1)
    if actions_per_chunk > chunk_size:
        raise bad_value("policy.actions_per_chunk", actions_per_chunk, f"must be <= policy.chunk_size ({chunk_size})")
    n_action_steps = _integer(policy, "n_action_steps", "policy", 1)
    if n_action_steps > actions_per_chunk:
        raise bad_value(
            "policy.n_action_steps", n_action_steps, f"must be <= policy.actions_per_chunk ({actions_per_chunk})"
        )
    action_dim = _integer(policy, "action_dim", "policy", 1, MAX_ACTION_DIM)
    if "threads" in policy:
        _integer(policy, "threads", "policy", 1, 256)
    if policy.get("num_steps") is not None:  # SmolVLA's denoising steps (null: the model's)
        _integer(policy, "num_steps", "policy", 1, MAX_DENOISING_STEPS)
    return PolicySpec(
        name=name, runtime="timing" if timing_only else str(policy.get("runtime", "timing")), arch=policy.get("arch"),
        precision=policy.get("precision"), chunk_size=chunk_size, actions_per_chunk=actions_per_chunk,
        n_action_steps=n_action_steps, action_dim=action_dim, control_hz=float(policy.get("fps", fps)),
        timing_only=timing_only, node=MappingProxyType(policy),
    )


def _check_host_timing(latency_cfg: Mapping[str, Any], spec: PolicySpec, env: Mapping[str, Any]) -> None:
    if latency_cfg.get("name") == "host" and spec.runtime == "timing":
        why = (f"env={env.get('name')} has no cameras, so {spec.name} runs timing-only" if spec.timing_only
               else f"policy {spec.name} has runtime=timing")
        raise bad_value("latency", "host", f"times the real policy call, and {why}: there is no model to time; "
                        "use env=teabag_mug with an onnx policy, or another latency source")


def _check_run_options(cfg: DictConfig, env: Mapping[str, Any], duration: float, fps: float) -> tuple[int, int | None]:
    """The run's own keys (episodes, outputs, seed) and the sizes they make; returns (seed, episodes)."""
    episodes = cfg.get("episodes")
    if episodes is not None and (isinstance(episodes, bool) or not isinstance(episodes, int) or episodes < 1):
        raise bad_value("episodes", episodes, "must be a positive integer or null (the whole protocol)")
    if duration * fps > MAX_TICKS:
        raise bad_value("scheduler.fps", cfg.scheduler.fps,
                        f"with {duration:g} s episodes makes over {MAX_TICKS:,} control ticks per episode")
    n_eps = min(int(env.get("episodes", 1)), episodes or MAX_EPISODES)
    if duration * n_eps > MAX_RUN_S:
        raise bad_value(
            "env.episodes",
            env.get("episodes"),
            f"x {duration:g} s episodes is over {MAX_RUN_S:,.0f} simulated seconds in one run "
            "(results are held in memory); split it into several runs (seed=...) or shorten the episodes",
        )
    videos = cfg.get("video_episodes", 0)
    if isinstance(videos, bool) or not isinstance(videos, int) or videos < 0:
        raise bad_value("video_episodes", videos, "must be an integer >= 0")
    if videos and not env.get("cameras"):
        raise bad_value(
            "video_episodes", videos, f"needs an env with cameras; env={env.get('name')} has none (use env=teabag_mug)"
        )
    recording = cfg.get("rerun", False)
    if not isinstance(recording, bool):
        raise bad_value("rerun", recording, "must be true (a Rerun recording of each episode) or false")
    if recording and (why := rerun_sdk_problem()):
        raise ConfigError(f"rerun=true needs the optional rerun-sdk 0.41.x ({why}); install it: {RERUN_INSTALL}")
    for key in ("progress", "plots"):
        if not isinstance(cfg.get(key, True), bool):
            raise bad_value(key, cfg.get(key), "must be true or false")
    results_dir = cfg.get("results_dir")
    if not isinstance(results_dir, str) or not results_dir.strip():
        raise bad_value("results_dir", results_dir, "must be a directory path, not empty (runs are written below it)")
    seed = cfg.get("seed")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise bad_value("seed", seed, "must be an integer >= 0")
    return seed, episodes


def _nodes(cfg: DictConfig) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any], dict[str, Any]]:
    """(policy, env, scheduler, latency) as resolved dicts; a run without a policy is one line."""
    if "policy" not in cfg or cfg.policy is None:
        raise ConfigError(f"no policy given; add +policy=NAME with NAME one of: {', '.join(runnable_policies())}")
    nodes = tuple(OmegaConf.to_container(cfg[k], resolve=True) for k in ("policy", "env", "scheduler", "latency"))
    policy = nodes[0]
    assert isinstance(policy, dict)
    if "actions_per_chunk" not in policy:
        name = policy.get("name")
        raise ConfigError(f"policy={name} is a training config (python -m simbench train +policy={name}); "
                          f"run takes one of: {', '.join(runnable_policies())}")
    return nodes  # type: ignore[return-value]


def build_run_spec(cfg: DictConfig) -> RunSpec:
    """Validate the composed config, group by group; raises :class:`ConfigError` on the first bad value."""
    policy, env, sched, latency_cfg = _nodes(cfg)
    loop = scheduler_keys(sched)
    name = str(policy.get("name"))
    # a plug-in source (latency=board) is built, and checks the run, before a camera-less env turns the policy timing-only
    plugged = (make_latency(latency_cfg, name, graphs_of=graphs_of(policy), run=cfg)
               if latency_cfg.get("target") is not None else None)
    spec = _policy_spec(policy, env, latency_cfg, loop["fps"])
    _check_rtc(policy, loop["aggregate"], loop["mode"], spec.runtime)
    latency = plugged if plugged is not None else make_latency(latency_cfg, name, graphs_of=graphs_of(policy), run=cfg)
    _check_host_timing(latency_cfg, spec, env)
    stages = _stages(policy, name)
    transport, loop_fps, wall = _tether(cfg, sched, policy, latency_cfg, name)
    duration = _check_env(env)
    seed, episodes = _check_run_options(cfg, env, duration, loop["fps"])
    settings = SchedulerSettings(
        **loop, actions_per_chunk=spec.actions_per_chunk, action_dim=spec.action_dim,
        max_ticks=max(1, math.floor(float(duration) * loop["fps"] + 1e-9)), n_action_steps=spec.n_action_steps,
        stages=stages, transport=transport, loop_fps=loop_fps, wall=wall,
    )
    env_spec = EnvSpec(str(env.get("name")), tuple(env.get("cameras") or ()), duration, MappingProxyType(env))
    return RunSpec(settings, latency, spec, env_spec, seed, episodes)
