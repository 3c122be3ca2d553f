"""Fidelity, measured: stall share of the real wall-clock runtime against the DES, case by case.

For each case the same config (fps, chunk, threshold g, latency L) runs three ways:

1. real: ``scheduler.clock=wall`` against the loopback agent (``board=loopback``: a local
   ``simbench-agent`` subprocess); the agent's ``stub`` op sleeps each latency the host drew from
   the run's latency source with the episode's seeded generator;
2. DES with the tether: ``scheduler.transport_profile=link.json`` measured first by
   ``simbench.hil.link`` on the same loopback link, with the policy's payload sizes;
3. ideal DES: no transport (the default).

The cases (+policy=act_int8 env=timing; a timing policy with act_int8's payload on the wire):
A*: fps 60, chunk 100, g 0.2, L 0.32 / 0.40 / 1.0 / 2.86 s; Alog: lognormal median 0.32 s,
sigma 0.25; C*: fps 30, chunk 50, g 0.5, L 0.5 / 1.0 s; D*: fps 60, chunk 100, g 0.7, L 0.32 /
1.0 s. ``--repeat N`` runs each real case N times to show the real runtime's own spread.

    python benchmarks/fidelity.py --cases A040,C100,D100 --seconds 60 --json results/reference/fidelity.json

Real runs take their wall-clock seconds and want a quiet machine: a loaded CPU delays the loop's
ticks and the server thread, which the DES does not know about.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from simbench.config.build import build_run_spec, load_option
from simbench.config.compose import compose_run
from simbench.hil.board import parse_board
from simbench.hil.link import LinkSettings, measure_link, write_link
from simbench.hil.wallclock import close_connections
from simbench.registry import ENVS, POLICY_RUNTIMES, resolve
from simbench.scheduler.episode import simulate_episode

CASES: dict[str, dict[str, Any]] = {
    "A032": {"fps": 60, "chunk": 100, "g": 0.2, "latency": ["latency=constant", "latency.value=0.32"]},
    "A040": {"fps": 60, "chunk": 100, "g": 0.2, "latency": ["latency=constant", "latency.value=0.40"]},
    "A100": {"fps": 60, "chunk": 100, "g": 0.2, "latency": ["latency=constant", "latency.value=1.0"]},
    "A286": {"fps": 60, "chunk": 100, "g": 0.2, "latency": ["latency=constant", "latency.value=2.86"]},
    "Alog": {
        "fps": 60,
        "chunk": 100,
        "g": 0.2,
        "latency": ["latency=lognormal", "latency.median=0.32", "latency.sigma=0.25"],
    },
    "C050": {"fps": 30, "chunk": 50, "g": 0.5, "latency": ["latency=constant", "latency.value=0.5"]},
    "C100": {"fps": 30, "chunk": 50, "g": 0.5, "latency": ["latency=constant", "latency.value=1.0"]},
    "D032": {"fps": 60, "chunk": 100, "g": 0.7, "latency": ["latency=constant", "latency.value=0.32"]},
    "D100": {"fps": 60, "chunk": 100, "g": 0.7, "latency": ["latency=constant", "latency.value=1.0"]},
}


def overrides(case: dict[str, Any], seconds: float, seed: int) -> list[str]:
    return [
        "+policy=act_int8",
        "env=timing",
        f"env.duration_s={seconds}",
        f"scheduler.fps={case['fps']}",
        f"scheduler.threshold={case['g']}",
        f"policy.actions_per_chunk={case['chunk']}",
        f"seed={seed}",
        *case["latency"],
    ]


def stall_share(args: list[str]) -> float:
    spec = build_run_spec(compose_run("config", args))
    env = resolve(ENVS, "env", spec.env.name).from_config(spec.env.config())
    try:
        policy = resolve(POLICY_RUNTIMES, "policy.runtime", spec.policy.runtime).from_config(
            spec.policy.runtime_config(), env
        )
        result = simulate_episode(spec.settings, env, policy, spec.latency, spec.seed, 0, env.episode_plan()[0])
    finally:
        env.close()
    rec = result.recorder
    return 100.0 * rec.stall_ticks / rec.ticks


def profile(chunk: int, fps: float, out_dir: Path) -> Path:
    policy = {**(load_option("policy", "act_int8") or {}), "actions_per_chunk": chunk}
    board = parse_board({"name": "loopback", "port": 0})
    record = measure_link(board, policy, LinkSettings(300, 20, 2.0, fps, out_dir), "benchmarks/fidelity.py")
    return write_link(record, out_dir / f"link_fps{fps:g}_chunk{chunk}.json")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default=",".join(CASES), help=f"comma-separated, of: {', '.join(CASES)}")
    parser.add_argument("--seconds", type=float, default=60.0, help="seconds per real run (and per DES episode)")
    parser.add_argument("--repeat", type=int, default=1, help="real runs per case (the real runtime's spread)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--profile-dir", type=Path, default=None, help="where link profiles go (default: a temp dir)")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    names = [c.strip() for c in args.cases.split(",") if c.strip()]
    bad = [n for n in names if n not in CASES]
    if bad or not names:
        print(
            f"error: --cases={args.cases!r}: unknown case(s) {', '.join(bad) or '(none)'}; allowed: {', '.join(CASES)}",
            file=sys.stderr,
        )
        return 2
    if not 1 <= args.seconds <= 3600 or not 1 <= args.repeat <= 100:
        print(
            f"error: --seconds={args.seconds} must be in [1, 3600] and --repeat={args.repeat} in [1, 100]",
            file=sys.stderr,
        )
        return 2
    prof_dir = args.profile_dir or Path(tempfile.mkdtemp(prefix="simbench-fidelity-"))
    profiles: dict[tuple[int, float], Path] = {}
    rows = []
    print(
        f"{'case':<6} {'fps':>4} {'chunk':>5} {'g':>4} {'latency':<30} {'real %':>14} {'DES+link %':>10} "
        f"{'diff pt':>8} {'ideal %':>8}"
    )
    for name in names:
        case = CASES[name]
        key = (case["chunk"], float(case["fps"]))
        if key not in profiles:
            profiles[key] = profile(case["chunk"], case["fps"], prof_dir)
        base = overrides(case, args.seconds, args.seed)
        reals = []
        for _ in range(args.repeat):
            reals.append(stall_share([*base, "scheduler.clock=wall", "board=loopback"]))
        des = stall_share([*base, f"scheduler.transport_profile={profiles[key]}"])
        ideal = stall_share(base)
        real = sum(reals) / len(reals)
        spread = f"{real:.2f}" if len(reals) == 1 else f"{real:.2f}+-{(max(reals) - min(reals)) / 2:.2f}"
        lat = " ".join(o.split("=", 1)[1] for o in case["latency"])
        print(
            f"{name:<6} {case['fps']:>4} {case['chunk']:>5} {case['g']:>4} {lat:<30} {spread:>14} {des:>10.2f} "
            f"{des - real:>+8.2f} {ideal:>8.2f}",
            flush=True,
        )
        rows.append(
            {
                "case": name,
                "fps": case["fps"],
                "chunk": case["chunk"],
                "g": case["g"],
                "latency": case["latency"],
                "seconds": args.seconds,
                "seed": args.seed,
                "real_stall": real,
                "real_stall_runs": reals,
                "des_stall": des,
                "ideal_des_stall": ideal,
                "diff_pt": des - real,
                "ideal_diff_pt": ideal - real,
                "profile": str(profiles[key]),
            }
        )
    close_connections()
    worst = max(abs(r["diff_pt"]) for r in rows)
    print(
        f"worst |DES+link - real|: {worst:.2f} pt; "
        f"worst |ideal - real|: {max(abs(r['ideal_diff_pt']) for r in rows):.2f} pt"
    )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        meta = {
            "date": time.strftime("%Y-%m-%d %H:%M:%S"),
            "machine": platform.node(),
            "python": platform.python_version(),
            "command": " ".join(["python", *sys.argv]),
        }
        args.json.write_text(json.dumps({"meta": meta, "rows": rows}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
