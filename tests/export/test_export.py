"""Export parity, every quantization path, the ONNX runtime policy and bad-input handling."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from simbench.__main__ import main as cli
from simbench.errors import ConfigError
from simbench.export.onnx_export import export_onnx
from simbench.export.parity import action_error, make_feeds, max_abs_diff, random_feeds, run_onnx, run_torch
from simbench.export.quantize import Recipe, build_variant, recipes_from_config
from simbench.policies.act.onnx_runtime import ACTOnnxPolicy
from simbench.policies.onnx_model import load_session
from simbench.policies.request import PolicyRequest
from simbench.training.synthetic import synthetic_data, tiny_config
from simbench.training.trainer import TrainConfig, train


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory):
    """A tiny ACT trained briefly (so outputs depend on inputs) and its fp32 export."""
    tmp = tmp_path_factory.mktemp("export")
    data = synthetic_data(cameras=("top", "gripper"))
    cfg = TrainConfig(out_dir=str(tmp / "run"), steps=120, batch_size=8, val_every=120, val_batches=2,
                      save_every=120, warmup_steps=5, progress=False, eval_every=0)
    result = train(tiny_config(cameras=("top", "gripper"), chunk_size=20, n_action_steps=20), cfg, data)
    from simbench.training.trainer import load_checkpoint

    policy, _ = load_checkpoint(result.best_path)
    fp32 = export_onnx(policy, tmp / "act_fp32.onnx", fps=30)
    return policy, data, fp32, tmp, result.best_path


def test_export_parity_and_inline_weights(trained) -> None:
    policy, data, fp32, tmp, _ = trained
    assert not list(tmp.glob("*.onnx.data"))
    idx = data.val_frames[:10]
    feeds = make_feeds(data.state[idx], data.images_of(idx), policy.config.cameras)
    assert max_abs_diff(run_onnx(fp32, feeds), run_torch(policy, data.state[idx], data.images_of(idx))) < 1e-4


@pytest.mark.parametrize(
    "recipe",
    [
        Recipe("fp16", precision="fp16"),
        Recipe("int8", components={"backbone": "int8", "transformer": "int8"}),
        Recipe("int8_weights", components={"backbone": "int8", "transformer": "int8"}, int8_ops="weights"),
        Recipe("int8_attention_fp32", components={"backbone": "int8", "transformer": "int8"},
               int8_ops={"transformer": ["Gemm", "Add", "Mul", "Relu", "Transpose", "Reshape"]}),
        Recipe("int8_dynamic", components={"transformer": "int8_dynamic"}),
        Recipe("int4", components={"transformer": "int4"}),
        Recipe("mixed", components={"backbone": "int8", "transformer": "fp32", "head": "fp32"}),
    ],
    ids=lambda r: r.name,
)
def test_quantized_variant_loads_with_bounded_error(trained, recipe: Recipe) -> None:
    policy, data, fp32, tmp, _ = trained
    cams = policy.config.cameras
    calib = make_feeds(data.state[data.train_frames[::5]], data.images_of(data.train_frames[::5]), cams)
    idx = data.val_frames[:10]
    feeds = make_feeds(data.state[idx], data.images_of(idx), cams)
    path = build_variant(fp32, tmp / f"act_{recipe.name}.onnx", recipe, calib)
    ref = run_onnx(fp32, feeds)
    out = run_onnx(path, feeds)
    assert out.shape == ref.shape and np.isfinite(out).all()
    err = action_error(out, ref)
    assert err["rel_spread"] < (0.05 if recipe.precision == "fp16" else 2.0), err
    assert err["mean_abs"] < (0.005 if recipe.precision == "fp16" else 0.05), err
    assert not list(tmp.glob("*.onnx.data"))


def test_stem_is_its_own_component_and_stays_fp32_unless_named(trained) -> None:
    """The 3-channel stem conv is slower in int8 than fp32 on x86, so recipes name it separately."""
    import onnx

    from simbench.export.quantize import component_of

    assert component_of("/model/backbone/stem/stem.0/Conv") == "stem"
    assert component_of("/model/backbone/stages/stages.0/conv1/Conv") == "backbone"
    policy, data, fp32, tmp, _ = trained
    calib = make_feeds(
        data.state[data.train_frames[::5]], data.images_of(data.train_frames[::5]), policy.config.cameras
    )

    def stem_inputs_quantized(recipe: Recipe) -> bool:
        model = onnx.load(str(build_variant(fp32, tmp / f"stem_{recipe.name}.onnx", recipe, calib)))
        producers = {o: n.op_type for n in model.graph.node for o in n.output}
        stem = [n for n in model.graph.node if n.op_type == "Conv" and component_of(n.name) == "stem"]
        assert stem, "no stem conv found"
        return all(producers.get(i) == "DequantizeLinear" for n in stem for i in n.input[:2])

    assert not stem_inputs_quantized(Recipe("no_stem", components={"backbone": "int8"}))
    assert stem_inputs_quantized(Recipe("with_stem", components={"stem": "int8", "backbone": "int8"}))


def test_int8_ops_per_component_keeps_attention_float(trained) -> None:
    """A per-component op list leaves the attention (MatMul, Softmax) in float while the backbone
    stays fully int8: the shipped int8 recipe relies on this (QLinearSoftmax is slower than Softmax)."""
    import onnx

    from simbench.export.quantize import component_of

    policy, data, fp32, tmp, _ = trained
    calib = make_feeds(
        data.state[data.train_frames[::5]], data.images_of(data.train_frames[::5]), policy.config.cameras
    )

    def quantized_ops(recipe: Recipe) -> set[tuple[str | None, str]]:
        """(component, op type) of nodes whose first input comes through a DequantizeLinear."""
        model = onnx.load(str(build_variant(fp32, tmp / f"ops_{recipe.name}.onnx", recipe, calib)))
        producers = {o: n.op_type for n in model.graph.node for o in n.output}
        return {(component_of(n.name), n.op_type) for n in model.graph.node
                if n.input and producers.get(n.input[0]) == "DequantizeLinear"}

    base = {"backbone": "int8", "transformer": "int8", "head": "fp32"}
    everything = quantized_ops(Recipe("all_ops", components=base))
    listed = quantized_ops(Recipe("listed", components=base, int8_ops={"transformer": ["Gemm", "Add", "Relu"]}))
    assert ("transformer", "Softmax") in everything and ("transformer", "Softmax") not in listed
    assert ("transformer", "Gemm") in listed
    assert {x for x in everything if x[0] == "backbone"} == {x for x in listed if x[0] == "backbone"}


def test_keep_float_spares_named_layers(trained) -> None:
    """keep_float prefixes leave those layers' weights float while the rest of the component is int8."""
    import onnx

    policy, data, fp32, tmp, _ = trained
    calib = make_feeds(
        data.state[data.train_frames[::5]], data.images_of(data.train_frames[::5]), policy.config.cameras
    )
    base = {"backbone": "int8", "transformer": "int8", "head": "fp32"}

    def int8_weights(recipe: Recipe) -> set[str]:
        """Conv/MatMul/Gemm nodes whose weight comes through a DequantizeLinear of an int8 tensor."""
        model = onnx.load(str(build_variant(fp32, tmp / f"kf_{recipe.name}.onnx", recipe, calib)))
        int8 = {i.name for i in model.graph.initializer if i.data_type == onnx.TensorProto.INT8}
        dq_of_int8 = {n.output[0] for n in model.graph.node if n.op_type == "DequantizeLinear" and n.input[0] in int8}
        return {n.name for n in model.graph.node
                if n.op_type in ("Conv", "MatMul", "Gemm") and len(n.input) > 1 and n.input[1] in dq_of_int8}

    everything = int8_weights(Recipe("all", components=base))
    spared = int8_weights(Recipe("spared", components=base, keep_float=["/model/decoder/"]))
    assert any("decoder" in n for n in everything) and not any("decoder" in n for n in spared)
    assert {n for n in everything if "decoder" not in n} == spared  # nothing else changes
    assert "float: /model/decoder/" in Recipe("d", components=base, keep_float=["/model/decoder/"]).describe()


def test_onnx_policy_predicts_resampled_chunk(trained) -> None:
    policy, data, fp32, _, _ = trained
    runtime = ACTOnnxPolicy.from_config(
        {"name": "act", "model_path": str(fp32), "actions_per_chunk": 30, "fps": 60, "action_dim": 6}
    )
    obs = {"observation.state": data.state[0], "observation.images.top": np.zeros((32, 32, 3), np.uint8),
           "observation.images.gripper": np.zeros((32, 32, 3), np.uint8), "privileged.x": 1, "timestep": 3}
    chunk = runtime.predict_chunk(PolicyRequest(obs))
    assert chunk.shape == (30, 6) and chunk.dtype == np.float64
    raw = runtime.predict_chunk_raw(obs)
    np.testing.assert_allclose(chunk[::2], raw[:15], rtol=1e-6, atol=1e-6)
    with pytest.raises(ConfigError, match="horizon"):
        ACTOnnxPolicy(fp32, actions_per_chunk=41, control_hz=60)


def _kernel_ops(session) -> set[str]:
    trace = session.end_profiling()
    return {e["args"]["op_name"] for e in json.loads(Path(trace).read_text()) if e.get("cat") == "Node"}


def test_sessions_do_not_fuse_skip_layer_norm(trained, tmp_path: Path) -> None:
    """Every simbench session skips ORT's SkipLayerNormalization fusion (slower on CPU, see
    DISABLED_ORT_OPTIMIZERS); ORT's default graph of the same file does fuse, so the test can fail."""
    policy, _, fp32, _, _ = trained
    feeds = random_feeds(policy.config.cameras, policy.config.image_size, policy.config.state_dim, n=1)[0]
    ours = load_session(fp32, 1, profile_prefix=str(tmp_path / "ours"))
    default = load_session(fp32, 1, profile_prefix=str(tmp_path / "default"), disabled_optimizers=())
    outs = [s.run(None, feeds)[0] for s in (ours, default)]
    np.testing.assert_allclose(outs[0], outs[1], atol=1e-4)
    assert "SkipLayerNormalization" in _kernel_ops(default)
    ops = _kernel_ops(ours)
    assert "SkipLayerNormalization" not in ops and "LayerNormalization" in ops


def test_corrupt_onnx_is_one_line_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x00garbage")
    with pytest.raises(ConfigError, match="cannot load ONNX model") as info:
        ACTOnnxPolicy(bad)
    assert "\n" not in str(info.value)
    with pytest.raises(ConfigError, match="not found"):
        ACTOnnxPolicy(tmp_path / "missing.onnx")


def test_recipe_validation() -> None:
    with pytest.raises(ConfigError, match="components"):
        recipes_from_config({"x": {"components": {"neck": "int8"}}})
    with pytest.raises(ConfigError, match=r"int8_ops\.transformer"):
        recipes_from_config({"x": {"components": {"transformer": "int8"}, "int8_ops": {"transformer": "some"}}})
    with pytest.raises(ConfigError, match="components are"):
        recipes_from_config({"x": {"components": {"transformer": "int8"}, "int8_ops": {"neck": "all"}}})
    with pytest.raises(ConfigError, match="op types"):
        recipes_from_config({"x": {"components": {"transformer": "int8"}, "int8_ops": ["conv"]}})
    with pytest.raises(ConfigError, match="cannot be mixed"):
        recipes_from_config({"x": {"components": {"backbone": "int8", "transformer": "int8_dynamic"}}})
    with pytest.raises(ConfigError, match="unknown"):
        recipes_from_config({"x": {"bits": 3}})
    with pytest.raises(ConfigError, match="keep_float"):
        recipes_from_config({"x": {"components": {"transformer": "int8"}, "keep_float": ["decoder"]}})


def test_export_cli_bad_inputs(trained, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, _, _, _, ckpt = trained
    other = tmp_path / "other.pt"
    import torch

    torch.save({"arch": "smolvla"}, other)
    for args, needle in [
        ([f"checkpoint={other}"], "not a policy checkpoint"),
        ([f"checkpoint={tmp_path / 'none.pt'}"], "no such file"),
        ([f"checkpoint={ckpt}", f"dataset={tmp_path / 'nodata'}", f"out_dir={tmp_path / 'o'}"], "dataset not found"),
        (["variants.int8.components.backbone=int9"], "int9"),
    ]:
        code = cli(["export", *args])
        err = capsys.readouterr().err.strip().splitlines()
        assert code == 2 and len(err) == 1 and needle in err[0], (args, err)
    assert not (tmp_path / "o").exists()


def test_export_cli_end_to_end(
    trained, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """checkpoint + (stand-in) dataset -> every configured variant and a report."""
    import json

    import simbench.dataset
    from simbench.training.synthetic import FakeDataset

    _, _, _, _, ckpt = trained
    root = tmp_path / "ds"
    (root / "meta").mkdir(parents=True)
    (root / "meta" / "info.json").write_text("{}")
    monkeypatch.setitem(vars(simbench.dataset), "load_dataset", lambda r: FakeDataset(Path(r), episodes=6, length=30))
    out = tmp_path / "models"
    code = cli(
        ["export", f"checkpoint={ckpt}", f"dataset={root}", f"out_dir={out}", "calibration_frames=16", "eval_frames=8"]
    )
    assert code == 0
    report = json.loads((out / "export_report.json").read_text())
    assert report["parity_max_abs_diff"] < 1e-4
    assert set(report["variants"]) == {"fp32", "fp16", "int8", "int8_dynamic", "int4", "mixed"}
    for name in report["variants"]:
        assert ACTOnnxPolicy(out / f"act_{name}.onnx", actions_per_chunk=20).precision == name
    assert "max |onnxruntime - torch|" in capsys.readouterr().out


def _fake_dataset(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    import simbench.dataset
    from simbench.training.synthetic import FakeDataset

    root = tmp_path / "ds"
    (root / "meta").mkdir(parents=True)
    (root / "meta" / "info.json").write_text("{}")
    monkeypatch.setitem(vars(simbench.dataset), "load_dataset", lambda r: FakeDataset(Path(r), episodes=6, length=30))
    return root


@pytest.mark.parametrize("parity", ["tight", "nan"])
def test_export_failing_parity_writes_nothing_and_exits_1(trained, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str], parity: str) -> None:
    """Issue #25 item 14: a parity above max_parity, or NaN, is a failed export, not a shipped one."""
    import simbench.export.parity as parity_mod

    _, _, _, _, ckpt = trained
    root = _fake_dataset(tmp_path, monkeypatch)
    args = ["max_parity=1e-12"] if parity == "tight" else []
    if parity == "nan":
        monkeypatch.setattr(parity_mod, "max_abs_diff", lambda a, b: float("nan"))
    out = tmp_path / "models"
    code = cli(
        [
            "export",
            f"checkpoint={ckpt}",
            f"dataset={root}",
            f"out_dir={out}",
            "calibration_frames=8",
            "eval_frames=4",
            "variants={fp32:{precision:fp32}}",
            *args,
        ]
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1 and "exceeds max_parity" in err[0] and "nothing written" in err[0]
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds"]  # no staging directory left either


def test_export_never_overwrites_a_directory_that_holds_files_unless_told(
    trained, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    _, _, _, _, ckpt = trained
    root = _fake_dataset(tmp_path, monkeypatch)
    shipped = tmp_path / "shipped"
    shipped.mkdir()
    (shipped / "act_fp32.onnx").write_bytes(b"the shipped model")
    base = [f"checkpoint={ckpt}", f"dataset={root}", f"out_dir={shipped}", "calibration_frames=8", "eval_frames=4",
            "variants={fp32:{precision:fp32}}"]
    assert cli(["export", *base]) == 0
    assert (shipped / "act_fp32.onnx").read_bytes() == b"the shipped model"
    report = json.loads((tmp_path / "shipped-2" / "export_report.json").read_text())
    assert report["variants"]["fp32"]["path"] == str(tmp_path / "shipped-2" / "act_fp32.onnx")
    assert cli(["export", *base, "replace=true"]) == 0
    assert (shipped / "act_fp32.onnx").read_bytes() != b"the shipped model"
    assert cli(["export", *base, "max_parity=nan"]) == 2
    assert "max_parity=nan" in capsys.readouterr().err


def test_export_default_out_dir_is_not_the_shipped_models() -> None:
    from omegaconf import OmegaConf

    from simbench.paths import CONF_DIR, MODELS_DIR

    cfg = OmegaConf.load(CONF_DIR / "export.yaml")
    # null: outputs/export/<arch>, never the package data
    assert cfg.out_dir is None and cfg.replace is False and not str(MODELS_DIR).endswith("outputs/export")


def test_quantization_runs_in_a_scratch_directory(trained, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """ONNX Runtime's pre-processing writes temp files (sym_shape_infer_temp.onnx, <uuid>.data) into the
    working directory: export runs it elsewhere and the user's directory stays empty."""
    import onnxruntime.quantization as ortq

    policy, data, fp32, tmp, _ = trained
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    seen: list[str] = []
    real = ortq.quant_pre_process

    def spy(*args, **kwargs):
        seen.append(str(Path.cwd()))
        (Path.cwd() / "sym_shape_infer_temp.onnx").write_bytes(b"left behind")  # what ORT may leave
        return real(*args, **kwargs)

    monkeypatch.setattr(ortq, "quant_pre_process", spy)
    feeds = make_feeds(data.state[data.val_frames[:4]], data.images_of(data.val_frames[:4]), policy.config.cameras)
    build_variant(fp32, tmp_path / "int8.onnx", Recipe("int8", components={"backbone": "int8"}), feeds)
    assert seen and all(Path(d) != work for d in seen)
    assert Path.cwd() == work and list(work.iterdir()) == []
