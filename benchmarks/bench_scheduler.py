"""Scheduler speed: realtime factor of a long timing-only run (issue target: >= 10,000x on one core).

    python benchmarks/bench_scheduler.py                      # 10 h at 60 Hz, act_int8, imx95 profile
    python benchmarks/bench_scheduler.py --hours 1 +policy=act_fp32 scheduler=sync

Runs the same code path as ``python -m simbench run`` (composed config, validated spec, one episode),
without writing results, and reports simulated seconds per wall second of the simulation loop. Also
reports the tick-by-tick reference on a shorter span so the gain from span-advancing is visible.
"""

from __future__ import annotations

import argparse
import time

from simbench.config.build import build_run_spec
from simbench.config.compose import compose_run
from simbench.envs.timing import TimingEnv
from simbench.registry import POLICY_RUNTIMES, resolve
from simbench.scheduler.episode import simulate_episode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hours", type=float, default=10.0)
    parser.add_argument("--reference-minutes", type=float, default=10.0, help="tick-by-tick comparison span")
    parser.add_argument("overrides", nargs="*", default=[])
    args = parser.parse_args()
    overrides = args.overrides or ["+policy=act_int8"]
    print(f"config: {' '.join(overrides)}")
    for label, seconds, physical in (
        ("span-advancing", args.hours * 3600, False),
        ("tick-by-tick", args.reference_minutes * 60, True),
    ):
        spec = build_run_spec(compose_run("config", [*overrides, "env=timing", f"env.duration_s={seconds}"]))
        env = TimingEnv(spec.settings.action_dim, seconds)
        env.physical = physical  # type: ignore[misc]
        policy = resolve(POLICY_RUNTIMES, "policy.runtime", spec.policy.runtime).from_config(
            spec.policy.runtime_config(), env
        )
        wall0 = time.perf_counter()
        r = simulate_episode(spec.settings, env, policy, spec.latency, spec.seed)
        wall = time.perf_counter() - wall0
        rec = r.recorder
        print(
            f"{label:>15}: {seconds / 3600:.2f} h simulated, {rec.ticks:,} ticks, {r.inference_count:,} inferences, "
            f"stall {rec.stall_ticks / rec.ticks:.2%}, wall {wall:.2f} s -> realtime factor {r.sim_time_s / wall:,.0f}x"
        )


if __name__ == "__main__":
    main()
