"""RoboCasa (RoboCasa 1.0.1's own kitchen code in its own venv, reached through tasks.external), on the offline
kitchen: every offline atomic task builds, steps and renders; success is False at reset and True for a forced
goal state; evaluation scenes are deterministic and differ from training scenes; the pick-and-lift partial
metrics each flip for a forced state; a task that needs RoboCasa's assets is one clear line; a real run labels
the stand-in kitchen in its manifest."""

from __future__ import annotations

import json
import subprocess

import numpy as np
import pytest

from harness.data.dataset import DemoChunkDataset
from harness.data.hdf5_io import read_demo
from harness.errors import HarnessError
from harness.registry import SUITES
from tasks.robocasa.atomic_tasks import ATOMIC_HORIZONS, OFFLINE_TASKS
from tasks.robocasa.suites import asset_source, python_env
from tests.conftest import require_simulator_venv, run_dir_of

pytestmark = pytest.mark.sim

require_simulator_venv(python_env())

ATOMIC = SUITES.build("robocasa_atomic")
PICK_LIFT = SUITES.build("robocasa_pick_lift")
STILL = np.zeros(12)
OFFLINE = asset_source()[1]


def test_horizon_table_matches_the_installed_robocasa():
    code = "from robocasa.utils.dataset_registry import ATOMIC_TASK_DATASETS as A; import json; " \
           "print(json.dumps({k: v['horizon'] for k, v in A.items()}))"  # fmt: skip
    out = subprocess.run([str(python_env().python), "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == ATOMIC_HORIZONS


@pytest.mark.skipif(not OFFLINE, reason="RoboCasa's own assets are present")
def test_offline_selection_runs_the_offline_tasks_and_refuses_the_others_in_one_line():
    assert [t.name for t in ATOMIC.select(None)] == list(OFFLINE_TASKS)
    with pytest.raises(HarnessError) as err:
        ATOMIC.select("PickPlaceCounterToSink")
    assert "download_kitchen_assets" in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize("name", OFFLINE_TASKS)
def test_offline_task_builds_steps_renders_and_scores_a_forced_goal(name):
    task = ATOMIC.select(name)[0]
    env = ATOMIC.make_env(task)
    try:
        obs = env.reset(0, 0)
        assert obs["agentview_rgb"].shape == (128, 128, 3) and obs["agentview_rgb"].std() > 5
        assert obs["wrist_rgb"].shape == (128, 128, 3) and obs["proprio"].shape == (9,)
        assert obs["agent_pos"].shape == (16,) and np.allclose(obs["agent_pos"][7:], obs["proprio"])
        assert obs["instruction"]
        obs, info = env.step(STILL, cameras=("agentview_rgb",))
        assert info["success"] is False and "agentview_rgb" in obs and "wrist_rgb" not in obs
        spec = env.call("action_spec")
        assert np.allclose(spec["low"], task.action_low) and np.allclose(spec["high"], task.action_high)
        assert env.call("force_goal")["success"] is True
    finally:
        env.close()


def test_evaluation_scenes_are_deterministic_and_differ_from_training_scenes():
    env = PICK_LIFT.make_env(PICK_LIFT.tasks()[0])
    try:
        first = env.reset(3, 0, "eval")["privileged"]
        again = env.reset(3, 7, "eval")["privileged"]
        train = env.reset(3, 0, "train")["privileged"]
        flat = lambda p: {**{k: v for k, v in p.items() if k != "objects"}, **p["objects"]}  # noqa: E731
        assert all(np.allclose(v, flat(again)[k]) for k, v in flat(first).items())
        assert not np.allclose(first["obj:obj:pos"], train["obj:obj:pos"])
    finally:
        env.close()


def test_pick_lift_partial_metrics_flip_for_forced_states():
    env = PICK_LIFT.make_env(PICK_LIFT.tasks()[0])
    try:
        env.reset(0, 0)
        _, info = env.step(STILL)
        assert not any(info[k] for k in ("success", "contact", "lifted", "src", "srl"))
        assert env.call("force_contact")["contact"] is True
        env.reset(0, 0)
        forced = env.call("force_goal")  # lifted 15 cm (S.R.L. latches), then set down 20 cm to the side
        assert forced["srl"] is True and forced["placed_back"] is True and forced["success"] is True
        assert forced["displacement_m"] >= 0.10
    finally:
        env.close()


def test_a_real_run_labels_the_stand_in_kitchen(cli, tmp_path):
    proc = cli("harness.eval", "--suite", "robocasa_pick_lift", "--policy", "random", "--out", str(tmp_path),
               "--episodes-per-task", "1", "--max-steps", "3", "--videos", "0", "--no-progress")  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    manifest = (run_dir_of(proc) / "manifest.json").read_text()
    assert ("STAND-IN kitchen" in manifest) == OFFLINE
    assert json.loads(manifest)["simulator_packages"]["mujoco"] == "3.3.1"


def _run_expert(suite, task_name: str, scenes: tuple[int, ...], max_steps: int) -> list[dict]:
    """The scripted expert on evaluation ``scenes`` of one task, render-free: the last step info of each."""
    from harness.protocols import EpisodeSpec
    from harness.registry import POLICIES

    task = suite.select(task_name)[0]
    env = suite.make_env(task, cameras=False)
    expert = POLICIES.build("expert")
    infos = []
    try:
        for scene in scenes:
            expert.reset(EpisodeSpec(index=scene, task=task, episode=scene, init_index=scene, seed=0))
            obs, info = env.reset(scene, 0), {"success": False}
            for _ in range(max_steps):
                obs, info = env.step(expert.act(obs)[0], cameras=())
                if info["success"]:
                    break
            infos.append(info)
    finally:
        env.close()
    return infos


def test_pick_lift_expert_succeeds_on_evaluation_scenes():
    for scene, info in enumerate(_run_expert(PICK_LIFT, "counter_pick_lift", (0, 1), 300)):
        assert info["success"] and info["src"] and info["srl"], (scene, info)


@pytest.mark.parametrize("name", ["OpenDrawer", "CloseDrawer"])
def test_drawer_experts_succeed_on_evaluation_scenes(name):
    # scene 14: a 1 m wide drawer whose handle starts out of the arm's reach (the expert moves the base)
    assert [info["success"] for info in _run_expert(ATOMIC, name, (0, 14), 250)] == [True, True]


def test_counter_to_drawer_expert_succeeds_on_evaluation_scenes():
    # scene 2: a 36 cm rolling pin into a 1 m wide drawer, dropped in the ~20 cm strip in front of the counter's edge
    assert [info["success"] for info in _run_expert(ATOMIC, "PickPlaceCounterToDrawer", (0, 2), 250)] == [True, True]


def test_expert_refuses_unscripted_atomic_tasks_in_one_line():
    from harness.registry import POLICIES

    with pytest.raises(HarnessError) as err:
        POLICIES.build("expert").check_tasks(ATOMIC.select("OpenCabinet"))
    assert "no scripted expert" in str(err.value) and "\n" not in str(err.value)


def test_demonstrations_are_generated_on_training_scenes(cli, tmp_path):
    out = tmp_path / "drawer.hdf5"
    proc = cli("harness.data.generate", "--suite", "robocasa_atomic", "--tasks", "CloseDrawer", "--episodes", "1",
               "--workers", "0", "--no-progress", "--image-size", "64", "--out", str(out))  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    demo = read_demo(out, "demo_0")
    steps = len(demo.actions)
    assert demo.actions.shape == (steps, 12) and demo.states.shape[0] == steps and demo.rewards[-1] == 1
    assert demo.obs["agentview_rgb"].shape == (steps, 64, 64, 3) and demo.obs["eye_in_hand_rgb"].shape[0] == steps
    assert demo.obs["ee_states"].shape == (steps, 6) and demo.obs["joint_states"].shape == (steps, 7)
    assert np.array_equal(demo.datagen["gripper_action"][:, 0], demo.actions[:, 6])  # RoboCasa's gripper entry
    assert demo.attrs["scene_split"] == "train"
    assert len(DemoChunkDataset([out], split="all", obs_horizon=2, action_horizon=4)) == steps
