"""A device profile finds a policy by its name, else by its model: a shipped model copied under
another name keeps its figure (sha256 of every graph); any other model gets the device model's
prediction, and a policy without a model one line naming the options."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from simbench.config.build import graphs_of
from simbench.config.options import load_option
from simbench.errors import ConfigError
from simbench.latency.factory import make_latency
from simbench.policies.factory import model_metadata_file


def _renamed(name: str, tmp_path: Path) -> dict:
    node = load_option("policy", name)
    assert node is not None
    copy = tmp_path / f"{name}_copy.onnx"
    shutil.copyfile(model_metadata_file(node), copy)
    return {**node, "name": f"my_{name}", "model_path": str(copy)}


@pytest.mark.parametrize("shipped, kind", [("act_int8", "published"), ("act_fp16", "predicted")])
def test_a_copied_shipped_model_keeps_its_profile(shipped: str, kind: str, tmp_path: Path) -> None:
    imx95 = load_option("latency", "imx95")
    mine = _renamed(shipped, tmp_path)
    got = make_latency(imx95, mine["name"], graphs_of=graphs_of(mine)).describe()
    original = make_latency(imx95, shipped, graphs_of=graphs_of(load_option("policy", shipped))).describe()
    assert got["kind"] == kind and got["median_s"] == original["median_s"]
    assert got["matched"] == {"by": "sha256", "variant": shipped} and got["policy"] == mine["name"]


def test_another_model_is_priced_and_no_model_is_one_line(tmp_path: Path) -> None:
    imx95 = load_option("latency", "imx95")
    other = {**load_option("policy", "act_int8"), "name": "other",
             "model_path": str(model_metadata_file(load_option("policy", "act_int4")))}
    got = make_latency({**imx95, "predicted": {}}, "other", graphs_of=graphs_of(other)).describe()
    assert "matched" not in got and got["kind"] == "predicted" and got["profile"] == "imx95"
    with pytest.raises(ConfigError, match=r"^latency.profiles \(policy\)='nothing' is unknown; choose one of: act_fp32"):
        make_latency(imx95, "nothing", graphs_of=graphs_of({"name": "nothing", "runtime": "timing"}))
