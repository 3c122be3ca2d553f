"""LeRobot's own output against the imported ONNX graph, on a LeRobot checkpoint and real frames.

    lerobot-venv/bin/python benchmarks/lerobot_parity.py CHECKPOINT/pretrained_model OUT/model.onnx \
        --dataset DATA [--n 16] [--json F]

Runs in the LeRobot environment of ``benchmarks/lerobot_train.py`` (ONNX Runtime comes from
simbench's site packages). The observations are the dataset's own frames and states (first frames
of evenly spread episodes), fed to LeRobot as a robot gives them (``prepare_observation_for_inference``
-> preprocessor -> ``predict_action_chunk`` -> postprocessor) and to the ONNX graph as simbench does
(uint8 H x W x 3, state in robot units). Prints and writes the max and mean absolute difference.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from lerobot_train import torchvision_without_compiled_ops  # noqa: E402


def frame_at(path: Path, t: float) -> np.ndarray:
    """The RGB frame at ``t`` seconds (seek to the keyframe before it, decode forward)."""
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        container.seek(int(max(t - 1.0, 0.0) / stream.time_base), stream=stream, backward=True)
        for frame in container.decode(stream):
            if abs(float(frame.pts * stream.time_base) - t) < 1e-3:
                return frame.to_ndarray(format="rgb24")
    raise RuntimeError(f"{path}: no frame at {t:.4f} s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint")
    parser.add_argument("model")
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--n", type=int, default=16)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()

    torchvision_without_compiled_ops()
    import onnxruntime as ort
    import pandas as pd
    import torch
    from lerobot.policies.act.modeling_act import ACTPolicy
    from lerobot.policies.factory import make_pre_post_processors
    from lerobot.policies.utils import prepare_observation_for_inference

    policy = ACTPolicy.from_pretrained(args.checkpoint).eval()
    pre, post = make_pre_post_processors(policy.config, pretrained_path=args.checkpoint)
    session = ort.InferenceSession(args.model, providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]

    root = Path(args.dataset)
    info = json.loads((root / "meta" / "info.json").read_text())
    frames = pd.concat(pd.read_parquet(p) for p in sorted((root / "data").rglob("*.parquet")))
    episodes = pd.concat(pd.read_parquet(p) for p in sorted((root / "meta" / "episodes").rglob("*.parquet")))
    cams = [k for k, v in info["features"].items() if v["dtype"] == "video"]
    picks = np.linspace(0, len(episodes) - 1, args.n).round().astype(int)
    diffs = []
    for e in picks:
        ep = episodes.iloc[e]
        row = frames[(frames["episode_index"] == ep["episode_index"]) & (frames["frame_index"] == 30)].iloc[0]
        state = np.asarray(row["observation.state"], np.float32)
        images = {}
        for cam in cams:
            chunk, file = int(ep[f"videos/{cam}/chunk_index"]), int(ep[f"videos/{cam}/file_index"])
            path = root / info["video_path"].format(video_key=cam, chunk_index=chunk, file_index=file)
            t = float(ep[f"videos/{cam}/from_timestamp"]) + float(row["timestamp"])
            images[cam] = frame_at(path, t)
        obs = {"observation.state": state, **images}
        with torch.no_grad():
            batch = pre(prepare_observation_for_inference(obs, torch.device("cpu"), task=None, robot_type=None))
            theirs = post(policy.predict_action_chunk(batch)).numpy()
        feed = {"observation.state": state[None], **{c: images[c][None] for c in cams}}
        ours = session.run(None, {n: feed[n] for n in names})[0]
        diffs.append(np.abs(ours - theirs))
    d = np.stack(diffs)
    result = {"checkpoint": args.checkpoint, "model": args.model, "observations": len(picks),
              "max_abs": float(d.max()), "mean_abs": float(d.mean())}
    print(f"ONNX vs LeRobot on {len(picks)} dataset observations: max |d| {d.max():.2e}, mean |d| {d.mean():.2e}")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
