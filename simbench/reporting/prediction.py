"""``python -m simbench predict``: the device model's breakdown for one policy, or every shipped variant.

One policy: per pipeline component, per op class and per unit, the total, and beside it the
published figure when the board's profile has one. No policy: every runnable ONNX variant's
predicted latency on its shipped graphs, next to what ``latency=imx95`` uses for it (a published
figure, or the device model's anchored prediction).
"""

from __future__ import annotations

from typing import Any

from simbench.config.build import graphs_of, runnable_policies
from simbench.config.compose import compose_dict
from simbench.errors import ConfigError
from simbench.latency.factory import make_latency
from simbench.latency.predicted import predict_policy
from simbench.latency.roofline import Prediction


def _ms(seconds: float) -> str:
    return f"{1000 * seconds:10.2f} ms"


def breakdown(name: str, p: Prediction, published: str | None) -> str:
    """The per-component / per-op-class / per-unit table of one prediction."""
    lines = [(f"policy {name} on {p.device} ({p.threads} CPU threads), {p.flops / 1e9:.3f} GFLOP per inference, "
              f"{p.npu_nodes} node runs on the NPU, {p.cpu_nodes} on the CPU")]
    for title, table in (("component", p.components), ("op class", p.op_classes), ("unit", p.units)):
        lines.append(f"  by {title}:")
        lines += [f"    {k:<16}{_ms(v)}  {100 * v / p.total_s:5.1f}%" for k, v in
                  sorted(table.items(), key=lambda kv: -kv[1]) if p.total_s > 0]
    lines.append(f"  {'total':<18}{_ms(p.total_s)}  (predicted, this graph as shipped)")
    lines.append("  graphs: " + ", ".join(f"{g} sha256 {sha[:16]}" for g, sha in p.graphs.items()))
    if published:
        lines.append(f"  published on the board (the full-size model): {published}")
    return "\n".join(lines)


def _compose(overrides: list[str]) -> dict[str, Any]:
    if not any(o.split("=")[0].lstrip("+~") == "latency" for o in overrides):
        overrides = [*overrides, "latency=predicted"]
    cfg = compose_dict("config", overrides)
    if cfg["latency"].get("name") != "predicted":
        raise ConfigError(f"predict prices graphs with latency=predicted; got latency={cfg['latency'].get('name')}")
    return cfg


def predict_one(overrides: list[str]) -> str:
    """The breakdown of ``+policy=NAME`` (with any latency.* overrides: device, threads, unit, precision)."""
    cfg = _compose(overrides)
    policy = cfg.get("policy")
    if not policy:
        raise ConfigError(f"no policy given; add +policy=NAME with NAME one of: {', '.join(_onnx_policies())}")
    p = predict_policy(cfg["latency"], graphs_of(policy)(None))
    profile = compose_dict("config", [f"+policy={policy['name']}"])["latency"]
    same_board = profile.get("device") == p.device
    published = (profile.get("published") or {}).get(policy["name"]) if same_board else None
    return breakdown(str(policy["name"]), p, published)


def _onnx_policies() -> list[str]:
    return [n for n in runnable_policies() if n.startswith(("act_", "smolvla_"))]


def predict_all(overrides: list[str]) -> str:
    """Every shipped ONNX variant: predicted on its shipped graphs, and what the board profile uses."""
    rows = ["| policy | predicted, shipped graph | latency=imx95 uses | kind |", "|---|---|---|---|"]
    for name in _onnx_policies():
        cfg = _compose([f"+policy={name}", *overrides])
        of = graphs_of(cfg["policy"])
        p = predict_policy(cfg["latency"], of(None))
        profile = compose_dict("config", [f"+policy={name}"])["latency"]
        d = make_latency(profile, name, graphs_of=of).describe()
        rows.append(f"| {name} | {1000 * p.total_s:.1f} ms | {d['median_s']:.3g} s | {d['kind']}"
                    + (f" ({d['anchor']} x {d['ratio']:.3f})" if d.get("anchor") else "") + " |")
    return "\n".join(rows)
