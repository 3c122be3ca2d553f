"""``rerun=true``: a Rerun recording per episode that reads back with what the run did, and changes nothing."""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from simbench.__main__ import main
from simbench.metrics import WALL_CLOCK_KEYS

rerun_chunk = pytest.importorskip("rerun.chunk")

SCENE = ("+policy=act_int8", "episodes=2", "env.time_limit_s=3", "progress=false", "plots=false", "seed=3")
TIMING = ("+policy=act_int8", "env=timing", "env.duration_s=10", "progress=false", "plots=false")


def run_dir(results: Path) -> Path:
    (d,) = [p for p in (results / "runs").iterdir() if p.is_dir()]
    return d


def read(path: Path) -> tuple[Counter[str], dict[str, pd.DataFrame]]:
    """Rows per entity (temporal data only) and each entity's rows, sorted by tick."""
    rows: Counter[str] = Counter()
    frames: dict[str, list[pd.DataFrame]] = {}
    for chunk in rerun_chunk.RrdReader(path).stream().to_chunks():
        if chunk.is_static:
            continue
        rows[chunk.entity_path] += chunk.num_rows
        frames.setdefault(chunk.entity_path, []).append(chunk.to_record_batch().to_pandas())
    return rows, {k: pd.concat(v).sort_values("tick", kind="stable") for k, v in frames.items()}


def scalars(frame: pd.DataFrame) -> dict[int, float]:
    return {int(t): float(v[0]) for t, v in zip(frame["tick"], frame["Scalars:scalars"])}


@pytest.fixture(scope="module")
def scene_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The same two short scene episodes, once with rerun=true and once without."""
    out = {}
    for name, extra in (("with", ("rerun=true",)), ("without", ())):
        results = tmp_path_factory.mktemp(name)
        assert main(["run", *SCENE, *extra, f"results_dir={results}"]) == 0
        out[name] = run_dir(results)
    return out


def test_each_episode_has_a_recording_that_reads_back_as_the_run(scene_runs: dict[str, Path]) -> None:
    d = scene_runs["with"]
    episodes = pd.read_csv(d / "episodes.csv")
    timeline = pd.read_parquet(d / "timeline.parquet")
    files = sorted((d / "rerun").glob("*.rrd"))
    assert [f.name for f in files] == ["episode_000.rrd", "episode_001.rrd"]
    for i, path in enumerate(files):
        assert path.stat().st_size > 0
        reader = rerun_chunk.RrdReader(path)
        assert len(reader.recordings()) == 1 and len(reader.blueprints()) == 1
        rows, data = read(path)
        ep = episodes.iloc[i]
        tl = timeline[timeline.episode == i]
        ticks = int(ep.ticks)
        # per tick: the queue, stalls, inferences running, each joint's position (its target once one exists)
        for entity in ("/queue/length", "/robot/stalled", "/server/in_flight"):
            assert rows[entity] == ticks, entity
        stalls = tl[tl.kind == "stall"]
        before_first_action = int(stalls[stalls.start_s == 0].value.sum())  # no target yet: not drawn
        joints = ("shoulder_pan", "shoulder_lift", "elbow_flex", "wrist_flex", "wrist_roll", "gripper")
        for j in joints:
            assert rows[f"/joints/{j}/position"] == ticks
            assert rows[f"/joints/{j}/target"] == ticks - before_first_action
        assert sum(scalars(data["/robot/stalled"]).values()) == ep.stall_ticks
        # the images the policy consumed: one per camera per inference, nothing rendered besides
        for cam in ("top", "gripper", "left"):
            assert rows[f"/camera/{cam}"] == ep.inference_count
        image = data["/camera/top"]["Image:buffer"].iloc[0][0]
        assert len(image) == 96 * 128 * 3
        # events: every inference starts (and ends), every arriving chunk is merged, every stall is one event
        merges = tl[tl.kind == "merge"]
        assert rows["/events/inference"] == 2 * ep.inference_count
        assert rows["/events/chunk"] == rows["/events/merge"] == rows["/queue/merge"] == len(merges)
        assert ep.inference_count - 1 <= len(merges) <= ep.inference_count  # the last may be in flight at the end
        assert rows["/events/stall"] == ep.stall_events
        plans = {e for e in rows if e.startswith("/joints/shoulder_pan/plan/")}
        assert plans == {f"/joints/shoulder_pan/plan/{iid:04d}" for iid in merges.inference_id}
        assert all(rows[p] == 100 for p in plans)  # act_int8: 100 actions a chunk
        queue = scalars(data["/queue/length"])
        for merged_at, after in zip(merges.end_s, merges.value2):
            assert queue[round(merged_at * 60)] == after - 1  # merged, then that tick's pop


def test_metrics_are_the_same_with_and_without_the_recording(scene_runs: dict[str, Path]) -> None:
    def strip(d: Path) -> dict[str, Any]:
        m = json.loads((d / "metrics.json").read_text())
        return {k: v for k, v in m.items() if k not in WALL_CLOCK_KEYS and k != "versions"}

    assert strip(scene_runs["with"]) == strip(scene_runs["without"])
    assert pd.read_parquet(scene_runs["with"] / "timeline.parquet").equals(
        pd.read_parquet(scene_runs["without"] / "timeline.parquet"))
    assert not (scene_runs["without"] / "rerun").exists()


@pytest.mark.parametrize("scheduler", ["scheduler.aggregate=latest_only", "scheduler=sync"])
def test_a_chunk_plan_is_drawn_where_its_actions_ran(tmp_path: Path, scheduler: str) -> None:
    """With nothing blending chunks, the arm's target is the plan of the chunk merged last, tick for tick."""
    assert main(["run", *TIMING, scheduler, "rerun=true", f"results_dir={tmp_path}"]) == 0
    d = run_dir(tmp_path)
    _, data = read(d / "rerun" / "episode_000.rrd")
    tl = pd.read_parquet(d / "timeline.parquet")
    merges = tl[tl.kind == "merge"].sort_values("end_s")
    stalled = scalars(data["/robot/stalled"])
    for j in ("shoulder_pan", "gripper"):
        target = scalars(data[f"/joints/{j}/target"])
        merge_ticks = [round(t * 60) for t in merges.end_s] + [len(stalled)]
        checked = 0
        for iid, m, nxt in zip(merges.inference_id, merge_ticks, merge_ticks[1:]):
            plan = scalars(data[f"/joints/{j}/plan/{iid:04d}"])
            for tick in range(m, nxt):
                if not stalled[tick]:
                    assert plan[tick] == pytest.approx(target[tick], abs=1e-12), (iid, tick)
                    checked += 1
        assert checked > 300


def test_bad_value_is_one_line_exit_2_nothing_written(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    results = tmp_path / "results"
    assert main(["run", *TIMING, "rerun=maybe", f"results_dir={results}"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "rerun='maybe'" in err and "true" in err and "false" in err, err
    assert not results.exists()


@pytest.mark.parametrize("installed", [None, "0.20.3"])
def test_without_rerun_sdk_it_says_how_to_install(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                   monkeypatch: pytest.MonkeyPatch, installed: str | None) -> None:
    if installed is None:
        monkeypatch.setitem(sys.modules, "rerun", None)  # `import rerun` raises ImportError
    else:
        import rerun

        monkeypatch.setattr(rerun, "__version__", installed)
    results = tmp_path / "results"
    assert main(["run", *TIMING, "rerun=true", f"results_dir={results}"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("error: rerun=true needs") and "pip install" in err, err
    assert ("not installed" if installed is None else f"{installed} is installed") in err
    assert not results.exists()


def test_tick_observers_chain_and_vanish() -> None:
    from simbench.reporting.rerun_recording import tick_observers

    seen: list[tuple[str, int]] = []
    a = lambda t, q, s: seen.append(("a", t))
    b = lambda t, q, s: seen.append(("b", t))
    assert tick_observers(None, None) is None
    assert tick_observers(None, a) is a
    tick_observers(a, None, b)(7, 0, False)
    assert seen == [("a", 7), ("b", 7)]
