"""Real LIBERO (robosuite 1.4 / MuJoCo) envs: build, step, render, success logic, determinism."""

import json

import numpy as np
import pytest

from harness.registry import SUITES
from tests.conftest import comparable, run_dir_of

pytestmark = pytest.mark.sim


@pytest.fixture(scope="module")
def drawer_env():
    suite = SUITES.build("libero_goal")
    task = suite.select("open_the_middle_drawer_of_the_cabinet")[0]
    env = suite.make_env(task)
    yield env
    env.close()


def test_suites_list_official_tasks():
    counts = {
        name: len(SUITES.build(name).tasks())
        for name in ("libero_spatial", "libero_object", "libero_goal", "libero_long", "libero_90")
    }
    assert counts == {"libero_spatial": 10, "libero_object": 10, "libero_goal": 10, "libero_long": 10, "libero_90": 90}
    limits = {name: SUITES.build(name).tasks()[0].max_steps for name in counts}
    assert limits == {
        "libero_spatial": 220,
        "libero_object": 280,
        "libero_goal": 300,
        "libero_long": 520,
        "libero_90": 400,
    }
    assert SUITES.build("libero_10").name == "libero_long"  # alias of the same suite
    assert SUITES.build("libero_10").tasks() == SUITES.build("libero_long").tasks()


def test_reset_step_render_and_success_logic(drawer_env):
    obs = drawer_env.reset(0, 0)
    assert obs["agentview_rgb"].shape == (128, 128, 3) and obs["agentview_rgb"].dtype == np.uint8
    assert obs["wrist_rgb"].shape == (128, 128, 3) and obs["agentview_rgb"].std() > 5  # a real rendered scene
    assert obs["proprio"].shape == (9,) and obs["instruction"] == "open the middle drawer of the cabinet"
    obs2, info = drawer_env.step(np.zeros(7))
    assert info["success"] is False and not drawer_env.check_success()
    assert drawer_env.final_metrics()["goal_fraction"] == 0.0
    # Set the simulator state so the goal holds: the middle drawer pulled open (LIBERO: open when qpos < -0.14).
    sim = drawer_env.sim
    addr = sim.model.get_joint_qpos_addr("wooden_cabinet_1_middle_level")
    sim.data.qpos[addr] = -0.15
    sim.forward()
    assert drawer_env.check_success()
    _, info = drawer_env.step(np.array([0, 0, 0, 0, 0, 0, -1.0]))
    assert info["success"] is True and drawer_env.final_metrics()["goal_fraction"] == 1.0


def test_fixed_init_states_are_used_and_reproducible(drawer_env):
    a = drawer_env.reset(0, 0)["agentview_rgb"]
    b = drawer_env.reset(1, 0)["agentview_rgb"]
    c = drawer_env.reset(0, 123)["agentview_rgb"]
    assert not np.array_equal(a, b)
    assert np.array_equal(a, c)


def _fixture_placements(env) -> np.ndarray:
    """model.body_pos and body_quat of every fixture's root body [F, 7]: they live in the model, not the state."""
    model, inner = env.sim.model, env.raw_env.env
    ids = [model.body_name2id(fixture.root_body) for fixture in inner.fixtures_dict.values()]
    return np.concatenate([model.body_pos[ids], model.body_quat[ids]], axis=1)


def test_a_scene_does_not_depend_on_the_resets_before_it():
    """Evaluation and training scenes, fixtures included, are the same whatever the process reset before: LIBERO's
    property samplers (here the open top drawer's) piled up at every rebuild and shifted the fixtures' placement by
    millimetres (libero_spatial task 4: 3.7 mm between two consecutive resets of scene 5)."""
    suite = SUITES.build("libero_spatial")
    env = suite.make_env(suite.tasks()[4], cameras=False)
    try:
        assert env.raw_env.env.object_property_initializers  # the task has a property sampler: the test can fail
        scenes = [("eval", 5), ("eval", 4), ("train", 0)]
        first = {}
        for split, index in scenes + scenes[::-1]:
            env.reset(index, 0, split)
            placed = (_fixture_placements(env), env.get_state())
            expected = first.setdefault((split, index), placed)
            assert np.array_equal(placed[0], expected[0]) and np.array_equal(placed[1], expected[1]), (split, index)
        assert not np.array_equal(first[("eval", 5)][0], first[("eval", 4)][0])  # the placement is per scene
    finally:
        env.close()


def test_cli_runs_are_identical_for_same_seed_and_1_vs_2_workers(cli, tmp_path):
    args = [
        "--suite",
        "libero_object",
        "--tasks",
        "0",
        "--episodes-per-task",
        "2",
        "--max-steps",
        "4",
        "--policy",
        "random",
        "--videos",
        "1",
        "--no-progress",
        "--seed",
        "11",
    ]
    one = cli("harness.eval", *args, "--workers", "1", "--out", str(tmp_path))
    two = cli("harness.eval", *args, "--workers", "2", "--out", str(tmp_path))
    assert one.returncode == 0 and two.returncode == 0, one.stderr + two.stderr
    recs = [
        comparable([json.loads(x) for x in (run_dir_of(p) / "episodes.jsonl").read_text().splitlines()])
        for p in (one, two)
    ]
    assert recs[0] == recs[1] and len(recs[0]) == 2 and all(r["steps"] == 4 and r["error"] is None for r in recs[0])
    assert (run_dir_of(one) / "videos" / "task00_ep000.mp4").stat().st_size > 1000


def _teleport_onto_targets(env) -> None:
    """Put every pick-and-place goal object just above its target (region site or object), at rest."""
    priv = env.obs_from_state(env.get_state())["privileged"]
    sim = env.sim
    for _, obj, target in [g for g in priv["goal"] if g[0] in ("in", "on")]:
        spot = priv["sites"][target] if target in priv["sites"] else priv["objects"][target][:3]
        xyzw = priv["objects"][obj][3:]
        sim.data.set_joint_qpos(f"{obj}_joint0", np.r_[spot[:2], spot[2] + 0.06, xyzw[3], xyzw[:3]])
        sim.data.qvel[:] = 0
    sim.forward()


@pytest.mark.parametrize(
    "suite_name,task", [("libero_spatial", 0), ("libero_object", 1), ("libero_long", 0), ("libero_90", 9)]
)
def test_each_suite_builds_steps_and_detects_a_goal_state(suite_name, task):
    from tasks.libero.env import LiberoTaskEnv

    spec = SUITES.build(suite_name).tasks()[task]
    env = LiberoTaskEnv(spec, cameras=False)  # success logic does not need cameras; rendering is tested above
    obs = env.reset(0, 0)
    assert obs["proprio"].shape == (9,) and not env.check_success()
    _, info = env.step(np.zeros(7))
    assert info["success"] is False
    _teleport_onto_targets(env)
    for _ in range(15):  # let the objects drop and settle onto their targets
        _, info = env.step(np.array([0, 0, 0, 0, 0, 0, -1.0]))
    env.close()
    assert info["success"] is True


def test_training_scenes_are_fresh_placements_not_init_states(drawer_env):
    """Training scene k: the task's own placement distribution, seeded disjointly from the 50 evaluation init
    states; reproducible, different from every evaluation scene, and an evaluation scene index past 49 is
    an error (scenes never wrap)."""
    from harness.errors import HarnessError

    def state(split: str, index: int) -> np.ndarray:
        drawer_env.reset(index, 0, split)
        return drawer_env.get_state()

    train0 = state("train", 0)
    assert np.array_equal(state("train", 0), train0)
    assert not np.allclose(state("train", 1), train0)
    for i in range(3):
        assert not np.allclose(state("eval", i), train0, atol=1e-4)
    with pytest.raises(HarnessError, match="evaluation scene 50 does not exist"):
        drawer_env.reset(50, 0)


def test_a_reused_scene_gives_the_rebuilt_scenes_episode_bit_for_bit(drawer_env):
    """tasks/libero/scene_reuse.py: the gripper command and solver warm start no longer leak between episodes:
    a reused cabinet scene gives the rebuilt scene's images and simulator state, bit for bit."""
    from tasks.libero.env import LiberoTaskEnv

    reused = LiberoTaskEnv(drawer_env.spec, reuse_scene=True)
    actions = np.random.default_rng(0).uniform(-1, 1, (16, 7))
    actions[:, 6] = np.where(np.arange(16) < 8, 1.0, -1.0)  # close, then open: the gripper's command integrates
    try:
        reused.reset(0, 0)  # builds the scene
        for _ in range(5):
            reused.step(actions[0])
        episodes = []
        for env in (drawer_env, reused):
            frames = [env.reset(1, 0)] + [env.step(a)[0] for a in actions]
            episodes.append(([(o["agentview_rgb"], o["wrist_rgb"]) for o in frames], env.get_state()))
        (rebuilt, rebuilt_state), (reused_frames, reused_state) = episodes
        for (a_img, a_wrist), (b_img, b_wrist) in zip(rebuilt, reused_frames, strict=True):
            assert np.array_equal(a_img, b_img) and np.array_equal(a_wrist, b_wrist)
        assert np.array_equal(rebuilt_state, reused_state)
    finally:
        reused.close()


def test_a_reused_training_scene_matches_the_rebuilt_one():
    """Training scenes keep LIBERO's sampled object poses; objects placed in / on a fixture's site (the bowl in
    the open top drawer of libero_spatial task 4) must not depend on where the last episode put the fixture."""
    from tasks.libero.env import LiberoTaskEnv

    suite = SUITES.build("libero_spatial")
    task = suite.tasks()[4]
    rebuilt, reused = suite.make_env(task, cameras=False), LiberoTaskEnv(task, cameras=False, reuse_scene=True)
    actions = np.random.default_rng(0).uniform(-1, 1, (10, 7))
    try:
        reused.reset(0, 0)  # builds the scene and places the fixtures for evaluation scene 0
        runs = []
        for env in (rebuilt, reused):
            env.reset(3, 0, "train")
            states = [env.get_state()] + [env.step(a)[0] and env.get_state() for a in actions]
            runs.append((np.stack(states), _fixture_placements(env)))
        assert np.array_equal(runs[0][0], runs[1][0]) and np.array_equal(runs[0][1], runs[1][1])
    finally:
        rebuilt.close()
        reused.close()
