"""``import-lerobot`` on the committed LeRobot fixtures: the fp32 ONNX reproduces LeRobot's own
``predict_action_chunk`` + postprocessor (stored in reference.npz) to 1e-4; variants and metadata
are written; a checkpoint that does not load strictly is refused in one line."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")

from simbench.byo.import_lerobot import ImportSettings, import_checkpoint
from simbench.byo.lerobot_checkpoint import load_checkpoint
from simbench.errors import ConfigError
from simbench.policies.chunk_contract import read_contract
from simbench.policies.onnx_model import load_session
from tests.byo.helpers import FIXTURES, error_line
from tests.run_cli import simbench

CASES = {"act_vae_2cam": (["top", "wrist"], 6, 10), "act_novae_1cam": (["front"], 14, 8)}


@pytest.fixture(scope="module", params=sorted(CASES))
def imported(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path, dict]:
    out = tmp_path_factory.mktemp("import") / request.param
    report = import_checkpoint(FIXTURES / request.param, ImportSettings(out=out))
    return request.param, out, report


def test_fp32_matches_lerobot_outputs(imported: tuple[str, Path, dict]) -> None:
    name, out, _ = imported
    ref = np.load(FIXTURES / name / "reference.npz")
    contract = read_contract(out / "model.onnx")
    session = load_session(out / "model.onnx", 1)
    got = np.concatenate(
        [
            session.run([contract.output], {s.name: ref[s.key][i : i + 1] for s in contract.inputs})[0]
            for i in range(len(ref["action"]))
        ]
    )
    assert got.shape == ref["action"].shape
    assert np.abs(got - ref["action"]).max() <= 1e-4
    assert ref["action"].std(axis=0).mean() > 1e-3  # the outputs depend on the inputs: the check means something


def test_metadata_and_variants(imported: tuple[str, Path, dict]) -> None:
    name, out, report = imported
    cameras, state_dim, chunk = CASES[name]
    contract = read_contract(out / "model.onnx")
    assert [s.camera for s in contract.images] == cameras and contract.state_dim == state_dim
    assert contract.chunk_size == chunk and contract.fps is None and len(contract.action_names or ()) == state_dim
    assert contract.metadata["simbench.source_sha256"] == load_checkpoint(FIXTURES / name).sha256
    assert all(s.dtype == "uint8" and s.layout == "NHWC" for s in contract.images)
    for variant in ("fp16", "int8_dynamic"):
        c = read_contract(out / f"model_{variant}.onnx")
        assert c.precision == variant and c.chunk_size == chunk
        assert report["variants"][variant]["error_vs_fp32"]["max_abs"] < 0.5
    assert report["parity_max_abs_diff"] <= 1e-4
    assert (
        json.loads((out / "import_report.json").read_text())["source_sha256"]
        == contract.metadata["simbench.source_sha256"]
    )


def test_missing_weight_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "ckpt"
    shutil.copytree(FIXTURES / "act_novae_1cam" / "pretrained_model", bad)
    from simbench.byo.lerobot_checkpoint import read_safetensors

    weights = read_safetensors(bad / "model.safetensors")
    weights.pop("model.action_head.bias")
    _write_safetensors(bad / "model.safetensors", weights)
    with pytest.raises(ConfigError, match="missing.*action_head.bias"):
        import_checkpoint(bad, ImportSettings(out=tmp_path / "out"))
    assert not (tmp_path / "out").exists()


def test_cli_writes_model_and_refuses_bad_input(tmp_path: Path) -> None:
    res = simbench(
        "import-lerobot", str(FIXTURES / "act_novae_1cam"), f"out={tmp_path / 'm'}", "variants=[fp32]", "fps=30"
    )
    assert res.returncode == 0, res.stderr
    assert "python -m simbench run +policy=onnx" in res.stdout
    assert read_contract(tmp_path / "m" / "model.onnx").fps == 30.0
    assert "holds files" in error_line(
        simbench("import-lerobot", str(FIXTURES / "act_novae_1cam"), f"out={tmp_path / 'm'}")
    )
    assert "needs calibration" in error_line(
        simbench("import-lerobot", str(FIXTURES / "act_novae_1cam"), f"out={tmp_path / 'n'}", "variants=[int8]")
    )
    assert not (tmp_path / "n").exists()


def _write_safetensors(path: Path, tensors: dict[str, np.ndarray]) -> None:
    import struct

    header, offset, blobs = {}, 0, []
    for name, array in tensors.items():
        data = np.ascontiguousarray(array, np.float32).tobytes()
        header[name] = {"dtype": "F32", "shape": list(array.shape), "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        blobs.append(data)
    raw = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + b"".join(blobs))
