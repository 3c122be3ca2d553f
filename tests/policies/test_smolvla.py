"""The SmolVLA-style policy: config, tokenizer, flow matching, the three-graph export and its runtime."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from simbench.config.options import load_option
from simbench.errors import ConfigError
from simbench.policies.request import PolicyRequest
from simbench.policies.smolvla import SmolVLAConfig, SmolVLAPolicy
from simbench.policies.smolvla.tokenizer import BOS, N_BYTES, N_SPECIAL, decode, encode, vocab_size


def conf(**kw) -> SmolVLAConfig:
    """conf/policy/smolvla.yaml (the config's one home) with ``kw`` on top."""
    return SmolVLAConfig.from_dict({**(load_option("policy", "smolvla") or {}), **kw})


def tiny(**kw) -> SmolVLAConfig:
    base = {"cameras": ("top", "left"), "image_size": (32, 32), "chunk_size": 8, "n_action_steps": 8,
                "vision_stem_channels": (8,), "vision_dim": 16, "vision_layers": 1, "vision_heads": 2, "dim_model": 32,
                "n_heads": 2, "dim_feedforward": 64, "n_layers": 2, "expert_heads": 2, "num_steps": 4}
    base.update(kw)
    return conf(**base)


def test_shapes_follow_smolvla() -> None:
    cfg = conf()
    assert cfg.patch_grid == (6, 8) and cfg.tokens_per_camera == 12  # pixel shuffle 2 folds 2x2 patches
    assert cfg.expert_dim == 96  # 0.75 x 128
    assert cfg.cross_layers == (0, 2)  # layers 1 and 3 are causal self-attention
    assert conf(layers_used=2).depth == 2 and conf(layers_used=2).cross_layers == (0,)


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"image_size": (90, 128)}, "policy.image_size"),
        ({"n_action_steps": 60}, "n_action_steps"),
        ({"layers_used": 9}, "policy.layers_used"),
        ({"num_steps": 0}, "policy.num_steps"),
        ({"self_attn_every": 1}, "policy.self_attn_every"),
        ({"dim_model": 130}, "dim_model"),
        ({"time_beta": (0.0, 1.0)}, "policy.time_beta"),
    ],
)
def test_bad_config_names_the_key(kw: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        conf(**kw)


def test_tokenizer_words_then_bytes() -> None:
    ids = encode("Put the tea bag in the mug")
    assert ids[0] == BOS and len(ids) == 8 and all(i >= N_SPECIAL + N_BYTES for i in ids[1:])
    assert decode(ids) == "put the tea bag in the mug"
    odd = encode("zorp")  # not in the vocabulary: one token per UTF-8 byte
    assert odd[1:] == [N_SPECIAL + b for b in b"zorp"] and decode(odd) == "zorp"
    assert max(encode("héllo wörld mug")) < vocab_size()


def test_flow_matching_loss_trains_and_sampling_is_deterministic() -> None:
    torch.manual_seed(0)
    cfg = tiny()
    policy = SmolVLAPolicy(cfg)
    b = 4
    batch = {"state": torch.randn(b, 6), "images": torch.randint(0, 255, (b, 2, 32, 32, 3), dtype=torch.uint8),
             "action": torch.randn(b, 8, 6), "action_is_pad": torch.zeros(b, 8, dtype=torch.bool)}
    opt = torch.optim.AdamW(policy.parameters(), 3e-3)
    losses = []
    for _ in range(40):
        torch.manual_seed(1)  # same noise and times: the loss must fall on a fixed problem
        loss, _ = policy(batch)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss))
    assert np.isfinite(losses).all() and losses[-1] < 0.5 * losses[0]
    policy.eval()
    noise = torch.randn(1, 8, 6)
    a1 = policy.predict_action_chunk(batch["state"][:1], batch["images"][:1], noise=noise)
    a2 = policy.predict_action_chunk(batch["state"][:1], batch["images"][:1], noise=noise)
    assert a1.shape == (1, 8, 6) and torch.equal(a1, a2)


def test_prefill_once_equals_recomputing_the_prefix_every_step() -> None:
    """The KV reuse is exact: caching the prefix changes no number."""
    torch.manual_seed(0)
    policy = SmolVLAPolicy(tiny()).eval()
    state, images = torch.randn(1, 6), torch.randint(0, 255, (1, 2, 32, 32, 3), dtype=torch.uint8)
    noise = torch.randn(1, 8, 6)
    with torch.no_grad():
        cached = policy.sample_actions(policy.prefill(policy.visual_tokens(images), policy.tokens(1), state), noise, 4)
        x = noise
        for k in range(4):
            kv = policy.prefill(policy.visual_tokens(images), policy.tokens(1), state)
            x = x - 0.25 * policy.expert(x, torch.tensor([1.0 - k / 4]), kv)
    assert torch.allclose(cached, x, atol=1e-6)


def test_self_attention_is_causal_among_action_tokens() -> None:
    """Changing the last action token's input leaves earlier tokens' velocities unchanged only through
    the self-attention layers' mask (the cross layers read the prefix only)."""
    torch.manual_seed(0)
    policy = SmolVLAPolicy(tiny()).eval()
    kv = policy.prefill(policy.visual_tokens(torch.zeros(1, 2, 32, 32, 3, dtype=torch.uint8)), policy.tokens(1),
                        torch.zeros(1, 6))
    x = torch.randn(1, 8, 6)
    y = x.clone()
    y[0, -1] += 5.0
    with torch.no_grad():
        v1, v2 = policy.expert(x, torch.ones(1), kv), policy.expert(y, torch.ones(1), kv)
    assert torch.allclose(v1[0, :-1], v2[0, :-1], atol=1e-6) and not torch.allclose(v1[0, -1], v2[0, -1])


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[SmolVLAPolicy, Path, dict]:
    from simbench.export.smolvla import export_smolvla

    torch.manual_seed(0)
    policy = SmolVLAPolicy(tiny()).eval()
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (24, 2, 32, 32, 3), dtype=np.uint8)
    data = SimpleNamespace(state=rng.normal(size=(24, 6)).astype(np.float32), train_frames=np.arange(16),
                           val_frames=np.arange(16, 24), images_of=lambda idx: images[idx])
    out = tmp_path_factory.mktemp("smolvla")
    report = export_smolvla(policy, 30.0, data, {"eval_frames": 4, "calibration_frames": 8, "smolvla_variants": {
        "fp32": {}, "mixed": {"vision": "int8", "prefill": "int8"}, "int8": {"vision": "int8", "prefill": "int8",
                                                                             "expert": "int8"},
        "expert_int4": {"expert": "int4"}, "fp16": {"vision": "fp16", "prefill": "fp16", "expert": "fp16"}}}, out)
    return policy, out, report


def test_three_graphs_match_torch(exported: tuple[SmolVLAPolicy, Path, dict]) -> None:
    _, out, report = exported
    assert {p.name for p in out.glob("*_fp32.onnx")} == {"vision_fp32.onnx", "prefill_fp32.onnx", "expert_fp32.onnx"}
    assert all(v < 1e-4 for v in report["parity_max_abs_diff"].values()), report["parity_max_abs_diff"]
    variants = report["variants"]
    assert variants["fp32"]["error_vs_fp32"]["max_abs"] == 0.0
    assert variants["int8"]["size_mb"] < variants["fp32"]["size_mb"]
    for name in ("mixed", "int8", "expert_int4", "fp16"):
        assert 0 < variants[name]["error_vs_fp32"]["max_abs"] < 1.0, name


def test_onnx_runtime_matches_torch_end_to_end(exported: tuple[SmolVLAPolicy, Path, dict]) -> None:
    """The runtime's vision -> prefill -> N expert steps equals the torch policy on the same noise."""
    from simbench.policies.smolvla.onnx_runtime import SmolVLAOnnxPolicy

    policy, out, _ = exported
    runtime = SmolVLAOnnxPolicy.from_config({"model_path": str(out), "component_precision": {}})
    rng = np.random.default_rng(3)
    state = rng.normal(size=(1, 6)).astype(np.float32)
    images = rng.integers(0, 256, (1, 2, 32, 32, 3), dtype=np.uint8)
    noise = rng.standard_normal((1, 8, 6)).astype(np.float32)
    for steps in (4, 2):
        got = runtime.trace(state, images, noise, num_steps=steps)["chunk"]
        ref = policy.predict_action_chunk(torch.from_numpy(state), torch.from_numpy(images),
                                          noise=torch.from_numpy(noise), num_steps=steps).numpy()
        assert np.abs(got - ref).max() < 1e-4
    obs = {"observation.state": state[0], "observation.images.top": images[0, 0], "observation.images.left": images[0, 1]}
    runtime.reset(5)
    a = runtime.predict_chunk(PolicyRequest(obs))
    runtime.reset(6)
    assert np.array_equal(a, runtime.predict_chunk(PolicyRequest(obs))) and a.shape == (8, 6)  # noise_scale 0: deterministic
    noisy = SmolVLAOnnxPolicy.from_config({"model_path": str(out), "noise_scale": 1.0})
    draws = []
    for seed in (5, 5, 6):
        noisy.reset(seed)
        draws.append(noisy.predict_chunk(PolicyRequest(obs)))
    assert np.array_equal(draws[0], draws[1]) and not np.array_equal(draws[0], draws[2])


def test_runtime_refuses_missing_components(exported: tuple[SmolVLAPolicy, Path, dict]) -> None:
    from simbench.policies.smolvla.onnx_runtime import component_paths

    _, out, _ = exported
    with pytest.raises(ConfigError, match="policy.component_precision.expert='int2'.*holds expert at fp16, fp32, int4, int8"):
        component_paths(str(out), {"expert": "int2"})
    with pytest.raises(ConfigError, match="policy.component_precision='decoder'"):
        component_paths(str(out), {"decoder": "fp32"})
    with pytest.raises(ConfigError, match="policy.model_path"):
        component_paths(str(out / "nowhere"), {})


def test_trainer_trains_and_resumes_smolvla(tmp_path: Path) -> None:
    from simbench.policies.checkpoint import load_checkpoint
    from simbench.training.synthetic import synthetic_data
    from simbench.training.trainer import TrainConfig, train

    cfg = tiny(cameras=("top",))
    data = synthetic_data(cameras=("top",), size=(32, 32))
    opts = {"dataset": "expert", "out_dir": str(tmp_path), "eval_every": 0, "batch_size": 4, "progress": False, "val_every": 5,
                "save_every": 5, "log_every": 5, "val_batches": 2}
    first = train(cfg, TrainConfig(steps=5, **opts), data)
    policy, ckpt = load_checkpoint(first.best_path)
    assert type(policy).__name__ == "SmolVLAPolicy" and ckpt["arch"] == "smolvla"
    again = train(cfg, TrainConfig(steps=10, **opts), data)
    assert again.step == 10 and again.val_loss is not None
    with pytest.raises(ConfigError, match="different smolvla config"):
        train(tiny(cameras=("top",), dim_model=64), TrainConfig(steps=12, **opts), data)
