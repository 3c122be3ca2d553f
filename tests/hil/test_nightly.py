"""The nightly regression: its statistics, its verdicts, its CLI, and the labgrid path over a local sshd."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from simbench.errors import ConfigError
from tests.byo.helpers import contract_model
from simbench.hil.nightly import (
    NightlySettings,
    board_identity,
    check_identity,
    compare,
    newcombe,
    shipped_variants,
    wilson,
)

ROOT = Path(__file__).resolve().parents[2]
RUN = ROOT / "hil" / "nightly" / "run"


def test_wilson_and_newcombe_match_published_values() -> None:
    lo, hi = wilson(0, 10, 1.959964)
    assert lo == 0.0 and hi == pytest.approx(0.2775, abs=1e-4)
    # Newcombe (1998), Stat Med 17:873, table II example (f): 56/70 vs 48/80 -> 0.0524 to 0.3339
    lo, hi = newcombe(56, 70, 48, 80, 0.95)
    assert (lo, hi) == (pytest.approx(0.0524, abs=1e-4), pytest.approx(0.3339, abs=1e-4))


def settings(tmp_path: Path) -> NightlySettings:
    return NightlySettings(
        tmp_path, "act_int8", ("act_int8", "act_fp32"), None, 200, 10, 0.5, 0.95, tmp_path / "b.json", False, 0
    )


def variant(p90: float) -> dict:
    return {"complete": True, "error": None, "p50_s": p90 / 2, "p90_s": p90, "precision": "int8"}


BASE = {
    "variants": {"act_int8": {"p90_s": 0.002}, "act_fp32": {"p90_s": 0.004}},
    "protocol": {"episodes": 30, "successes": 20},
}


def test_a_slow_variant_is_named_and_a_noisy_one_is_not(tmp_path: Path) -> None:
    regressions, rows = compare(
        {"act_int8": variant(0.0041), "act_fp32": variant(0.0055)},
        {"episodes": 30, "successes": 20},
        BASE,
        settings(tmp_path),
    )
    assert len(regressions) == 1 and regressions[0].startswith(
        "act_int8: p90 latency 4.100 ms vs baseline 2.000 ms (x2.05"
    )
    assert rows["variants"]["act_fp32"]["verdict"] == "ok" and rows["protocol"]["verdict"] == "ok"


@pytest.mark.parametrize(("successes", "regressed"), [(20, False), (16, False), (8, True), (3, True)])
def test_success_regresses_only_beyond_noise(tmp_path: Path, successes: int, regressed: bool) -> None:
    regressions, _ = compare({}, {"episodes": 30, "successes": successes}, BASE, settings(tmp_path))
    assert bool(regressions) is regressed
    if regressed:
        assert regressions[0].startswith(f"act_int8 protocol: success {successes}/30 vs baseline 20/30")


def test_the_vla_protocol_row_has_its_own_baseline_and_test(tmp_path: Path) -> None:
    """SmolVLA's protocol row: its success against the baseline's vla_protocol, the same Newcombe test."""
    s = NightlySettings(tmp_path, "act_int8", (), None, 200, 10, 0.5, 0.95, tmp_path / "b.json", False, 0,
                        vla_policy="smolvla_mixed")
    base = {**BASE, "vla_protocol": {"policy": "smolvla_mixed", "episodes": 30, "successes": 25}}
    act = {"episodes": 30, "successes": 20}
    regressions, rows = compare({}, act, base, s, {"policy": "smolvla_mixed", "episodes": 30, "successes": 22})
    assert not regressions and rows["vla_protocol"]["verdict"] == "ok" and rows["protocol"]["verdict"] == "ok"
    regressions, rows = compare({}, act, base, s, {"policy": "smolvla_mixed", "episodes": 30, "successes": 8})
    assert regressions == [r for r in regressions if r.startswith("smolvla_mixed protocol: success 8/30 vs baseline "
                                                                   "25/30")] and len(regressions) == 1
    assert rows["vla_protocol"]["verdict"] == "REGRESSION" and rows["protocol"]["verdict"] == "ok"
    # A baseline without the row (or for another VLA recipe): no verdict, never a regression.
    for b in (BASE, {**BASE, "vla_protocol": {"policy": "smolvla_int8", "episodes": 30, "successes": 25}}):
        regressions, rows = compare({}, act, b, s, {"policy": "smolvla_mixed", "episodes": 30, "successes": 0})
        assert not regressions and rows["vla_protocol"]["verdict"] == "no baseline"


def test_a_failed_measurement_is_a_regression(tmp_path: Path) -> None:
    failed = {
        "complete": False,
        "error": "board 127.0.0.1:1 closed the connection",
        "p50_s": None,
        "p90_s": None,
        "precision": None,
    }
    regressions, _ = compare({"act_int8": failed}, {"episodes": 30, "successes": 20}, BASE, settings(tmp_path))
    assert regressions == ["act_int8: measurement failed (board 127.0.0.1:1 closed the connection)"]


def test_every_shipped_variant_is_measured() -> None:
    assert shipped_variants() == ["act_fp16", "act_fp32", "act_int4", "act_int8", "act_int8_dynamic", "act_mixed",
                                  "smolvla_expert_int4", "smolvla_expert_int8", "smolvla_fp32", "smolvla_int8",
                                  "smolvla_mixed"]


def nightly(*args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(RUN), *args], capture_output=True, text=True, timeout=timeout, cwd=ROOT)


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        ((), "out=DIR is required"),
        (("nightly.variants=[act_int9]",), "nightly.variants='act_int9'"),
        (("nightly.p90_tolerance=-1",), "nightly.p90_tolerance=-1"),
        (("board=loopback", "board.slowdown=0.5"), "board.slowdown=0.5"),
        (("nightly.baseline=/nonexistent.json",), "nightly.baseline='/nonexistent.json'"),
        (("nightly.episodes=0",), "nightly.episodes=0"),
        (("nightly.vla_policy=act_int8",), "nightly.vla_policy='act_int8'"),
        (("nightly.variants=[/nonexistent/mine.onnx]",), "/nonexistent/mine.onnx is not a file"),
        (("nightly.variants=[act_int8,'act_int8=x.onnx']",), "not a shipped name"),
    ],
)
def test_bad_input_is_one_line_exit_2_nothing_written(tmp_path: Path, args: tuple[str, ...], needle: str) -> None:
    out = tmp_path / "out"
    r = nightly(*args, *([f"out={out}"] if args else []))
    assert r.returncode == 2, r.stderr
    err = r.stderr.strip()
    assert err.count("\n") == 0 and err.startswith("error: ") and needle in err, err
    assert "Traceback" not in r.stderr and not out.exists()


def test_nightly_on_loopback_passes_and_a_slowed_board_is_named(tmp_path: Path) -> None:
    """Small version of the must-show: write a baseline, compare against it (exit 0), then slow the
    loopback board down (board.slowdown=3): exit 1 naming each variant's p90."""
    base = tmp_path / "baseline.json"
    (tmp_path / "mine").mkdir()
    mine = contract_model(tmp_path / "mine" / "model.onnx")  # a user's ONNX chunk policy beside the shipped ones
    common = [
        "board=loopback",
        "nightly.episodes=1",
        "nightly.count=50",
        f"nightly.variants=[act_int8,act_int4,smolvla_mixed,{mine}]",
        f"nightly.baseline={base}",
    ]
    first = nightly(*common, "rebaseline=true", f"out={tmp_path / 'a'}")
    assert first.returncode == 0, first.stderr[-2000:]
    reports = list((tmp_path / "a").glob("nightly_*.md"))
    assert len(reports) == 1 and "verdict: **pass**" in reports[0].read_text()
    assert (tmp_path / "a" / "variants" / "act_int8" / "trace.csv").is_file()
    assert (tmp_path / "a" / "variants" / "mine" / "trace.csv").is_file() and "| mine |" in reports[0].read_text()
    text = reports[0].read_text()
    for comp in ("vision", "prefill", "expert"):  # the SmolVLA variant: a p90 per component against the baseline
        assert f"| smolvla_mixed | {comp} |" in text
    assert set(json.loads(base.read_text())["variants"]["smolvla_mixed"]["components"]) == {
        "vision", "prefill", "expert"}
    assert (tmp_path / "a" / "protocol" / "metrics.json").is_file() and (tmp_path / "a" / "nightly_p90.png").is_file()
    # The VLA's protocol row (nightly.vla_policy, default smolvla_mixed): nightly.episodes applies to it too.
    assert json.loads((tmp_path / "a" / "protocol_vla" / "metrics.json").read_text())["episodes"] == 1
    assert "## Protocol: smolvla_mixed, latency=board" in text
    assert json.loads(base.read_text())["vla_protocol"] == {
        "policy": "smolvla_mixed", "episodes": 1, "successes": json.loads(
            (tmp_path / "a" / "nightly.json").read_text())["vla_protocol"]["successes"]}
    slow = nightly(*common, "board.slowdown=3", f"out={tmp_path / 'b'}")
    assert slow.returncode == 1
    assert "REGRESSION act_int8: p90 latency" in slow.stderr and "REGRESSION act_int4: p90 latency" in slow.stderr
    assert "REGRESSION smolvla_mixed expert: p90" in slow.stderr
    report = next((tmp_path / "b").glob("nightly_*.md")).read_text()
    assert "REGRESSED" in report and "act_int8: p90 latency" in report
    recorded = json.loads(base.read_text())
    assert recorded["identity"]["cpu_model"] and recorded["versions"]["mujoco"]
    # The same baseline, as if taken on another machine: no verdict, one line naming both boards, exit 2.
    base.write_text(json.dumps({**recorded, "identity": {**recorded["identity"], "cpu_model": "Intel Xeon X"}}))
    other = nightly(*common, f"out={tmp_path / 'c'}")
    assert other.returncode == 2 and other.stderr.count("\n") == 1, other.stderr
    assert "Intel Xeon X" in other.stderr and recorded["identity"]["cpu_model"] in other.stderr
    assert "hil/nightly/run board=loopback rebaseline=true out=DIR" in other.stderr
    assert not (tmp_path / "c").exists()


def test_a_baseline_from_another_board_is_refused(tmp_path: Path) -> None:
    ident = board_identity({"cpu_model": "AMD EPYC", "cpu_cores": 2, "machine": "x86_64", "onnxruntime": "1.32.0",
                            "providers": ["CPUExecutionProvider"], "agent_version": "0.1.0"})
    check_identity({"identity": ident}, ident, settings(tmp_path))
    for theirs in (None, {**ident, "cpu_cores": 16}, {**ident, "onnxruntime": "1.31.1"}):
        with pytest.raises(ConfigError, match="rebaseline=true out=DIR"):
            check_identity({"identity": theirs}, ident, settings(tmp_path))


def test_labgrid_installs_starts_and_greets_the_agent_over_ssh(tmp_path: Path) -> None:
    """hil/nightly's board suite, run as the lab runs it (pytest --lg-env ENV -m hil), against an
    sshd on 127.0.0.1 with a generated key: labgrid's SSHDriver installs the agent, starts it, and
    the host checks its hello."""
    pytest.importorskip("labgrid")
    sys.path.insert(0, str(ROOT / "hil" / "nightly"))
    try:
        from sshd import LocalSshd, sshd_binary, write_env
    finally:
        sys.path.pop(0)
    if sshd_binary() is None:
        pytest.skip("no sshd here (.ci/run installs openssh-server)")
    sshd = LocalSshd(tmp_path / "sshd")
    port = sshd.start()
    try:
        env_file = write_env(tmp_path / "env.yaml", port, sshd.username, sshd.keyfile)
        env = {
            **os.environ,
            "LG_AGENT_PYTHON": sys.executable,
            "LG_AGENT_DIR": str(tmp_path / "board" / "simbench-agent"),
            "LG_AGENT_PORT": "0",
        }
        r = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "--lg-env",
                str(env_file),
                "-m",
                "hil",
                "-p",
                "no:cacheprovider",
                str(ROOT / "hil" / "nightly"),
            ],
            capture_output=True,
            text=True,
            timeout=300,
            cwd=ROOT,
            env=env,
        )
    finally:
        sshd.stop()
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-1000:]
    assert "3 passed" in r.stdout
    assert (tmp_path / "board" / "simbench-agent" / "simbench_agent" / "server.py").is_file()
