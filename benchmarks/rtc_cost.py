"""What guided RTC costs and buys per chunk: host time and prefix error, for each way to get the VJP.

    python benchmarks/rtc_cost.py --policy smolvla_mixed --chunks 40 --json results/reference/rtc_cost.json

On scene observations (an expert episode, one observation every 25 ticks), each chunk is computed
plainly, then with RTC toward a prefix: the plain chunk of the *previous* observation from position 0
(what an async queue holds), frozen over ``--delay`` ticks. Reported per VJP mode (identity, fd): the
host time of the chunk and of the expert's calls (ONNX Runtime only, median), expert calls per chunk,
and the max-abs gap between the guided chunk and the prefix over the frozen positions, against the
unguided chunk's gap; for fd, how much the Jacobian shrinks the correction (|J e| / |e|) at each t. The i.MX95 column projects the profile's published latency through the
pipeline shares: fd runs the expert stage twice (as ``scheduler.aggregate=rtc policy.rtc.vjp=fd`` does).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path

import numpy as np

os.environ.setdefault("MUJOCO_GL", "egl")


def main(argv: list[str] | None = None) -> int:
    from simbench.atomic_io import write_json
    from simbench.config.build import build_run_spec, load_option
    from simbench.config.compose import compose_run
    from simbench.expert.scripted_policy import ScriptedPolicy
    from simbench.policies.request import PolicyRequest
    from simbench.policies.smolvla.onnx_runtime import SmolVLAOnnxPolicy
    from simbench.provenance import versions
    from simbench.training.evaluate import make_env

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--policy", default="smolvla_mixed")
    parser.add_argument("--chunks", type=int, default=40)
    parser.add_argument("--delay", type=int, default=18, help="control ticks frozen (0.3 s at 60 Hz)")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    if args.chunks < 2:
        print(f"error: --chunks={args.chunks}: must be >= 2", file=sys.stderr)
        return 2

    env = make_env()
    cfg = load_option("policy", args.policy)
    cfg["fps"] = 60.0
    observations = []
    expert = ScriptedPolicy.from_config({"actions_per_chunk": 25}, env)
    plan = env.episode_plan()
    episode = 0
    while len(observations) < args.chunks:
        env.reset(episode, plan[episode % len(plan)])
        expert.reset(episode)
        while not env.done and len(observations) < args.chunks:
            obs = env.observation(env.snapshot())
            observations.append({k: v for k, v in obs.items() if not k.startswith("privileged.")})
            for action in expert.predict_chunk(PolicyRequest(obs, 0)):
                env.apply(action)
        episode += 1
    env.close()

    plain = SmolVLAOnnxPolicy.from_config({**cfg, "rtc_enabled": False})
    plain_chunks = [plain.predict_chunk(PolicyRequest(o)) for o in observations]
    policies = {"none": plain}
    for mode in ("identity", "fd"):
        policies[mode] = SmolVLAOnnxPolicy.from_config(
            {**cfg, "rtc_enabled": True, "rtc": {**cfg.get("rtc", {}), "vjp": mode}})
    samples: dict[str, dict[str, list[float]]] = {m: {"total": [], "expert": [], "calls": [], "gap": []}
                                                  for m in policies}
    shrink: list[tuple[float, float]] = []
    for i in range(1, len(observations)):  # the modes take turns, so a loaded machine slows each alike
        prefix = plain_chunks[i - 1]
        request = PolicyRequest(observations[i], 0, prefix[0], 0, prefix[1:], args.delay)
        for mode, policy in policies.items():
            chunk = policy.predict_chunk(request)
            guide = policy.last_guide
            s = samples[mode]
            s["total"].append(policy.last_inference_s)
            s["expert"].append(policy.last_component_s["expert"])
            s["calls"].append(policy.num_steps + (guide.expert_calls if guide else 0))
            s["gap"].append(float(np.abs(chunk[: args.delay + 1] - prefix[: args.delay + 1]).max()))
            if guide is not None and guide.shrink:
                shrink += guide.shrink
    rows = {m: {"host_ms": 1e3 * statistics.median(s["total"]), "expert_ms": 1e3 * statistics.median(s["expert"]),
                "expert_calls": statistics.mean(s["calls"]), "prefix_gap_max_abs": statistics.mean(s["gap"])}
            for m, s in samples.items()}

    for mode, row in rows.items():  # the run's own pipeline: what the DES charges per chunk on the profile
        rtc = [] if mode == "none" else ["scheduler.aggregate=rtc", f"policy.rtc.vjp={mode}"]
        spec = build_run_spec(compose_run("config", [f"+policy={args.policy}", "env=timing", *rtc]))
        row["imx95_s"] = spec.latency.median * sum(st.share for st in spec.settings.stages)  # type: ignore[attr-defined]
    print(f"{args.policy}: {len(observations) - 1} chunks, delay {args.delay} ticks")
    print("| RTC | host ms/chunk | expert ms | expert calls | prefix gap (max abs, frozen part) | i.MX95 s/chunk |")
    print("|---|---|---|---|---|---|")
    for mode, r in rows.items():
        imx = f"{r['imx95_s']:.2f}"
        print(f"| {mode} | {r['host_ms']:.1f} | {r['expert_ms']:.1f} | {r['expert_calls']:.0f} | "
              f"{r['prefix_gap_max_abs']:.3f} | {imx} |")
    by_t: dict[str, list[float]] = {}
    for t, ratio in shrink:
        by_t.setdefault(f"{t:.1f}", []).append(ratio)
    fd_shrink = {t: round(statistics.mean(v), 3) for t, v in sorted(by_t.items(), reverse=True)}
    print("fd: |J e| / |e| by denoising time t (1 = noise): " + ", ".join(f"{t}: {r}" for t, r in fd_shrink.items()))
    if args.json:
        write_json(args.json, {"command": "python benchmarks/rtc_cost.py " + " ".join(sys.argv[1:]),
                               "versions": versions({}), "policy": args.policy, "delay_ticks": args.delay,
                               "rows": rows, "fd_shrink_by_t": fd_shrink})
    return 0


if __name__ == "__main__":
    sys.exit(main())
