"""Latency of every ACT variant on this host, in one run: ONNX Runtime per precision vs torch eager fp32.

For each shipped variant (``simbench/models/act/act_*.onnx`` by default) and each thread count, the
timed call is the runtime's ``predict_chunk`` (resize + session.run + resample: exactly what
``latency=host`` times), on recorded-looking observations at the scene's camera resolution. Reports
median and p90 over ``--calls`` calls after ``--warmup`` calls, the ratio to ONNX Runtime fp32 and to
torch eager fp32 at the same thread count, and file sizes. Nothing is hard-coded: every number is
measured in this run.

    python benchmarks/bench_policy.py [--models-dir simbench/models/act] [--checkpoint \
        outputs/train/act/checkpoints/best.pt]
                                      [--calls 200] [--threads 1 2] [--json results/bench_policy.json]

Without a checkpoint the torch row uses an ACT with the fp32 model's config and random weights
(same compute).
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

import numpy as np

from simbench.paths import MODELS_DIR


def observations(cameras: list[str], state_dim: int, n: int, image_hw: tuple[int, int], seed: int = 0) -> list[dict]:
    rng = np.random.default_rng(seed)
    return [
        {
            "observation.state": rng.normal(0, 0.5, state_dim).astype(np.float32),
            **{f"observation.images.{c}": rng.integers(0, 256, (*image_hw, 3), dtype=np.uint8) for c in cameras},
        }
        for _ in range(n)
    ]


def time_calls(fn, obs: list[dict], warmup: int, calls: int) -> dict[str, float]:
    for i in range(warmup):
        fn(obs[i % len(obs)])
    ts = np.empty(calls)
    for i in range(calls):
        t0 = time.perf_counter()
        fn(obs[i % len(obs)])
        ts[i] = time.perf_counter() - t0
    return {
        "median_ms": float(np.median(ts) * 1e3),
        "p90_ms": float(np.percentile(ts, 90) * 1e3),
        "mean_ms": float(ts.mean() * 1e3),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models-dir", default=str(MODELS_DIR / "act"))
    parser.add_argument("--checkpoint", default="outputs/train/act/checkpoints/best.pt")
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument(
        "--camera-hw", type=int, nargs=2, default=None, help="rendered image size (default: model size x 4)"
    )
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)

    import torch

    from simbench.policies.act.onnx_runtime import ACTOnnxPolicy
    from simbench.policies.torch_policy import TorchChunkPolicy

    models = sorted(Path(args.models_dir).glob("act_*.onnx"))
    fp32 = next((m for m in models if m.stem.endswith("_fp32")), None)
    if fp32 is None:
        print(f"error: no act_fp32.onnx in {args.models_dir}; run 'python -m simbench export' first", file=sys.stderr)
        return 2
    models = [fp32] + [m for m in models if m != fp32]
    probe = ACTOnnxPolicy(fp32)
    hw = tuple(args.camera_hw) if args.camera_hw else (probe.image_size[0] * 4, probe.image_size[1] * 4)
    obs = observations(list(probe.cameras), probe.state_dim, 16, hw)

    rows = []
    for threads in args.threads:
        torch.set_num_threads(threads)
        ckpt = Path(args.checkpoint)
        if ckpt.is_file():
            ref = TorchChunkPolicy.from_checkpoint(ckpt, actions_per_chunk=probe.actions_per_chunk)
        else:
            from simbench.policies.act import ACTConfig, ACTPolicy

            ref = TorchChunkPolicy(ACTPolicy(ACTConfig.from_dict(probe.config)), probe.model_fps)
        # "call": predict_chunk (resize + network + resample), what latency=host times.
        # "model": the network alone on inputs already at model resolution.
        from simbench.policies.runtime_io import observation_inputs

        small = [observation_inputs(o, probe.cameras, probe.image_size, probe.state_dim) for o in obs]  # type: ignore[arg-type]
        torch_small = [(torch.from_numpy(s), torch.from_numpy(np.stack(i, axis=1))) for s, i in small]
        with torch.inference_mode():
            t = time_calls(ref.predict_chunk, obs, args.warmup, args.calls)
            m = time_calls(lambda x: ref.policy.predict_action_chunk(*x), torch_small, args.warmup, args.calls)
        rows.append(
            {
                "variant": "torch_eager_fp32",
                "threads": threads,
                "size_mb": None,
                **t,
                **{f"model_{k}": v for k, v in m.items()},
            }
        )
        for path in models:
            pol = ACTOnnxPolicy(path, threads=threads)
            feeds = [pol.feed(s, list(i)) for s, i in small]
            t = time_calls(pol.predict_chunk, obs, args.warmup, args.calls)
            m = time_calls(lambda f: pol.session.run(None, f), feeds, args.warmup, args.calls)
            rows.append(
                {
                    "variant": path.stem,
                    "threads": threads,
                    "size_mb": path.stat().st_size / 1e6,
                    **t,
                    **{f"model_{k}": v for k, v in m.items()},
                }
            )
    for r in rows:
        same = [x for x in rows if x["threads"] == r["threads"]]
        for pre in ("", "model_"):
            torch_ms = next(x[f"{pre}median_ms"] for x in same if x["variant"] == "torch_eager_fp32")
            ort_ms = next(x[f"{pre}median_ms"] for x in same if x["variant"] == fp32.stem)
            r[f"{pre}speedup_vs_ort_fp32"] = ort_ms / r[f"{pre}median_ms"]
            r[f"{pre}speedup_vs_torch_fp32"] = torch_ms / r[f"{pre}median_ms"]

    import onnxruntime

    print(
        f"host: {platform.processor() or platform.machine()}, onnxruntime {onnxruntime.__version__}, torch "
        f"{torch.__version__}; "
        f"{args.calls} calls after {args.warmup} warm-up; observation {hw[0]}x{hw[1]} x {len(probe.cameras)} cameras"
    )
    print("call = predict_chunk (resize + network + resample, what latency=host times); model = network only")
    print(
        f"{'variant':<20}{'thr':>4} | {'call med':>9}{'p90':>8}{'xORT32':>8}{'xtorch':>8} | "
        f"{'model med':>10}{'p90':>8}{'xORT32':>8}{'xtorch':>8} | {'size MB':>8}"
    )
    for r in rows:
        size = f"{r['size_mb']:.2f}" if r["size_mb"] is not None else "-"
        print(
            f"{r['variant']:<20}{r['threads']:>4} | {r['median_ms']:>9.3f}{r['p90_ms']:>8.3f}"
            f"{r['speedup_vs_ort_fp32']:>8.2f}{r['speedup_vs_torch_fp32']:>8.2f} | {r['model_median_ms']:>10.3f}"
            f"{r['model_p90_ms']:>8.3f}{r['model_speedup_vs_ort_fp32']:>8.2f}{r['model_speedup_vs_torch_fp32']:>8.2f} "
            f"| {size:>8}"
        )
    if args.json:
        from simbench.atomic_io import write_json

        write_json(Path(args.json), rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
