import subprocess
import sys
from pathlib import Path

import pytest

from harness.config import EvalConfig, parse_eval_args
from harness.engine.manifest import PROJECT_ROOT as ROOT
from harness.errors import HarnessError
from harness.registry import PLANNERS, POLICIES, SUITES, Registry


def test_duplicate_names_raise():
    reg: Registry = Registry("thing")
    reg.register("a")(lambda: 1)
    with pytest.raises(ValueError, match="duplicate"):
        reg.register("a")(lambda: 2)


def test_unknown_name_lists_choices():
    with pytest.raises(HarnessError, match="unknown policy 'nope'; choose from: .*random"):
        POLICIES.get("nope")


def test_builtin_components_are_registered():
    assert {"random", "noop", "replay"} <= set(POLICIES.names())
    assert "direct" in PLANNERS.names()
    assert {
        "libero_spatial",
        "libero_object",
        "libero_goal",
        "libero_long",
        "libero_10",
        "libero_90",
        "simpler_bridge",
    } <= set(SUITES.names())


def test_parse_all_documented_flags():
    cfg, given = parse_eval_args(
        [
            "--suite",
            "libero_goal",
            "--tasks",
            "0,put_the_bowl_on_the_stove",
            "--episodes-per-task",
            "3",
            "--policy",
            "noop",
            "--checkpoint",
            "ck",
            "--planner",
            "direct",
            "--workers",
            "2",
            "--seed",
            "7",
            "--max-steps",
            "9",
            "--videos",
            "0",
            "--out",
            "o",
            "--resume",
            "r",
        ]
    )
    assert cfg == EvalConfig(
        suite="libero_goal",
        tasks="0,put_the_bowl_on_the_stove",
        episodes_per_task=3,
        policy="noop",
        checkpoint="ck",
        planner="direct",
        workers=2,
        seed=7,
        max_steps=9,
        videos=0,
        out="o",
        resume="r",
    )
    assert {"suite", "workers", "resume"} <= given and "out_of_range" not in given


@pytest.mark.parametrize(
    "args,message",
    [
        (["--episodes-per-task", "0"], "--episodes-per-task must be >= 1"),
        (["--workers", "-1"], "--workers must be >= 0"),
        (["--max-steps", "0"], "--max-steps must be >= 1"),
        (["--out-of-range", "ignore"], "--out-of-range must be clip or fail"),
    ],
)
def test_bad_values_raise_one_line_errors(args, message):
    with pytest.raises(HarnessError, match=message):
        parse_eval_args(args)


def test_malformed_flag_is_one_line_and_exit_2():
    proc = subprocess.run([sys.executable, "-m", "harness.eval", "--workers", "two"], capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "invalid int value" in proc.stderr


def test_config_roundtrip():
    cfg = EvalConfig(suite="x", seed=3)
    assert EvalConfig.from_dict(cfg.to_dict()) == cfg


def test_default_policy_uses_the_suites_shipped_checkpoint():
    from types import SimpleNamespace

    from harness.defaults import resolve_policy
    from harness.engine.manifest import PROJECT_ROOT

    suite = SimpleNamespace(default_policy="diffusion", default_checkpoint="policies/checkpoints/x")
    assert resolve_policy(suite, None, None) == ("diffusion", str(PROJECT_ROOT / "policies/checkpoints/x"))
    assert resolve_policy(suite, None, "/mine") == ("diffusion", "/mine")
    assert resolve_policy(suite, "random", None) == ("random", None)
    plain = SimpleNamespace(default_policy="expert", default_checkpoint=None)
    assert resolve_policy(plain, None, None) == ("expert", None)


def test_planner_flags_are_validated():
    from harness.config import EvalConfig

    with pytest.raises(HarnessError, match="top-k"):
        PLANNERS.build("wm_topk", options=EvalConfig(n_samples=4, top_k=5).validate().planner_options())
    with pytest.raises(HarnessError, match="--n-samples must be >= 1"):
        EvalConfig(n_samples=0).validate()
    with pytest.raises(HarnessError, match="--goal"):
        EvalConfig(goal="maybe").validate()
    assert EvalConfig(n_samples=8, top_k=2, subgoal_every=4).planner_options().top_k == 2


def test_world_model_resolution_uses_what_the_suite_ships():
    from harness.defaults import resolve_world_model

    toy = SUITES.build("toy_reach")  # ships no world model
    with pytest.raises(HarnessError, match="needs --wm-checkpoint DIR .*ships world models: none"):
        resolve_world_model(toy, "lac_wm", None, wanted=True)
    with pytest.raises(HarnessError, match="names no world model"):
        resolve_world_model(toy, None, "some/dir", wanted=False)
    assert resolve_world_model(toy, None, None, wanted=True) == (None, None)  # the planner setup then refuses
    assert resolve_world_model(toy, "lac_wm", "some/dir", wanted=False) == ("lac_wm", "some/dir")

    libero = SUITES.build("libero_object")
    shipped = dict(libero.world_models)
    assert list(shipped)[0] == "lac_wm" and "eac_wm" in shipped
    name, folder = resolve_world_model(libero, None, None, wanted=True)
    assert name == "lac_wm" and Path(folder) == ROOT / shipped["lac_wm"] and (Path(folder) / "config.json").is_file()
    assert resolve_world_model(libero, "eac_wm", None, wanted=False) == ("eac_wm", str(ROOT / shipped["eac_wm"]))
    assert resolve_world_model(libero, None, None, wanted=False) == (None, None)  # vla_* alone: no world model
    assert resolve_world_model(toy, None, folder, wanted=False) == ("lac_wm", folder)  # named by its config.json


def test_first_episode_starts_a_new_batch_of_distinct_episodes():
    from harness.engine.episodes import make_episodes

    task = SUITES.build("toy_reach").tasks()[0]
    first = make_episodes([task], 3, 0)
    later = make_episodes([task], 3, 0, first_episode=3)
    assert [e.episode for e in later] == [3, 4, 5] and [e.init_index for e in later] == [3, 4, 5]
    assert {e.key for e in first}.isdisjoint(e.key for e in later)
    assert [e.seed for e in make_episodes([task], 6, 0)[3:]] == [e.seed for e in later]


@pytest.mark.parametrize("suite_name", sorted(set(SUITES.names())))
def test_declared_default_checkpoints_are_shipped_and_held_out(suite_name):
    """A suite that declares a default checkpoint resolves to it when no --policy is given; the folder is in
    the repository, loads as its policy's checkpoint, and was trained on training scenes only."""
    import json

    from harness.defaults import resolve_policy
    from harness.engine.manifest import PROJECT_ROOT

    suite = SUITES.build(suite_name)
    if suite.default_checkpoint is None:
        assert resolve_policy(suite, None, None) == (suite.default_policy, None)
        return
    folder = PROJECT_ROOT / suite.default_checkpoint
    assert resolve_policy(suite, None, None) == (suite.default_policy, str(folder))
    assert (folder / "model.safetensors").is_file() and (folder / "config.json").is_file()
    meta = json.loads((folder / "config.json").read_text())
    assert meta["name"] == suite.default_policy
    scenes = meta["data"]["scenes"]
    assert scenes and all("#train" in s for s in scenes)
    assert (folder / "measured.json").is_file(), "a shipped default records its measured result"


@pytest.mark.parametrize("suite_name", sorted(set(SUITES.names())))
def test_shipped_world_models_load_for_the_suites_robot_and_are_held_out(suite_name):
    """Every world model a suite ships is in the repository, builds for the suite's robot, was trained on
    training scenes only (its frame encoder too), and records its held-out quality."""
    import json

    from planners.setup import build_world_model

    suite = SUITES.build(suite_name)
    for name, relative in suite.world_models:
        folder = ROOT / relative
        meta = json.loads((folder / "config.json").read_text())
        assert meta["name"] == name and meta["component"] == "world_model"
        model = build_world_model(name, str(folder), suite)
        assert model.embodiment == suite.embodiment and model.segment == 5
        encoder = ROOT / meta["config"]["encoder"]
        encoder_scenes = json.loads((encoder / "config.json").read_text())["data"]["scenes"]
        for scenes in (meta["data"]["scenes"], encoder_scenes):
            assert scenes and all("#train" in s for s in scenes)
        measured = json.loads((folder / "measured.json").read_text())
        assert measured["world_model"] == name and measured["mean"]["embedding_l2_copy_last_frame"] > 0
