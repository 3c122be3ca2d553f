"""``+policy=onnx``: the contract checked up front (one line naming the field, exit 2, nothing
written), runs in env=timing under latency=host and the i.MX95 profile (the device model, no borrowed
figure), in the scene when its inputs match it, and is refused there in one line when they do not."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from simbench.errors import ConfigError
from simbench.policies.chunk_contract import read_contract
from tests.byo.helpers import FIXTURES, contract_model, error_line
from tests.run_cli import simbench


@pytest.mark.parametrize(
    "field", ["simbench.contract", "simbench.inputs", "simbench.chunk_size", "simbench.action_dim"]
)
def test_each_missing_field_is_named(tmp_path: Path, field: str) -> None:
    path = contract_model(tmp_path / "m.onnx", drop=field)
    with pytest.raises(ConfigError, match=f"lacks {field}"):
        read_contract(path)
    line = error_line(
        simbench("run", "+policy=onnx", f"policy.model_path={path}", "env=timing", f"results_dir={tmp_path / 'r'}")
    )
    assert f"metadata lacks {field}" in line and "docs/byo-policy.md" in line
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize(
    ("meta", "words"),
    [
        ({"simbench.chunk_size": "12"}, "output action has shape [1, 10, 6]"),
        ({"simbench.contract": "chunk_policy/9"}, "this simbench reads chunk_policy/1"),
        ({"simbench.fps": "-3"}, "simbench.fps="),
        ({"simbench.action_names": '["a", "b"]'}, "simbench.action_names must be a JSON list of 6 names"),
        (
            {
                "simbench.inputs": json.dumps(
                    [{"name": "observation.state", "kind": "state", "shape": [1, 7], "dtype": "float32"}]
                )
            },
            "input observation.state has shape [1, 6]",
        ),
        (
            {
                "simbench.inputs": json.dumps(
                    [{"name": "observation.state", "kind": "state", "shape": [1, 6], "dtype": "float32"}]
                )
            },
            "graph input 'observation.images.top' is not described",
        ),
        (
            {
                "simbench.inputs": json.dumps(
                    [
                        {"name": "observation.state", "kind": "state", "shape": [1, 6], "dtype": "float32"},
                        {
                            "name": "observation.images.top",
                            "kind": "image",
                            "shape": [1, 32, 48, 3],
                            "dtype": "float32",
                            "layout": "NHWC",
                        },
                    ]
                )
            },
            "a NHWC image is uint8",
        ),
    ],
)
def test_mismatched_fields_are_named(tmp_path: Path, meta: dict[str, str], words: str) -> None:
    with pytest.raises(ConfigError, match=None) as err:
        read_contract(contract_model(tmp_path / "m.onnx", meta=meta))
    assert words in str(err.value) and "\n" not in str(err.value)


def test_timing_env_with_host_latency_and_imx95(tmp_path: Path) -> None:
    path = contract_model(tmp_path / "m.onnx", cameras={"top": (32, 48), "side": (24, 40)}, state_dim=9, action_dim=7)
    res = simbench(
        "run",
        "+policy=onnx",
        f"policy.model_path={path}",
        "env=timing",
        "env.duration_s=5",
        "latency=host",
        f"results_dir={tmp_path / 'host'}",
        "plots=false",
        "progress=false",
    )
    assert res.returncode == 0, res.stderr
    (run,) = (tmp_path / "host" / "runs").iterdir()
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["latency_source"]["kind"] == "host" and metrics["inference_count"] > 10
    assert metrics["latency_mean_s"] > 0
    res = simbench(
        "run",
        "+policy=onnx",
        f"policy.model_path={path}",
        "env=timing",
        "env.duration_s=5",
        f"results_dir={tmp_path / 'imx'}",
        "plots=false",
        "progress=false",
    )
    assert res.returncode == 0, res.stderr
    (run,) = (tmp_path / "imx" / "runs").iterdir()
    source = json.loads((run / "metrics.json").read_text())["latency_source"]
    assert source["kind"] == "predicted" and source["device"] == "imx95" and "no published" in source["why"]
    assert "anchor" not in source  # never another model's figure


def test_unpriceable_graph_names_the_other_sources(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from simbench.latency import unpublished

    def fail(*args: object, **kwargs: object) -> None:
        raise ConfigError("graph m.onnx: shape inference failed")

    monkeypatch.setattr(unpublished, "predict_policy", fail)
    path = contract_model(tmp_path / "m.onnx")
    with pytest.raises(ConfigError) as err:
        unpublished.unpublished_latency({"device": "imx95"}, "onnx", lambda name: ((object(),), ()))
    text = str(err.value)
    assert "no published figure" in text and all(
        s in text for s in ("latency=host", "latency=trace", "latency=board", "latency=constant latency.value=")
    )
    assert path.exists()


def test_scene_refuses_a_model_that_does_not_match(tmp_path: Path) -> None:
    out = tmp_path / "imported"
    res = simbench("import-lerobot", str(FIXTURES / "act_vae_2cam"), f"out={out}", "variants=[fp32]")
    assert res.returncode == 0, res.stderr
    line = error_line(
        simbench(
            "run",
            "+policy=onnx",
            f"policy.model_path={out / 'model.onnx'}",
            "episodes=1",
            f"results_dir={tmp_path / 'r'}",
        )
    )
    assert "does not match env=teabag_mug" in line
    assert "camera 'wrist'" in line and "camera top is 48x64 in the model, 96x128 in teabag_mug" in line
    assert not (tmp_path / "r").exists()


def test_scene_runs_a_model_that_matches(tmp_path: Path) -> None:
    path = contract_model(tmp_path / "m.onnx", cameras={"top": (96, 128), "gripper": (96, 128)}, chunk=30)
    res = simbench(
        "run",
        "+policy=onnx",
        f"policy.model_path={path}",
        "policy.name=mine",
        "episodes=1",
        "env.time_limit_s=2",
        "latency=constant",
        "latency.value=0.1",
        f"results_dir={tmp_path / 'r'}",
        "plots=false",
        "progress=false",
    )
    assert res.returncode == 0, res.stderr
    (run,) = (tmp_path / "r" / "runs").iterdir()
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["inference_count"] >= 5 and metrics["policy"] == "onnx"


def test_eval_scores_a_user_model_beside_a_shipped_one(tmp_path: Path) -> None:
    """``eval act_fp32 onnx=FILE``: the onnx option's chunk size and action size are read from FILE
    (set before the option resolves), and the model is scored on the same starts, paired."""
    path = contract_model(tmp_path / "m.onnx", cameras={"top": (96, 128), "gripper": (96, 128)}, chunk=30)
    out = tmp_path / "eval.json"
    res = simbench("eval", "act_int8", f"onnx={path}", "--episodes", "1", "--json", str(out))
    assert res.returncode == 0, res.stderr
    rows = json.loads(out.read_text())["policies"]
    assert set(rows) == {"act_int8", f"onnx={path}"}
    mine = rows[f"onnx={path}"]
    assert mine["episodes"] == 1 and 0.0 <= mine["success_rate"] <= 1.0
