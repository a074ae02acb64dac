"""SIMPLER Google Robot (SIMPLER's own SAPIEN 2 envs in their own venv, reached through tasks.external): every
task builds, steps and renders through the harness; success is False at reset and True for a forced goal state;
deviation labels reach the manifest; a disabled Vulkan compatibility layer on CPU is one clear line."""

from __future__ import annotations

import json

import numpy as np
import pytest

from harness.registry import SUITES
from tasks.simpler_google import grids
from tasks.simpler_google.sim_env import has_nvidia_vulkan
from tasks.simpler_google.suites import python_env
from tests.conftest import require_simulator_venv, run_dir_of

pytestmark = pytest.mark.sim

require_simulator_venv(python_env())

SUITE = SUITES.build("simpler_google")
STILL = np.zeros(7)


def test_grids_follow_simplers_visual_matching_scripts():
    tasks = SUITE.tasks()
    assert [t.name for t in tasks][:4] == [
        "pick_coke_can_horizontal", "pick_coke_can_vertical", "pick_coke_can_standing", "move_near"
    ]  # fmt: skip
    assert [t.num_init_states for t in tasks] == [100, 100, 100, 48] + [36] * 6 + [108]
    assert [t.max_steps for t in tasks] == [80, 80, 80, 80] + [113] * 6 + [200]
    coke = grids.FAMILIES[0]
    assert grids.eval_scene(coke, 0)["reset_options"]["obj_init_options"]["init_xy"] == [-0.35, -0.02]
    assert grids.eval_scene(coke, 26) == {**grids.eval_scene(coke, 1), "urdf_version": grids.URDF_VERSIONS[1]}
    drawer = grids.eval_scene(grids.FAMILIES[4], 35)
    assert drawer["overlay"] == "open_drawer_c2.png" and drawer["urdf_version"] == grids.URDF_VERSIONS[3]
    for family in grids.FAMILIES:  # training scenes never coincide with an evaluation scene
        evals = [grids.eval_scene(family, i) for i in range(grids.num_eval_scenes(family))]
        assert all(grids.training_scene(family, k) not in evals for k in range(20))


@pytest.mark.parametrize("task_id", range(len(grids.FAMILIES)), ids=[f.name for f in grids.FAMILIES])
def test_task_builds_steps_renders_and_scores_a_forced_goal(task_id):
    env = SUITE.make_env(SUITE.tasks()[task_id])
    try:
        obs = env.reset(1, 0)
        assert obs["agentview_rgb"].shape == (512, 640, 3) and obs["agentview_rgb"].std() > 10  # overlay + scene
        assert obs["proprio"].shape == (9,) and obs["instruction"]
        obs, info = env.step(STILL)
        assert info["success"] is False and obs["agentview_rgb"].dtype == np.uint8
        space = env.call("action_space")
        assert np.allclose(space["low"], SUITE.tasks()[task_id].action_low, atol=1e-6)
        assert np.allclose(space["high"], SUITE.tasks()[task_id].action_high, atol=1e-6)
        forced = env.call("force_goal")
        assert forced["success"] is True, forced
        assert set(env.final_metrics()) >= {"success_once"}
    finally:
        env.close()


def test_a_real_run_labels_its_deviations_in_the_manifest(cli, tmp_path):
    proc = cli("harness.eval", "--suite", "simpler_google", "--tasks", "4", "--policy", "random",
               "--out", str(tmp_path), "--episodes-per-task", "1", "--max-steps", "3", "--videos", "0",
               "--no-progress")  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    manifest = json.loads((run_dir_of(proc) / "manifest.json").read_text())
    text = json.dumps(manifest)
    assert "DEVIATION stage" in text and "DEVIATION move near" in text
    assert ("DEVIATION drawer" in text) == (not has_nvidia_vulkan())


@pytest.mark.skipif(has_nvidia_vulkan(), reason="the layer is only used without an NVIDIA driver")
def test_without_the_compatibility_layer_on_cpu_the_suite_fails_with_one_line(cli, tmp_path):
    proc = cli("harness.eval", "--suite", "simpler_google", "--tasks", "0", "--policy", "random",
               "--out", str(tmp_path), "--episodes-per-task", "1", "--max-steps", "2", "--videos", "0",
               "--workers", "1", "--no-progress",
               env={"HARNESS_VULKAN_COMPAT": "0"})  # fmt: skip
    assert proc.returncode != 0
    lines = [ln for ln in proc.stderr.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and "HARNESS_VULKAN_COMPAT=0 disables it" in lines[0], proc.stderr[-2000:]
    assert not any(tmp_path.iterdir()), "a run that cannot start writes nothing"
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize(
    "task",
    [
        "pick_coke_can_vertical",
        "move_near",
        "close_bottom_drawer",
        "open_middle_drawer",
        "place_apple_in_closed_top_drawer",
    ],
)
def test_scripted_expert_solves_an_evaluation_scene(task, cli, tmp_path):
    proc = cli("harness.eval", "--suite", "simpler_google", "--tasks", task, "--policy", "expert",
               "--out", str(tmp_path), "--episodes-per-task", "1", "--first-episode", "7", "--videos", "0",
               "--no-progress")  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    (record,) = [json.loads(line) for line in (run_dir_of(proc) / "episodes.jsonl").read_text().splitlines()]
    assert record["success"] is True and record["steps"] == SUITE.select(task)[0].max_steps  # full horizon


def test_the_expert_generates_a_demonstration_on_a_training_scene(cli, tmp_path):
    import h5py

    out = tmp_path / "google.hdf5"
    proc = cli("harness.data.generate", "--suite", "simpler_google", "--tasks", "pick_coke_can_horizontal",
               "--episodes", "1", "--workers", "1", "--image-size", "32", "--out", str(out),
               "--no-progress")  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    (attempt,) = [json.loads(line) for line in out.with_name(out.name + ".attempts.jsonl").read_text().splitlines()]
    assert attempt["success"] and attempt["scene_split"] == "train" and attempt["error"] is None
    with h5py.File(out) as f:
        demo = f["data/demo_0"]
        steps = demo["actions"].shape[0]
        assert demo["actions"].shape == (steps, 7) and steps == SUITE.select("pick_coke_can_horizontal")[0].max_steps
        assert demo["obs/agentview_rgb"].shape == (steps, 32, 32, 3) and demo["states"].shape[0] == steps
        assert demo["obs/joint_states"].shape[0] == steps and "object" in demo["datagen_info/object_poses"]
        assert len(np.unique(demo["states"][:], axis=0)) > 1  # the simulator state changes over the episode
