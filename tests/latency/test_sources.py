"""Latency sources: seeded, parameterised as documented, and loud about bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from simbench.errors import ConfigError
from simbench.latency.factory import make_latency
from simbench.latency.trace import TraceLatency

IMX95 = {"name": "device_profile", "jitter": 0.05, "scale": 1.0, "profiles": {"act_fp32": 2.86, "act_int8": 0.32}}


def draws(cfg: dict, policy: str = "act_int8", n: int = 4000, seed: int = 0) -> np.ndarray:
    src = make_latency(cfg, policy)
    rng = np.random.default_rng(seed)
    return np.array([src.draw(rng, 0.0).total for _ in range(n)])


def test_same_seed_same_draws() -> None:
    cfg = {"name": "lognormal", "median": 0.3, "sigma": 0.2}
    np.testing.assert_array_equal(draws(cfg, seed=3), draws(cfg, seed=3))
    assert not np.array_equal(draws(cfg, seed=3), draws(cfg, seed=4))


def test_distribution_parameters() -> None:
    assert np.all(draws({"name": "constant", "value": 0.25}) == 0.25)
    normal = draws({"name": "normal", "mean": 0.3, "std": 0.03, "min": 0.0})
    assert normal.mean() == pytest.approx(0.3, abs=0.003) and normal.std() == pytest.approx(0.03, rel=0.05)
    logn = draws({"name": "lognormal", "median": 0.3, "sigma": 0.1})
    assert np.median(logn) == pytest.approx(0.3, rel=0.01)
    uni = draws({"name": "uniform", "low": 0.2, "high": 0.4})
    assert uni.min() >= 0.2 and uni.max() <= 0.4 and uni.mean() == pytest.approx(0.3, abs=0.005)


def test_imx95_profile_is_chosen_by_policy_name_and_scaled() -> None:
    assert np.median(draws(IMX95, "act_fp32")) == pytest.approx(2.86, rel=0.01)
    assert np.median(draws(IMX95, "act_int8")) == pytest.approx(0.32, rel=0.01)
    assert np.median(draws({**IMX95, "scale": 2.0}, "act_int8")) == pytest.approx(0.64, rel=0.01)
    with pytest.raises(ConfigError, match="act_fp32"):
        make_latency(IMX95, "smolvla_fp32")


def test_trace_csv_and_parquet_with_components(tmp_path: Path) -> None:
    csv = tmp_path / "t.csv"
    csv.write_text("backbone,transformer\n0.1,0.2\n0.3,0.4\n")
    src = TraceLatency(csv)
    rng = np.random.default_rng(0)
    totals = {round(src.sample(rng), 9) for _ in range(50)}
    assert totals == {0.3, 0.7}
    times = src.draw(rng, 123.0)  # a trace ignores the measured call
    assert times.components is not None and set(times.components) == {"backbone", "transformer"}
    assert times.total == pytest.approx(sum(times.components.values()))
    pq.write_table(pa.table({"latency_s": [0.5, 0.6]}), tmp_path / "t.parquet")
    assert make_latency({"name": "trace", "path": str(tmp_path / "t.parquet")}, "x").sample(rng) in (0.5, 0.6)


@pytest.mark.parametrize(
    "cfg",
    [
        {"name": "constant", "value": -1},
        {"name": "uniform", "low": 0.5, "high": 0.1},
        {"name": "lognormal", "median": 0, "sigma": 0.1},
        {"name": "trace", "path": "/no/such/file.csv"},
        {"name": "constant", "value": 0.1, "scale": 0},
        {"name": "nope"},
    ],
)
def test_bad_parameters_raise_one_line(cfg: dict) -> None:
    with pytest.raises(ConfigError) as err:
        make_latency(cfg, "act_int8")
    assert "\n" not in str(err.value)


def test_every_imx95_profile_says_whether_its_figure_is_published_or_predicted() -> None:
    """conf/device/imx95.yaml (pulled into latency=imx95) lists each shipped variant exactly once: published
    (its median is a figure), predicted (its anchor's figure rescaled by the device model) or no_network."""
    from simbench.config.build import graphs_of, load_option

    cfg = load_option("latency", "imx95")
    assert cfg is not None
    published, predicted, none = cfg["published"], cfg["predicted"], cfg["no_network"]
    assert not set(published) & set(predicted) and not set(none) & (set(published) | set(predicted))
    assert set(published) | set(none) == set(cfg["profiles"]) and "assumed" not in cfg
    assert {"act_fp16", "act_int4", "act_int8_dynamic", "act_mixed"} <= set(predicted)
    for name, anchor in predicted.items():
        assert anchor in published and name.split("_")[0] == anchor.split("_")[0]
    for name in [*cfg["profiles"], *predicted]:
        node = load_option("policy", name)
        assert node is not None
        d = make_latency(cfg, name, graphs_of=graphs_of(node)).describe()
        kind = "published" if name in published else "predicted" if name in predicted else "no_network"
        assert d["kind"] == kind
        if kind == "predicted":  # the anchor's figure times the device model's ratio on the shipped graphs
            assert d["median_s"] == pytest.approx(cfg["profiles"][d["anchor"]] * d["ratio"]) and d["median_s"] > 0
            assert all(len(sha) == 64 for sha in d["graphs"].values())
        else:
            assert d["median_s"] == cfg["profiles"][name]
    assert make_latency(cfg, "act_int8").describe()["figure"] == published["act_int8"]
    assert make_latency(cfg, "act_int8").describe()["source"] == "nxp-imx95.md"
    # latency=imx95 is the device's data and nothing else: the same as Hydra composes it
    from simbench.config.compose import compose_dict

    assert compose_dict("config", ["+policy=act_int8"])["latency"] == cfg
    assert {k: v for k, v in cfg.items() if k not in ("name", "scale")} == load_option("device", "imx95")


def test_describe_of_every_source_kind(tmp_path: Path) -> None:
    assert make_latency({"name": "constant", "value": 0.25}, "x").describe() == {
        "kind": "distribution",
        "name": "constant",
        "value": 0.25,
    }
    assert make_latency({"name": "uniform", "low": 0.1, "high": 0.2, "scale": 3.0}, "x").describe() == {
        "kind": "distribution", "name": "uniform", "low": 0.1, "high": 0.2, "scale": 3.0}
    assert make_latency({"name": "host", "scale": 0.5}, "x").describe()["kind"] == "host"
    assert make_latency({"name": "host", "scale": 0.5}, "x").describe()["scale"] == 0.5
    # a profile added by an override says so
    d = make_latency({**IMX95, "profiles": {"mine": 0.4}}, "mine").describe()
    assert d["kind"] == "override" and d["median_s"] == 0.4
    trace = tmp_path / "t.csv"
    trace.write_text("latency_s\n0.1\n0.2\n0.3\n")
    src = make_latency({"name": "trace", "path": str(trace)}, "x")
    assert src.describe() == {"kind": "trace", "path": str(trace), "rows": 3, "column": "latency_s", "components": []}
    # a board trace's record beside it (written by ``hil measure``) names the board and the model
    trace.with_suffix(".json").write_text(json.dumps({"kind": "simbench.hil.measure", "board_summary": "imx95-evk",
                                                      "model_sha256": "ab" * 32}))
    src = make_latency({"name": "trace", "path": str(trace)}, "x")
    assert src.describe()["board"] == "imx95-evk" and src.describe()["model_sha256"] == "ab" * 32


def test_one_draw_contract_scales_components_and_measures_host(tmp_path: Path) -> None:
    """Every source answers draw(rng, measured_s): a scaled trace scales its components, host scales the call."""
    csv = tmp_path / "t.csv"
    csv.write_text("vision,expert\n0.1,0.2\n")
    times = make_latency({"name": "trace", "path": str(csv), "scale": 3.0}, "x").draw(np.random.default_rng(0), 0.0)
    assert times.total == pytest.approx(0.9)
    assert times.components == pytest.approx({"vision": 0.3, "expert": 0.6})
    host = make_latency({"name": "host", "scale": 2.0}, "x")
    assert host.draw(np.random.default_rng(0), 0.25).total == 0.5
    const = make_latency({"name": "constant", "value": 0.4}, "x").draw(np.random.default_rng(0), 9.0)
    assert const.total == 0.4 and const.components is None
