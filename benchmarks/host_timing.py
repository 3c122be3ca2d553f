"""A plain ONNX Runtime loop over one ACT graph, with the session options every simbench session has
(``load_session``): the reference ``latency=host`` is compared with (docs/2026-12-06-vla-on-the-board.md).

    python benchmarks/host_timing.py act_fp32 2        # graph name under simbench/models/act/, threads
"""

from __future__ import annotations

import sys
import time

import numpy as np

from simbench.policies.act.onnx_runtime import ACTOnnxPolicy


def main(name: str, threads: int, n: int = 60, warmup: int = 10) -> float:
    p = ACTOnnxPolicy(f"act/{name}.onnx", threads=threads)
    feed = p.feed(np.zeros((1, p.state_dim), np.float32),
                  [np.zeros((1, *p.image_size, 3), np.uint8) for _ in p.cameras])
    times = []
    for _ in range(warmup + n):
        t0 = time.perf_counter()
        p.session.run(None, feed)
        times.append(time.perf_counter() - t0)
    p50 = float(np.median(times[warmup:]))
    print(f"{name} threads={threads}: session.run p50 {1e3 * p50:.2f} ms over {n} calls")
    return p50


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 1)
