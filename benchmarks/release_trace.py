"""Where the tea bag is let go: the expert's release point, drops into the mug, and how a policy fails.

    python benchmarks/release_trace.py expert               # pinch and bag vs the mug's centre at release (3 starts
                                                            # per training cluster)
    python benchmarks/release_trace.py drops                # 150 random tilted drops, the mug floor as boxes and
                                                            # as the old cylinder
    python benchmarks/release_trace.py policy act_fp32 --repeats 2   # failure classes of a policy on the protocol
    python benchmarks/release_trace.py policy act_fp32 --model /tmp/x/act_fp32.onnx   # another export

``expert`` measures the simulated ``pinch`` site (not the IK's target), so an IK that stops short shows up; it also
gives the pinch-to-bag distance when the jaw is first commanded shut (the reference for a policy's grasp). ``drops``
drops the bag from over the rim with random tilt into the mug, its floor as shipped and as the old cylinder (MjSpec). ``policy``
runs the ideal-timing protocol (:func:`simbench.rollout.run_episode`) and sorts each failure: the bag never lifted; the
gripper opened with the pinch within the mug's inner radius (a release over the mug that missed); or elsewhere (the bag
lost on the way). It also counts the jaw's open/close switches per episode (the expert switches twice) and measures how
far the pinch point is from the bag when the jaw is first commanded shut. Prints numbers and writes nothing.
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("MUJOCO_GL", "egl")

import mujoco
import numpy as np

from simbench.envs.success import MUG_INNER_RADIUS_M, SuccessChecker
from simbench.envs.teabag_mug import TeaBagMugEnv
from simbench.envs.workspace import TRAINING_CLUSTERS
from simbench.expert.rollout import run_expert_episode
from simbench.paths import SCENES_DIR

GRIPPER_OPENING_RAD = 0.3
"""A commanded jaw angle above this (after the grasp) counts as opening."""


def expert(starts: int) -> None:
    env = TeaBagMugEnv(cameras=())
    pinch = env.model.site("pinch").id
    rows, first_close = [], []
    for k in TRAINING_CLUSTERS:
        for s in range(starts):
            frames: list[tuple[float, np.ndarray, np.ndarray, np.ndarray, float]] = []

            def log(e: TeaBagMugEnv, frames: list = frames) -> None:
                p = e.privileged()
                frames.append(
                    (
                        e.time_s,
                        e.data.site_xpos[pinch][:2].copy(),
                        p["pouch_pos"][:2].copy(),
                        p["mug_pos"][:2].copy(),
                        float(e.data.ctrl[5]),
                    )
                )

            ep = run_expert_episode(
                env, 100 * k + s, {"cluster": k, "start": "table", "start_index": s}, cameras=(), on_frame=log
            )
            shut = [f for f in frames if f[4] < GRIPPER_OPENING_RAD]
            if shut:
                first_close.append(np.linalg.norm(shut[0][1] - shut[0][2]))
            if "release" not in ep.events:
                continue
            _, pin, bag, mug, _ = min(frames, key=lambda f: abs(f[0] - ep.events["release"]))
            rows.append((np.linalg.norm(pin - mug), np.linalg.norm(bag - mug)))
    med = np.median(np.array(rows), axis=0) * 1000
    print(
        f"expert releases over {len(rows)} table starts: pinch {med[0]:.1f} mm and bag {med[1]:.1f} mm from the mug's "
        "centre (median)"
    )
    print(f"  pinch-to-bag when the jaw is first commanded shut: {1000 * np.median(first_close):.1f} mm (median)")


def scene_with_floor(floor: str) -> mujoco.MjModel:
    """The scene with its mug floor as shipped (``boxes``) or as before (``cylinder``: the base itself
    collides with the bag, as it did until MuJoCo 4.0.1 changed box-cylinder contacts)."""
    spec = mujoco.MjSpec.from_file(str(SCENES_DIR / "teabag_mug.xml"))
    if floor == "cylinder":
        base = spec.geom("mug_base")
        base.contype, base.conaffinity = 2, 7
        for name in ("mug_floor0", "mug_floor1"):
            spec.delete(spec.geom(name))
    return spec.compile()


def drops(n: int, floors: list[str]) -> None:
    """Drop the bag into the mug from 75-95 mm with random tilt and offset; after 1.5 s it is in
    (the success check holds), wedged (inside the mug's footprint but not resting on the floor) or out."""
    rng = np.random.default_rng(0)
    cases = [(rng.uniform(-0.015, 0.015, 2), rng.uniform(0.075, 0.095), rng.normal(0.0, 0.3, 3)) for _ in range(n)]
    for floor in floors:
        model = scene_with_floor(floor)
        data = mujoco.MjData(model)
        check = SuccessChecker(model)
        pq = model.jnt_qposadr[model.joint("pouch").id]
        tq = model.jnt_qposadr[model.joint("tag").id]
        mq = model.jnt_qposadr[model.joint("mug").id]
        counts = {"in": 0, "wedged": 0, "out": 0}
        for dxy, z0, rotvec in cases:
            mujoco.mj_resetDataKeyframe(model, data, model.key("home").id)
            quat = np.zeros(4)
            mujoco.mju_axisAngle2Quat(quat, rotvec / np.linalg.norm(rotvec), np.linalg.norm(rotvec))
            data.qpos[pq : pq + 3] = (0.30 + dxy[0], dxy[1], z0)
            data.qpos[pq + 3 : pq + 7] = quat
            data.qpos[tq : tq + 3] = (0.30 + dxy[0], dxy[1] + 0.08, 0.0011)
            mujoco.mj_forward(model, data)
            mujoco.mj_step(model, data, nstep=int(1.5 / model.opt.timestep))
            r = np.hypot(*(data.qpos[pq : pq + 2] - data.qpos[mq : mq + 2]))
            kind = "in" if check.check(data).success else "wedged" if r < MUG_INNER_RADIUS_M + 0.005 else "out"
            counts[kind] += 1
        print(f"mujoco {mujoco.__version__}, {floor} floor: {counts['in']} of {n} tilted drops end in the mug, "
              f"{counts['wedged']} wedged, {counts['out']} out")


def policy(name: str, repeats: int, model: str | None) -> None:
    from simbench.config.build import load_option
    from simbench.envs.base import control_hz
    from simbench.policies.onnx_model import resolve_model_path
    from simbench.registry import POLICY_RUNTIMES, resolve
    from simbench.training.evaluate import make_env, run_episode

    env = make_env()
    cfg = load_option("policy", name)
    cfg["fps"] = control_hz(env)
    if model:
        cfg["model_path"] = str(resolve_model_path(model))
    pol = resolve(POLICY_RUNTIMES, "policy.runtime", cfg.get("runtime", "onnx")).from_config(cfg, env)
    n_steps = int(cfg.get("n_action_steps", pol.actions_per_chunk))
    scene = env.env
    pinch = scene.model.site("pinch").id
    counts = {"success": 0, "never lifted": 0, "released over the mug, missed": 0, "lost elsewhere": 0}
    miss_pinch, miss_bag = [], []
    switches: dict[str, list[int]] = {"success": [], "failure": []}
    first_close: dict[str, list[float]] = {"success": [], "failure": []}
    plan = env.episode_plan()
    for k in range(repeats):
        for i, options in enumerate(plan):
            ticks: list[tuple[float, float, float, float]] = []

            def trace(action: np.ndarray, ticks: list = ticks) -> None:
                p = scene.privileged()
                mug = p["mug_pos"][:2]
                ticks.append(
                    (
                        float(action[5]),
                        float(np.linalg.norm(scene.data.site_xpos[pinch][:2] - mug)),
                        float(np.linalg.norm(p["pouch_pos"][:2] - mug)),
                        float(np.linalg.norm(scene.data.site_xpos[pinch][:2] - p["pouch_pos"][:2])),
                    )
                )

            row = run_episode(env, pol, 100 * k + i, dict(options), n_steps, on_tick=trace)
            t = np.array(ticks)
            shut = t[:, 0] < GRIPPER_OPENING_RAD
            kind = "success" if row["success"] else "failure"
            switches[kind].append(int(np.abs(np.diff(shut.astype(int))).sum()))
            if shut.any():
                first_close[kind].append(t[np.argmax(shut), 3])
            if row["success"]:
                counts["success"] += 1
                continue
            if not row["lifted"]:
                counts["never lifted"] += 1
                continue
            grasped = np.flatnonzero(shut)
            opens = np.flatnonzero(
                (t[:, 0] > GRIPPER_OPENING_RAD) & (np.arange(len(t)) > (grasped[0] if len(grasped) else 0))
            )
            at = opens[0] if len(opens) else len(t) - 1
            if t[at, 1] <= MUG_INNER_RADIUS_M:
                counts["released over the mug, missed"] += 1
                miss_pinch.append(t[at, 1])
                miss_bag.append(row["pouch_to_mug_m"])
            else:
                counts["lost elsewhere"] += 1
    total = sum(counts.values())
    print(f"{name} over {total} protocol episodes: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    if miss_pinch:
        print(
            f"  missed releases: pinch {1000 * np.median(miss_pinch):.0f} mm from the mug's centre when the jaw "
            "opened, "
            f"bag ended {1000 * np.median(miss_bag):.0f} mm from it (medians)"
        )
    for kind in ("success", "failure"):
        if switches[kind]:
            print(
                f"  {kind}s: jaw open/close switches median {np.median(switches[kind]):.0f}, "
                f"pinch-to-bag at the first close {1000 * np.median(first_close[kind]):.0f} mm (median)"
            )
    env.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="what", required=True)
    sub.add_parser("expert").add_argument("--starts", type=int, default=3, help="table starts per training cluster")
    d = sub.add_parser("drops")
    d.add_argument("--drops", type=int, default=150)
    d.add_argument("--floors", nargs="+", choices=["boxes", "cylinder"], default=["boxes", "cylinder"],
                   help="the mug floor as shipped (boxes) or as it was (the base cylinder)")
    p = sub.add_parser("policy")
    p.add_argument("name", help="policy config (conf/policy/), e.g. act_fp32")
    p.add_argument("--repeats", type=int, default=2, help="passes over the protocol (start seeds 100 k + i)")
    p.add_argument("--model", default=None, help="ONNX file instead of the config's model_path")
    args = parser.parse_args()
    if args.what == "expert":
        expert(args.starts)
    elif args.what == "drops":
        drops(args.drops, args.floors)
    else:
        policy(args.name, args.repeats, args.model)


if __name__ == "__main__":
    main()
