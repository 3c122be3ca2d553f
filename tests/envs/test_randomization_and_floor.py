"""The mug's floor catches a dropped bag on every solver version, and env.randomize is seeded and paired."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import mujoco
import numpy as np
import pytest

from simbench.envs.randomization import Randomization
from simbench.envs.teabag_mug import TeaBagMugEnv
from simbench.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def _release_trace():
    spec = importlib.util.spec_from_file_location("release_trace", ROOT / "benchmarks" / "release_trace.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def test_the_bag_meets_the_floor_as_boxes_and_the_base_only_meets_the_table() -> None:
    model = mujoco.MjModel.from_xml_path(str(ROOT / "scenes" / "teabag_mug.xml"))
    base, floor, pouch, table = (model.geom(n) for n in ("mug_base", "mug_floor0", "pouch", "table"))

    def collide(a, b) -> bool:
        return bool((a.contype[0] & b.conaffinity[0]) or (b.contype[0] & a.conaffinity[0]))

    assert not collide(base, pouch) and collide(base, table)
    assert collide(floor, pouch) and not collide(floor, table)
    assert floor.type[0] == mujoco.mjtGeom.mjGEOM_BOX and model.geom("mug_floor1").type[0] == mujoco.mjtGeom.mjGEOM_BOX
    # the floor's top is where the success check puts it (the base's top)
    assert floor.pos[2] + floor.size[2] == pytest.approx(base.pos[2] + base.size[1])


def test_dropped_bags_land_in_the_mug(capsys: pytest.CaptureFixture[str]) -> None:
    """Small version of ``benchmarks/release_trace.py drops`` (150 drops: 150 in on MuJoCo 4.0.0 and 4.0.1;
    the old cylinder floor: 147 and 127)."""
    _release_trace().drops(30, ["boxes"])
    assert "boxes floor: 30 of 30 tilted drops end in the mug, 0 wedged, 0 out" in capsys.readouterr().out


def test_a_fixed_perturbation_scales_the_scene_and_the_next_episode_restores_it() -> None:
    env = TeaBagMugEnv(cameras=(), randomize=Randomization.parse({"friction": [1.1, 1.1], "gains": [0.9, 0.9]}))
    nominal = TeaBagMugEnv(cameras=())
    env.reset(seed=1, options={"cluster": 3})
    pouch = env.model.body("pouch").id
    assert np.allclose(env.model.geom_friction[:, 0], 1.1 * nominal.model.geom_friction[:, 0])
    assert np.allclose(env.model.actuator_gainprm[:, 0], 0.9 * nominal.model.actuator_gainprm[:, 0])
    assert env.model.body_mass[pouch] == nominal.model.body_mass[pouch]
    assert env.drawn["friction"] == pytest.approx(1.1)
    env.randomize = None
    env.reset(seed=1, options={"cluster": 3})
    assert np.array_equal(env.model.geom_friction, nominal.model.geom_friction) and env.drawn == {}
    # what MuJoCo derived from the masses at compile time is back too (contact softness depends on it)
    assert np.array_equal(env.model.body_invweight0, nominal.model.body_invweight0)


def test_a_lighter_bag_gets_the_constants_of_a_lighter_bag() -> None:
    """A drawn mass without MuJoCo's derived constants recomputed made a 10% lighter bag unstable
    (the expert's success fell from 12/12 to 5/12 on four clusters); with them it behaves as a scene
    compiled with that mass."""
    env = TeaBagMugEnv(cameras=(), randomize=Randomization.parse({"pouch_mass": [0.9, 0.9]}))
    env.reset(seed=1, options={"cluster": 3})
    spec = mujoco.MjSpec.from_file(str(ROOT / "scenes" / "teabag_mug.xml"))
    spec.body("pouch").first_geom().mass = 0.9 * 0.003
    compiled = spec.compile()
    pouch = compiled.body("pouch").id
    assert env.model.body_mass[pouch] == pytest.approx(compiled.body_mass[pouch])
    assert env.model.body_invweight0[pouch] == pytest.approx(compiled.body_invweight0[pouch], rel=1e-6)


def test_draws_are_seeded_and_the_start_is_unchanged() -> None:
    spec = Randomization.parse({"friction": [0.8, 1.2], "pouch_mass": [0.5, 2.0], "camera_m": 0.01})
    env, plain = TeaBagMugEnv(cameras=(), randomize=spec), TeaBagMugEnv(cameras=())
    env.reset(seed=7, options={"cluster": 4, "start_index": 1})
    first = dict(env.drawn)
    cams = env.model.cam_pos.copy()
    plain.reset(seed=7, options={"cluster": 4, "start_index": 1})
    assert env.start == plain.start  # paired: the same bag and mug placement
    assert 0.8 <= first["friction"] <= 1.2 and 0.5 <= first["pouch_mass"] <= 2.0
    assert 0 < first["camera_offset_m"] <= 0.01
    env.reset(seed=8, options={"cluster": 4, "start_index": 1})
    assert env.drawn != first
    env.reset(seed=7, options={"cluster": 4, "start_index": 1})
    assert env.drawn == first and np.array_equal(env.model.cam_pos, cams)


@pytest.mark.parametrize(
    ("node", "needle"),
    [
        ({"friction": [1.2, 0.8]}, "env.randomize.friction"),
        ({"friction": 1.1}, "env.randomize.friction"),
        ({"gains": [0.0, 1.0]}, "env.randomize.gains"),
        ({"camera_m": -0.01}, "env.randomize.camera_m"),
        ({"colour": [1, 1]}, "env.randomize.colour"),
    ],
)
def test_bad_ranges_name_their_key(node: dict, needle: str) -> None:
    with pytest.raises(ConfigError, match=needle.replace(".", r"\.")):
        Randomization.parse(node)


def test_a_randomized_run_is_reproducible_and_records_its_draws(tmp_path: Path) -> None:
    def run(out: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "simbench", "run", "+policy=act_int8", "episodes=2", "progress=false", "plots=false",
             "latency=constant", "latency.value=0.05", f"results_dir={out}",
             "env.randomize={friction:[0.9,1.1],pouch_mass:[0.9,1.1],gains:[0.9,1.1],lighting:[0.8,1.2],camera_m:0.01}"],
            capture_output=True, text=True, timeout=300, check=False,
        )

    a, b = run(tmp_path / "a"), run(tmp_path / "b")
    assert a.returncode == 0 and b.returncode == 0, a.stderr[-2000:]
    metrics = []
    for root in (tmp_path / "a", tmp_path / "b"):
        (d,) = (root / "runs").iterdir()
        m = json.loads((d / "metrics.json").read_text())
        # wall-clock keys and provenance aside (``versions`` says whether the tree was edited meanwhile)
        metrics.append({k: v for k, v in m.items() if k not in ("realtime_factor", "wall_time_s", "versions")})
        header = (d / "episodes.csv").read_text().splitlines()[0]
        assert "randomized_friction" in header and "randomized_camera_offset_m" in header
    assert metrics[0] == metrics[1]
    assert len(metrics[0]["success_interval95"]) == 2


def test_a_bad_range_on_the_command_line_is_one_line_exit_2(tmp_path: Path) -> None:
    r = subprocess.run([sys.executable, "-m", "simbench", "run", "+policy=act_int8", f"results_dir={tmp_path}",
                        "env.randomize={friction:[2,1]}"], capture_output=True, text=True, timeout=120, check=False)
    assert r.returncode == 2 and r.stderr.strip().startswith("error: env.randomize.friction")
    assert "Traceback" not in r.stderr and not (tmp_path / "runs").exists()
