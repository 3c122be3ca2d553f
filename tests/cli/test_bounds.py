"""Issue 37, classes 9, 10 and 12: every number through one validator (:mod:`simbench.bounds`), so an
absurd or malformed value is one ``error:`` line naming the key, the value and the range, exit 2,
and nothing written, for ``run``, ``hil`` and ``eval`` alike."""

from __future__ import annotations

from pathlib import Path

import pytest

from simbench import bounds
from simbench.__main__ import main
from simbench.errors import ConfigError

TIMING = ("+policy=act_int8", "env=timing", "env.duration_s=5", "plots=false", "progress=false")

RUN_BAD = [
    ("scheduler.fps=1e-300", "scheduler.fps=1e-300"),
    ("scheduler.fps=nan", "scheduler.fps=nan"),
    ("scheduler.loop_fps=1e-300", "scheduler.loop_fps=1e-300"),
    ("scheduler.loop_fps=0", "scheduler.loop_fps=0"),
    ("scheduler.actuation_delay_s=1e12", "scheduler.actuation_delay_s="),
    ("scheduler.capture_delay_s=1e300", "scheduler.capture_delay_s=1e+300"),
    ("scheduler.temporal_ensemble_m=1e308", "scheduler.temporal_ensemble_m="),
    ("+scheduler.serialize={fixed_s:0,per_byte_s:1e305,observation_bytes:1,chunk_bytes:1}",
     "scheduler.serialize.per_byte_s="),
    ("policy.pipeline=[{name:a,unit:cpu,share:7}]", "policy.pipeline[0].share=7"),
]


@pytest.mark.parametrize(("override", "needle"), RUN_BAD)
def test_absurd_run_numbers_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str], override: str,
                                        needle: str) -> None:
    results = tmp_path / "results"
    assert main(["run", *TIMING, override, f"results_dir={results}"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("error: ") and needle in err and "is not allowed" in err, err
    assert not results.exists()


@pytest.mark.parametrize("steps", ["nan", "0", "1e9"])
def test_smolvla_denoising_steps_are_bounded(tmp_path: Path, capsys: pytest.CaptureFixture[str], steps: str) -> None:
    results = tmp_path / "results"
    assert main(["run", "+policy=smolvla_fp32", "env=timing", f"policy.num_steps={steps}",
                 f"results_dir={results}"]) == 2
    assert "policy.num_steps=" in capsys.readouterr().err
    assert not results.exists()


@pytest.mark.parametrize("run_dir", ["''", "/"])
def test_a_run_dir_that_names_no_new_directory_is_refused(capsys: pytest.CaptureFixture[str], run_dir: str) -> None:
    assert main(["run", *TIMING, f"hydra.run.dir={run_dir}"]) == 2
    assert "hydra.run.dir=" in capsys.readouterr().err


def _hil_cases(tmp_path: Path) -> list[tuple[list[str], str]]:
    empty = tmp_path / "empty.onnx"
    empty.write_bytes(b"")
    text = tmp_path / "text.onnx"
    text.write_text("not a model\n")
    afile = tmp_path / "afile"
    afile.write_text("x")
    out = f"hil.out={tmp_path / 'out'}"
    return [
        (["measure", f"hil.model={empty}", out], "is an empty file"),
        (["measure", f"hil.model={text}", out], "is not an ONNX model"),
        (["measure", "+policy=act_int8", "hil.max_duration_s=1e9", out], "hil.max_duration_s="),
        (["measure", "+policy=act_int8", "board.fault=bogus", out], "board.fault='bogus'"),
        (["measure", "+policy=act_int8", "board.slowdown=abc", out], "board.slowdown='abc'"),
        (["measure", "+policy=act_int8", "board.timeout_s=nan", out], "board.timeout_s=nan"),
        (["measure", "+policy=act_int8", "hil.out=/etc/passwd"], "hil.out='/etc/passwd'"),
        (["measure", "+policy=act_int8", f"hil.out={afile / 'sub'}"], "is under a file"),
        (["link", "hil.link.fps=0", f"out={tmp_path / 'out'}"], "hil.link.fps=0"),
        (["link", "hil.link.fps=nan", f"out={tmp_path / 'out'}"], "hil.link.fps=nan"),
        (["link", "hil.link.fps=1e-300", f"out={tmp_path / 'out'}"], "hil.link.fps=1e-300"),
        (["link", f"out={afile}"], "out="),
    ]


@pytest.mark.parametrize("case", range(12))
def test_hil_bad_values_are_refused_before_connecting(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                      case: int) -> None:
    args, needle = _hil_cases(tmp_path)[case]
    assert main(["hil", *args]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("error: ") and needle in err, err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--n-action-steps", "0"], "--n-action-steps=0"),
        (["--episodes", "-1"], "--episodes=-1"),
        (["--repeats", "0"], "--repeats=0"),
        (["--json", "/etc/passwd/x.json"], "--json="),
    ],
)
def test_eval_options_are_checked_before_evaluating(capsys: pytest.CaptureFixture[str], args: list[str],
                                                    needle: str) -> None:
    assert main(["eval", "act_int8", *args]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and needle in err, err


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -1.0, 1e300, "1", True, None, 10**400])
def test_the_shared_validator_refuses_non_numbers_and_out_of_range(value: object) -> None:
    with pytest.raises(ConfigError, match=r"^k=.* is not allowed; must be >= 0 and <= 10"):
        bounds.number(value, "k", 0.0, 10.0)
    assert bounds.number(3, "k", 0.0, 10.0) == 3.0
