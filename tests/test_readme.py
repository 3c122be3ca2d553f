"""The README is a user's guide whose commands work: short, no lab notebook, configs as conf/ says."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from simbench.config.build import build_run_spec
from simbench.config.compose import check_all

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def _commands(prefix: str) -> list[str]:
    """Command lines in the README's code blocks that start with ``prefix`` (continuations joined)."""
    blocks = re.findall(r"```bash\n(.*?)```", README, re.S)
    text = "\n".join(blocks).replace("\\\n", " ")
    return [line.split("#")[0].split("&&")[-1].strip() for line in text.splitlines() if prefix in line]


def test_readme_is_short_and_not_a_lab_notebook() -> None:
    assert len(README.splitlines()) <= 220
    assert "issue" not in README.lower()
    assert "git show" not in README
    assert not re.search(r"\b[0-9a-f]{7}\b", README), "commit hashes belong in docs/, not the guide"
    for page in (ROOT / "docs").glob("*.md"):
        assert "issue" not in page.read_text().lower(), page.name
    dated = sorted(p.name for p in (ROOT / "docs").glob("20[0-9][0-9]-[01][0-9]-[0-3][0-9]-*.md"))
    assert len(dated) >= 5
    index = (ROOT / "docs" / "index.md").read_text()
    assert all(name in index for name in dated)


def test_config_contract_defaults_match_conf() -> None:
    raw = OmegaConf.to_container(OmegaConf.load(ROOT / "conf" / "config.yaml").defaults)
    defaults = {k: v for d in raw if isinstance(d, dict) for k, v in d.items()}  # type: ignore[union-attr]
    for group in ("scheduler", "latency", "env"):
        row = next(line for line in README.splitlines() if line.startswith(f"| `{group}` |"))
        assert f"`{defaults[group]}` (default" in row, (group, row)


@pytest.mark.parametrize("line", _commands("python -m simbench run "))
def test_every_readme_run_command_validates(line: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each run line composes and passes validation (what runs before Hydra starts), as written."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "board.csv").write_text("latency_s\n0.3\n")  # the trace examples' files
    (tmp_path / "results/hil/act_int8").mkdir(parents=True)
    (tmp_path / "results/hil/act_int8/trace.csv").write_text("latency_s\n0.3\n")
    (tmp_path / "results/hil/link.json").write_text(  # what `hil link` writes, reduced
        '{"kind": "simbench.hil.link", "observation_bytes": 73964, "chunk_bytes": 2466, "observation_trip_s": {"samples": [1e-4]},'
        ' "chunk_trip_s": {"samples": [7e-5]}, "serialize": {"fixed_s": 0.0, "per_byte_s": 5e-10}, "loop": {"achieved_fps": 60.0}}'
    )
    if "models/my_act/model.onnx" in line:  # the bring-your-own example: any model that keeps the contract
        from tests.byo.helpers import contract_model

        (tmp_path / "models/my_act").mkdir(parents=True)
        contract_model(tmp_path / "models/my_act/model.onnx")
    argv = shlex.split(line)[4:]
    if any(a in ("-h", "--help") for a in argv):
        return
    multirun = "-m" in argv
    overrides = [a for a in argv if not a.startswith("-")]
    assert len(check_all("config", overrides, multirun, build_run_spec)) >= 1


def test_readme_shows_the_minimal_install_line_ci_runs() -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    assert "pip install -r requirements/base.txt -e . && python -m simbench run +policy=act_int8" in README
    assert 'pip install -q -r "$repo/requirements/base.txt" -e "$repo"' in ci and "+policy=act_int8 episodes=2" in ci
    assert "pip install -r requirements/dev.txt -e hil/agent" in README and "-r requirements/dev.txt -e hil/agent" in ci
    assert 'python -m pytest -m "not slow"' in README and 'python -m pytest -m "not slow"' in ci
