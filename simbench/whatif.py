"""What-if grids in seconds: latencies from the device model, timing on the DES, in-process.

A grid crosses resolution, chunk size, denoising steps, precision, ``scheduler.threshold`` and
``actions_per_chunk``. Each point's latency comes from the device model (:mod:`simbench.latency.roofline`)
priced once per precision on the policy's fp32 graphs: float precisions on the CPU, int8/int4 with
the pipeline on the NPU; the vision stage scales with the pixel count (its convolutions and per-token
products are linear in pixels; a ViT's attention, quadratic, is not modelled), the expert stage with
steps x chunk. By default the seconds are anchored to the board's published figure for the policy
(the device model's ratio to it, as the ``latency=imx95`` profile does for unmeasured variants);
``anchored=False`` keeps the shipped graph's own prediction.

Points run on the DES (``env=timing``) without a process or a run directory each: one process per
worker builds the run spec once, every point replaces only what differs, and the result is one
compact row per point with the same metrics a run writes (:func:`simbench.metrics.summarize`).
Beyond one machine, blocks of points go out through the launchers simbench already has: :func:`blocks`
makes the blocks (block ``k`` of ``n`` is the same slice wherever it runs), ``python -m simbench whatif
-m block=0,1,2,3 blocks=4 hydra/launcher=joblib|submitit_local|submitit_slurm|ray`` runs one per Hydra
job, each writing ``block_<k>_of_<n>.json`` (:mod:`simbench.whatif_launch`), and ``python -m simbench
whatif-merge DIR`` joins them into the rows :func:`run_grid` gives in one process, bit for bit (every
point is simulated with the grid's seed, whichever block holds it).
"""

from __future__ import annotations

import itertools
import math
import os
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, replace
from typing import Any

from simbench.config.build import build_run_spec, graphs_of
from simbench.config.compose import compose_run
from simbench.config.options import load_option
from simbench.envs.timing import TimingEnv
from simbench.errors import bad_value
from simbench.latency.device_model import load_device
from simbench.latency.predicted import PredictedLatency
from simbench.latency.roofline import Prediction, predict
from simbench.metrics import summarize
from simbench.policies.timing_policy import TimingPolicy
from simbench.scheduler.episode import simulate_episode

AXES = {
    "resolution": (0.5, 0.75, 1.0, 1.5, 2.0),
    "chunk": (25, 50, 100),
    "steps": (5, 10, 20),
    "precision": ("fp32", "fp16", "int8", "int4"),
    "threshold": (0.0, 0.2, 0.5, 0.8),
    "actions_fraction": (0.25, 0.5, 1.0),
}
"""The default grid for a policy with denoising steps (2,160 points); ``resolution`` multiplies the
pixel count, ``actions_fraction`` is ``actions_per_chunk / chunk``."""
NO_STEPS_AXES = {"steps": (0,), "threshold": (0.0, 0.1, 0.2, 0.4, 0.6, 0.8)}
"""What changes for a policy without denoising steps (ACT: 1,080 points): ``steps`` has one value
(0: the native count) and ``threshold`` gets finer."""
METRICS = ("stall_fraction", "stall_events", "inference_count", "latency_mean_s", "latency_p95_s",
           "action_age_mean_s", "boundary_jump_mean", "actions_per_s")
"""The run metrics each point keeps (a run's metrics.json has these names)."""
VISION_STAGES = ("vision", "backbone")
ACTION_STAGES = ("expert",)


@dataclass(frozen=True)
class Point:
    resolution: float
    chunk: int
    steps: int
    precision: str
    threshold: float
    actions_fraction: float

    @property
    def actions_per_chunk(self) -> int:
        return max(1, round(self.chunk * self.actions_fraction))


def grid(points: int | None = None, axes: dict[str, Sequence[Any]] | None = None) -> list[Point]:
    """The cross product of ``axes`` (default :data:`AXES`); ``points`` picks that many, evenly spread."""
    axes = {**AXES, **(axes or {})}  # NO_STEPS_AXES for a policy without steps
    every = [Point(*combo) for combo in itertools.product(*(axes[k] for k in AXES))]
    if points is None or points >= len(every):
        return every
    if points < 1:
        raise bad_value("points", points, "must be >= 1")
    return [every[math.floor(i * len(every) / points)] for i in range(points)]


@dataclass(frozen=True)
class Pricing:
    """Per-stage seconds of the policy's graphs at each precision, and the anchoring factor."""

    stages: dict[str, dict[str, float]]
    """precision -> stage -> seconds (all repeats) at native resolution, chunk and steps."""
    native_chunk: int
    native_steps: int
    anchor: float
    """Published seconds / predicted seconds of the native fp32 graph (1.0 when not anchored)."""

    def seconds(self, p: Point) -> float:
        total = 0.0
        for stage, t in self.stages[p.precision].items():
            if stage in VISION_STAGES:
                t *= p.resolution
            if stage in ACTION_STAGES:
                t *= ((p.steps or self.native_steps) / self.native_steps) * (p.chunk / self.native_chunk)
            total += t
        return total * self.anchor


def has_steps(policy: str) -> bool:
    """Whether ``policy`` has a denoising (expert) stage for the ``steps`` axis."""
    return policy.startswith("smolvla")


def price(policy: str = "act_fp32", device: str = "imx95", precisions: Iterable[str] = AXES["precision"],
          anchored: bool = True) -> Pricing:
    """The device model on ``policy``'s graphs once per precision (float on the CPU, integer on the NPU)."""
    cfg = compose_run("config", [f"+policy={policy}", "env=timing"])
    node: dict[str, Any] = dict(build_run_spec(cfg).policy.node)
    parts, stages = graphs_of(node)(None)
    model = load_device(device, "device")
    out: dict[str, dict[str, float]] = {}
    for precision in precisions:
        unit = "npu" if precision in ("int8", "int4") and model.npu is not None else "cpu"
        pred: Prediction = predict(parts, [(s, u) for s, u, _ in stages], model, None,
                                   None if precision == "fp32" else precision, unit)
        out[precision] = dict(pred.components)
    steps = max((p.repeat for p in parts), default=1)
    published = None
    if anchored:  # the device's own published figure for this policy, if it has one (never another board's)
        own = load_option("device", device) or {}
        if policy in (own.get("published") or {}):
            published = (own.get("profiles") or {}).get(policy)
    native = sum(out["fp32"].values()) if "fp32" in out else sum(next(iter(out.values())).values())
    anchor = float(published) / native if published else 1.0
    return Pricing(out, int(node.get("chunk_size", 50)), steps, anchor)


_WORKER: dict[str, Any] = {}


def _init(policy: str, duration_s: float) -> None:
    """Once per worker process: the composed, validated run spec the points vary."""
    spec = build_run_spec(compose_run("config", [f"+policy={policy}", "env=timing", f"env.duration_s={duration_s}",
                                                 "latency=constant"]))
    _WORKER.update(spec=spec, duration=duration_s)


def _prediction(seconds: float, device: str) -> Prediction:
    return Prediction(device, 0, seconds, {}, {}, {}, 0.0, 0.0, {})


def run_point(p: Point, seconds: float, seed: int = 0, jitter: float = 0.05, device: str = "imx95") -> dict[str, Any]:
    """One point on the DES: the run's settings with this point's chunk, threshold and latency."""
    spec = _WORKER["spec"]
    fps = spec.settings.fps
    ticks_per_action = fps / spec.policy.control_hz if spec.policy.control_hz else 1.0
    a = max(1, round(p.actions_per_chunk * ticks_per_action))
    settings = replace(spec.settings, actions_per_chunk=a, threshold=p.threshold,
                       n_action_steps=min(spec.settings.n_action_steps, a))
    env = TimingEnv(settings.action_dim, _WORKER["duration"])
    policy = TimingPolicy(spec.policy.name, a, settings.action_dim, spec.policy.control_hz)
    latency = PredictedLatency(_prediction(seconds, device), spec.policy.name, jitter)
    result = simulate_episode(settings, env, policy, latency, seed)
    metrics = summarize([result], settings, has_success=False)
    return {**asdict(p), "predicted_s": seconds, **{k: metrics.get(k) for k in METRICS}}


def _run_block(block: list[tuple[Point, float]], seed: int, jitter: float) -> list[dict[str, Any]]:
    return [run_point(p, s, seed, jitter) for p, s in block]


def blocks(items: Sequence[Any], n: int) -> list[list[Any]]:
    """``items`` in ``n`` contiguous blocks (fewer only when there are fewer items), in order, whose
    sizes differ by at most one: block ``k`` of ``n`` is the same slice wherever it is computed."""
    n = max(1, min(n, len(items)))
    size, extra = divmod(len(items), n)
    starts = [k * size + min(k, extra) for k in range(n + 1)]  # the first `extra` blocks hold one more
    return [list(items[starts[k]:starts[k + 1]]) for k in range(n)]


def run_grid(points: Sequence[Point], pricing: Pricing, policy: str = "act_fp32", duration_s: float = 60.0,
             workers: int | None = None, seed: int = 0, jitter: float = 0.05) -> list[dict[str, Any]]:
    """Every point's compact metrics, in order, on ``workers`` processes (default: the CPUs)."""
    work = [(p, pricing.seconds(p)) for p in points]
    workers = workers or os.cpu_count() or 1
    if workers == 1:
        _init(policy, duration_s)
        return _run_block(work, seed, jitter)
    rows: list[dict[str, Any]] = []
    with ProcessPoolExecutor(workers, initializer=_init, initargs=(policy, duration_s)) as pool:
        for part in pool.map(_run_block, blocks(work, workers * 4), itertools.repeat(seed), itertools.repeat(jitter)):
            rows += part
    return rows


def pareto_front(rows: Sequence[dict[str, Any]], cost: str = "predicted_s", score: str = "stall_fraction") -> list[int]:
    """Indices of the points no other point beats: none has at least as much compute (``cost``:
    a bigger model) and a lower-or-equal ``score`` (stall share), one of them strictly."""
    order = sorted(range(len(rows)), key=lambda i: (-rows[i][cost], rows[i][score] or 0.0))
    front, best = [], math.inf
    for i in order:
        s = rows[i][score] or 0.0
        if s < best:
            front.append(i)
            best = s
    return sorted(front, key=lambda i: rows[i][cost])


def plot(rows: Sequence[dict[str, Any]], path: str, title: str) -> None:
    """Stall share against predicted latency, one dot per point, the Pareto front as a line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for precision, colour in (("fp32", "tab:blue"), ("fp16", "tab:cyan"), ("int8", "tab:orange"), ("int4", "tab:red")):
        sel = [r for r in rows if r["precision"] == precision]
        if sel:
            ax.scatter([r["predicted_s"] for r in sel], [100 * (r["stall_fraction"] or 0) for r in sel], s=8,
                       alpha=0.5, color=colour, label=precision)
    front = [rows[i] for i in pareto_front(rows)]
    ax.plot([r["predicted_s"] for r in front], [100 * (r["stall_fraction"] or 0) for r in front], "k-", lw=1.2,
            label="Pareto front (most compute per stall share)")
    ax.set_xscale("log")
    ax.set_xlabel("predicted latency per inference (s)")
    ax.set_ylabel("stall share (%)")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
