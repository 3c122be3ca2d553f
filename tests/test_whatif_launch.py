"""What-if grids in blocks through Hydra's launchers (``python -m simbench whatif``, ``whatif-merge``):
the blocks cover the grid once and merge to the in-process rows bit for bit, a launcher runs them,
complete blocks are skipped, a missing block is named, bad values end in one line."""

from __future__ import annotations

import itertools
import json
import time
from pathlib import Path

import pytest

from simbench import whatif
from simbench.__main__ import main as simbench_main
from simbench.atomic_io import finite_json, write_json
from simbench.whatif_launch import GridSpec, block_path, find_blocks, merge, read_block, run_block
from tests.cli.test_run_cli import simbench

SMALL = ("points=24", "duration_s=5")


@pytest.fixture(scope="module")
def expected_rows() -> list[dict]:
    """The whole small grid in one process (seed 0), as JSON holds it."""
    spec = GridSpec(points=24, duration_s=5.0)
    return finite_json(whatif.run_grid(spec.grid(), whatif.price(spec.policy, spec.device), spec.policy, 5.0, 1))


@pytest.mark.parametrize("n", [1, 2, 5, 7, 24])
def test_blocks_cover_the_grid_exactly_once(n: int) -> None:
    ranges = GridSpec(points=24, duration_s=5.0, blocks=n).ranges()
    assert len(ranges) == n and ranges[0][0] == 0 and ranges[-1][1] == 24
    assert all(a[1] == b[0] for a, b in itertools.pairwise(ranges))  # contiguous: each point in one block
    sizes = [stop - start for start, stop in ranges]
    assert max(sizes) - min(sizes) <= 1


def test_merged_blocks_equal_the_in_process_grid_bit_for_bit(tmp_path: Path) -> None:
    spec = GridSpec(points=24, duration_s=5.0, seed=3, blocks=5)
    for k in (4, 0, 2, 1, 3):  # any order
        run_block(spec, k, tmp_path, workers=1, command=f"test block={k}")
    found = find_blocks(tmp_path)
    assert found.missing == [] and sorted(found.records) == list(range(5))
    merge(tmp_path, found)
    rows = json.loads((tmp_path / "whatif.json").read_text())["rows"]
    same = whatif.run_grid(spec.grid(), whatif.price(), "act_fp32", 5.0, workers=2, seed=3)
    assert rows == finite_json(same)  # floats round-trip through JSON exactly
    assert (tmp_path / "pareto.png").stat().st_size > 0


def test_a_complete_block_is_skipped_an_incomplete_one_redone(tmp_path: Path) -> None:
    spec = GridSpec(points=24, duration_s=5.0, blocks=2)
    assert run_block(spec, 0, tmp_path, workers=1)[1] and run_block(spec, 1, tmp_path, workers=1)[1]
    stamp = block_path(tmp_path, 0, 2).stat().st_mtime_ns
    assert run_block(spec, 0, tmp_path, workers=1) == (block_path(tmp_path, 0, 2), False)
    assert block_path(tmp_path, 0, 2).stat().st_mtime_ns == stamp
    cut = read_block(block_path(tmp_path, 1, 2))
    write_json(block_path(tmp_path, 1, 2), {**cut, "rows": cut["rows"][:-1]})  # a block not written to the end
    assert find_blocks(tmp_path).missing == [1]
    assert run_block(spec, 1, tmp_path, workers=1)[1]
    assert find_blocks(tmp_path).missing == []


def test_joblib_runs_two_blocks_through_the_cli_and_resumes(tmp_path: Path, expected_rows: list[dict]) -> None:
    out = tmp_path / "grid"
    args = ("whatif", "-m", "block=0,1", "blocks=2", *SMALL, f"out={out}", "hydra/launcher=joblib",
            "hydra.launcher.n_jobs=2")
    first = simbench(*args)
    assert first.returncode == 0, first.stderr[-2000:]
    assert json.loads((out / "whatif.json").read_text())["rows"] == expected_rows
    assert (out / "pareto.png").is_file() and "Pareto front" in first.stdout
    record = read_block(block_path(out, 1, 2))
    assert record["launcher"] == "joblib" and "block=1" in record["command"] and record["versions"]["python"]
    stamps = [block_path(out, k, 2).stat().st_mtime_ns for k in (0, 1)]
    again = simbench(*args)
    assert again.returncode == 0, again.stderr[-2000:]
    assert again.stdout.count("skip (complete)") == 2
    assert [block_path(out, k, 2).stat().st_mtime_ns for k in (0, 1)] == stamps


def test_merge_names_the_missing_block(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = GridSpec(points=24, duration_s=5.0, blocks=3)
    run_block(spec, 1, tmp_path, workers=1)
    assert simbench_main(["whatif-merge", str(tmp_path)]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "2 of 3 blocks missing" in err and "block=0, 2" in err
    assert not (tmp_path / "whatif.json").exists()
    assert simbench_main(["whatif-merge", str(tmp_path / "nothing")]) == 2
    assert capsys.readouterr().err.startswith("error: DIR=")


@pytest.mark.parametrize(("overrides", "named"), [
    (["block=2", "blocks=2"], "block=2"),
    (["block=-1", "blocks=2"], "block=-1"),
    (["block=x", "blocks=2"], "block='x'"),
    (["blocks=0"], "blocks=0"),
    (["blocks=25"], "blocks=25"),
    (["blocks=two"], "blocks='two'"),
    (["-m", "block=0,1", "blocks=2", "points=24,48"], "sweep block= only"),
])
def test_bad_block_values_end_in_one_line_and_write_nothing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], overrides: list[str], named: str) -> None:
    out = tmp_path / "grid"
    assert simbench_main(["whatif", *SMALL, f"out={out}", *overrides]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("error: ") and named in err, err
    assert not out.exists()


def test_a_directory_holds_one_grid(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run_block(GridSpec(points=24, duration_s=5.0, blocks=2), 0, tmp_path, workers=1)
    assert simbench_main(["whatif", *SMALL, "blocks=3", "block=0", f"out={tmp_path}"]) == 2
    assert "holds blocks of another grid (block_0_of_2.json)" in capsys.readouterr().err


@pytest.mark.slow
def test_submitit_local_runs_the_blocks(tmp_path: Path, expected_rows: list[dict]) -> None:
    out = tmp_path / "grid"
    t0 = time.perf_counter()
    done = simbench("whatif", "-m", "block=0,1", "blocks=2", *SMALL, f"out={out}", "hydra/launcher=submitit_local")
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads((out / "whatif.json").read_text())["rows"] == expected_rows
    assert read_block(block_path(out, 0, 2))["launcher"] == "submitit_local"
    assert len(list((out / "hydra" / ".submitit").glob("*/*_result.pkl"))) == 2  # one submitit task per block
    print(f"submitit_local, 2 blocks: {time.perf_counter() - t0:.1f} s")
