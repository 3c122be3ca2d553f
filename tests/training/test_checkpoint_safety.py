"""Loading a checkpoint never runs code it carries; NaN never reaches a saved checkpoint (issue #25,
items 2 and 14)."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from simbench.__main__ import main as cli
from simbench.errors import ConfigError
from simbench.training.synthetic import synthetic_data, tiny_config
from simbench.training.trainer import NonFiniteLoss, TrainConfig, load_checkpoint, train


class _Payload:
    """Unpickling this calls os.system: what a crafted .pt does."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (os.system, (f"touch {self.marker}",))


def _crafted(tmp_path: Path, how: str = "torch.save") -> tuple[Path, Path]:
    """A checkpoint whose unpickling would create ``marker``: a torch zip file or a bare pickle."""
    marker = tmp_path / "pwned"
    path = tmp_path / "crafted.pt"
    payload = {"arch": "act", "config": {}, "state_dict": {}, "x": _Payload(marker)}
    if how == "torch.save":
        torch.save(payload, path)
    else:
        with path.open("wb") as f:
            pickle.dump(payload, f, protocol=2)
    with path.open("rb") as f:  # the file really is armed: a plain unpickler would run it
        assert b"system" in f.read()
    return path, marker


@pytest.mark.parametrize("how", ["torch.save", "pickle"])
def test_a_crafted_pickle_is_refused_and_runs_nothing(tmp_path: Path, how: str) -> None:
    path, marker = _crafted(tmp_path, how)
    with pytest.raises(ConfigError, match="nothing in it was run"):
        load_checkpoint(path)
    assert not marker.exists()


def test_export_of_a_crafted_checkpoint_runs_nothing_and_writes_nothing(tmp_path: Path) -> None:
    path, marker = _crafted(tmp_path)
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "simbench", "export", f"checkpoint={path}", f"out_dir={out}"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stderr
    err = proc.stderr.strip().splitlines()
    assert len(err) == 1 and "checkpoint=" in err[0] and "nothing in it was run" in err[0]
    assert not marker.exists() and not out.exists()


def test_train_init_from_a_crafted_checkpoint_runs_nothing(tmp_path: Path) -> None:
    path, marker = _crafted(tmp_path)
    with pytest.raises(ConfigError, match="init_from="):
        train(tiny_config(), TrainConfig(out_dir=str(tmp_path / "run"), steps=1, progress=False, eval_every=0,
                                         init_from=str(path)), synthetic_data())
    assert not marker.exists()


def test_a_crafted_last_pt_is_not_resumed(tmp_path: Path) -> None:
    path, marker = _crafted(tmp_path)
    last = tmp_path / "run" / "checkpoints" / "last.pt"
    last.parent.mkdir(parents=True)
    path.replace(last)
    with pytest.raises(ConfigError, match="nothing in it was run"):
        train(
            tiny_config(),
            TrainConfig(out_dir=str(tmp_path / "run"), steps=1, progress=False, eval_every=0),
            synthetic_data(),
        )
    assert not marker.exists()


def test_a_real_checkpoint_round_trips_under_weights_only(tmp_path: Path) -> None:
    cfg = TrainConfig(out_dir=str(tmp_path / "run"), steps=2, batch_size=4, val_every=1, val_batches=1, save_every=1,
                      warmup_steps=1, progress=False, eval_every=0)
    result = train(tiny_config(), cfg, synthetic_data())
    _, ckpt = load_checkpoint(result.last_path)
    assert ckpt["step"] == 2 and "optimizer" in ckpt
    cfg.steps = 3
    assert train(tiny_config(), cfg, synthetic_data()).step == 3  # resumes last.pt (weights_only)


def test_foreign_checkpoint_message_names_what_was_found(tmp_path: Path) -> None:
    path = tmp_path / "other.pt"
    torch.save({"arch": "diffusion", "state_dict": {}}, path)
    with pytest.raises(ConfigError, match="found arch='diffusion'"):
        load_checkpoint(path)
    torch.save({"weights": torch.zeros(2)}, path)
    with pytest.raises(ConfigError, match="without arch"):
        load_checkpoint(path)


@pytest.mark.parametrize("key", ["lr", "lr_backbone", "weight_decay", "grad_clip_norm"])
def test_non_finite_optimiser_values_are_refused(key: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = cli(["train", f"{key}=nan", f"out_dir={tmp_path / 'out'}", "eval_every=0"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and f"{key}=nan" in err[0]
    assert not (tmp_path / "out").exists()


def test_a_non_finite_loss_stops_training_before_saving_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from simbench.policies.act import ACTPolicy

    real = ACTPolicy.forward

    def nan_after_two(self, batch):  # type: ignore[no-untyped-def]
        loss, info = real(self, batch)
        nan_after_two.calls += 1  # type: ignore[attr-defined]
        return (loss * float("nan") if nan_after_two.calls > 2 else loss), info  # type: ignore[attr-defined]

    nan_after_two.calls = 0  # type: ignore[attr-defined]
    monkeypatch.setattr(ACTPolicy, "forward", nan_after_two)
    cfg = TrainConfig(out_dir=str(tmp_path / "run"), steps=5, batch_size=4, val_every=1, val_batches=1, save_every=1,
                      warmup_steps=1, progress=False, eval_every=0)
    with pytest.raises(NonFiniteLoss, match="training loss is nan at step 3"):
        train(tiny_config(), cfg, synthetic_data())
    _, best = load_checkpoint(tmp_path / "run" / "checkpoints" / "best.pt")
    assert all(torch.isfinite(v).all() for v in best["state_dict"].values() if v.is_floating_point())
