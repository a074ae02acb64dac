"""The held-out protocol: scene ids, what checkpoints record, the refusal before evaluation, and SIMPLER's
training-scene sampler (never an evaluation configuration)."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pytest

from harness.data.hdf5_io import DemoWriter
from harness.errors import HarnessError
from harness.engine.scenes import check_no_training_scenes, scenes_of_file, training_scenes
from tasks.simpler.scenes import is_evaluation_config, sample_training_config
from tests.tiny_data import tiny_demo, write_tiny_demos


def _checkpoint(folder: Path, scenes: list[str] | None) -> str:
    folder.mkdir(parents=True)
    data = {} if scenes is None else {"scenes": scenes}
    (folder / "config.json").write_text(json.dumps({"component": "policy", "name": "x", "data": data}))
    return str(folder)


def test_demo_files_name_their_scenes(tmp_path):
    path = write_tiny_demos(tmp_path / "d.hdf5", n=3)
    assert scenes_of_file(path) == ["d#train0", "d#train1", "d#train2"]  # no task attribute: the file's stem
    old = tmp_path / "old.hdf5"  # written before scene splits existed: an init index named a fixed init state
    writer = DemoWriter(old, "x", {"suite": "simpler_bridge", "tasks": ["t0"], "generator": "test"})
    demo = tiny_demo(5, 4)
    writer.append(replace(demo, attrs={"init_index": 4, "task": "t0"}))
    assert scenes_of_file(old) == ["t0#eval4"]
    derived = tmp_path / "mimicgen.hdf5"  # a MimicGen demo carries the scenes of its sources
    writer = DemoWriter(derived, "x", {"suite": "simpler_bridge", "tasks": ["t0"], "generator": "test"})
    attrs = {"init_index": 2, "scene_split": "train", "task": "t0", "source_scenes": json.dumps(["t0#eval4"])}
    writer.append(replace(demo, attrs=attrs))
    assert scenes_of_file(derived) == ["t0#eval4", "t0#train2"]


def test_checkpoint_scenes_include_their_parents(tmp_path):
    data = write_tiny_demos(tmp_path / "d.hdf5", n=2)
    parent = _checkpoint(tmp_path / "pre", ["other#train7"])

    @dataclass
    class Cfg:
        init: str = parent
        encoder: str = "hf:/some/vit"

    scenes = training_scenes([data], Cfg())
    assert "other#train7" in scenes and len(scenes) == 3
    unknown = training_scenes([data], Cfg(init=_checkpoint(tmp_path / "old", None)))
    assert any(s.endswith("#unknown") for s in unknown)


def test_evaluation_refuses_training_scenes(tmp_path):
    evaluated = ["put_carrot_on_plate#eval0", "put_carrot_on_plate#eval1"]
    clean = _checkpoint(tmp_path / "clean", ["put_carrot_on_plate#train0", "put_carrot_on_plate#train1"])
    assert check_no_training_scenes(evaluated, {"policy": clean}, allow=False) == []
    leaky = _checkpoint(tmp_path / "leaky", ["put_carrot_on_plate#eval1"])
    with pytest.raises(HarnessError, match="1 evaluated scene.*eval1.*--allow-train-scenes"):
        check_no_training_scenes(evaluated, {"policy": clean, "world model": leaky}, allow=False)
    warnings = check_no_training_scenes(evaluated, {"world model": leaky}, allow=True)
    assert len(warnings) == 1 and warnings[0].startswith("WARNING") and "not held-out" in warnings[0]
    unrecorded = _checkpoint(tmp_path / "unrecorded", None)
    with pytest.raises(HarnessError, match="does not record its training scenes"):
        check_no_training_scenes(evaluated, {"policy": unrecorded}, allow=False)
    actions = tmp_path / "file.npz"
    actions.write_bytes(b"")
    assert check_no_training_scenes(evaluated, {"policy": None, "world model": str(actions)}, False) == []



def test_a_home_relative_checkpoint_path_is_checked_not_skipped(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    _checkpoint(tmp_path / "leaky", ["put_carrot_on_plate#eval1"])
    with pytest.raises(HarnessError, match="eval1"):
        check_no_training_scenes(["put_carrot_on_plate#eval1"], {"policy": "~/leaky"}, allow=False)


def _carrot_grid() -> tuple[np.ndarray, np.ndarray]:
    """SIMPLER's put-carrot-on-plate evaluation grid (ManiSkill3 3.0.1, put_on_in_scene.py): 12 x 2 configs."""
    centre, half = np.array([-0.16, 0.0]), 0.075
    corners = (np.array([[0, 0], [0, 1], [1, 0], [1, 1]]) * 2 - 1) * half + centre
    xyz = np.array(
        [[[*a, 0.887529], [*b, 0.869532]] for i, a in enumerate(corners) for j, b in enumerate(corners) if i != j]
    )
    quat = np.array([[[0.0, 0.0, 0.0, 1.0], [1, 0, 0, 0]], [[0.7071, 0, 0, -0.7071], [1, 0, 0, 0]]])
    return xyz, quat


def test_simpler_training_scenes_are_in_range_but_never_evaluation_configs():
    xyz_grid, quat_grid = _carrot_grid()
    samples = [sample_training_config(xyz_grid, quat_grid, task_id=0, index=k) for k in range(300)]
    low, high = xyz_grid[..., :2].min(0), xyz_grid[..., :2].max(0)
    for xyz, quat in samples:
        assert not is_evaluation_config(xyz_grid, xyz)
        assert np.all(xyz[:, :2] >= low - 1e-12) and np.all(xyz[:, :2] <= high + 1e-12)
        assert np.linalg.norm(xyz[0, :2] - xyz[1, :2]) >= 0.15 - 1e-9  # as far apart as the closest eval config
        assert np.allclose(np.linalg.norm(quat, axis=1), 1.0)
    assert all(is_evaluation_config(xyz_grid, c) for c in xyz_grid)  # the check does recognise the grid
    again = sample_training_config(xyz_grid, quat_grid, task_id=0, index=5)
    assert np.array_equal(again[0], samples[5][0]) and np.array_equal(again[1], samples[5][1])  # deterministic
    spread = np.stack([s[0][0, :2] for s in samples])
    assert spread.std(0).min() > 0.03  # continuous coverage of the range, not a handful of points
