"""``python -m simbench record``: bad input is one line and exit 2; a tiny recording reads back."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from simbench.__main__ import main
from simbench.dataset import load_dataset


@pytest.mark.parametrize(
    "override, fragment",
    [
        ("clusters=[12]", "cluster=12"),
        ("episodes_per_cluster=-1", "episodes_per_cluster=-1"),
        ("cameras=[top,back]", "cameras='back'"),
        ("fps=7", "fps=7"),
        ("image_size=[95,128]", "image_size"),
        ("action_noise.share=2", "action_noise.share"),
        ("action_noise.tau_s=fast", "action_noise.tau_s"),
        ("episodes_per_cluster=0", "episodes_per_cluster=0"),  # allowed only with takeover episodes
        ("takeover.policy=act_fp64", "takeover.policy='act_fp64'"),
        ("takeover.switch_s=[3,1]", "takeover.switch_s"),
        ("takeover.episodes_per_cluster=-2", "takeover.episodes_per_cluster=-2"),
        ("takeover.model_path=/nonexistent/act.onnx", "/nonexistent/act.onnx"),
        ("takeover.finish_grasp=maybe", "takeover.finish_grasp='maybe'"),
    ],
)
def test_bad_input_one_line_exit_2(
    override: str, fragment: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["record", f"output={tmp_path / 'x'}", override]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and fragment in err
    assert not (tmp_path / "x").exists()


def test_look_bad_input_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["look", "cluster=0"]) == 2
    assert "cluster=0" in capsys.readouterr().err


def test_tiny_recording_round_trip(tmp_path: Path) -> None:
    out = tmp_path / "rec"
    cmd = [
        sys.executable,
        "-m",
        "simbench",
        "record",
        f"output={out}",
        "clusters=[4]",
        "episodes_per_cluster=2",
        "recovery_share=0.5",
        "image_size=[32,48]",
        "cameras=[top,gripper]",
        "workers=1",
        "progress=false",
        "max_tries=6",
        "action_noise.share=1.0",
        "action_noise.std_rad=0.005",
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    ds = load_dataset(out)
    summary = ds.info["simbench"]
    assert summary["kept"] + summary["slots_without_success"] == 2 and summary["kept"] == ds.num_episodes >= 1
    assert "discarded" in summary and f"{summary['kept']} episodes kept" in proc.stdout
    assert ds.cameras == ["top", "gripper"] and ds.image_shape == (32, 48, 3)
    assert set(ds.extra["recovery"]) <= {False, True}
    assert ds.extra["perturbed"].all() and summary["perturbed"] == summary["kept"]  # share 1: every episode
    assert ds.state.shape == (ds.num_frames, 6) and ds.action.shape == (ds.num_frames, 6)
    frames = ds.episode_frames("top", 0)
    assert frames.shape[0] == ds.episode_ranges[0, 1] - ds.episode_ranges[0, 0]
    assert np.isclose(ds.stats["action"]["mean"], ds.action.mean(0), atol=1e-4).all()


def test_takeover_recording(tmp_path: Path) -> None:
    """The shipped act_fp32 drives table starts; the expert's finish is what is recorded."""
    out = tmp_path / "takeover"
    cmd = [sys.executable, "-m", "simbench", "record", f"output={out}", "clusters=[4]", "episodes_per_cluster=0",
           "takeover.policy=act_fp32", "takeover.episodes_per_cluster=2", "takeover.switch_s=[1.0,2.0]",
           "image_size=[48,64]", "workers=1", "progress=false", "max_tries=4"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr
    ds = load_dataset(out)
    summary = ds.info["simbench"]
    attempts = summary["takeover"]["attempts"]
    assert summary["kept"] == ds.num_episodes == attempts.get("expert", 0) >= 1
    assert sum(attempts.values()) == summary["kept"] + summary["discarded"]
    assert (ds.extra["start"] == "takeover").all() and not ds.extra["recovery"].any()
    # Switches land on replanning points (50 ticks at 60 Hz) at or after 1 s, at most one chunk past 2 s.
    assert ((ds.extra["takeover_s"] >= 1.0 - 1e-6) & (ds.extra["takeover_s"] <= 2.0 + 50 / 60)).all()


def test_contact_sheet_has_camera_titles_and_row_labels(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    import matplotlib.axes
    import numpy as np

    from simbench.reporting.look import write_contact_sheet

    titles: list[str] = []
    ylabels: list[str] = []
    monkeypatch.setattr(matplotlib.axes.Axes, "set_title", lambda self, t, **kw: titles.append(t))
    monkeypatch.setattr(matplotlib.axes.Axes, "set_ylabel", lambda self, t, **kw: ylabels.append(t))
    tile = np.zeros((120, 160, 3), np.uint8)
    rows = [("start (t = 0.0 s)", [tile, tile]), ("grasp (t = 3.1 s)", [tile, tile])]
    write_contact_sheet(tmp_path / "sheet.png", rows, ("top", "gripper"))
    assert titles == ["camera: top", "camera: gripper"]
    assert ylabels == ["start (t = 0.0 s)", "grasp (t = 3.1 s)"]
    assert (tmp_path / "sheet.png").stat().st_size > 0
