"""harness.eval refuses, before creating a run dir, to evaluate a checkpoint on its own training scenes."""

from __future__ import annotations

import json

from tests.conftest import run_dir_of

BASE = ["--suite", "toy_reach", "--tasks", "0", "--episodes-per-task", "3", "--workers", "0", "--no-progress"]


def _checkpoint(tmp_path, scenes):  # type: ignore[no-untyped-def]
    folder = tmp_path / "ckpt"
    folder.mkdir()
    (folder / "config.json").write_text(
        json.dumps({"component": "policy", "name": "greedy", "data": {"scenes": scenes}})
    )
    return str(folder)


def test_eval_refuses_training_scenes_unless_allowed(cli, tmp_path):
    out = tmp_path / "runs"
    ckpt = _checkpoint(tmp_path, ["reach_0#train0", "reach_0#eval2"])
    refused = cli("harness.eval", *BASE, "--policy", "greedy", "--checkpoint", ckpt, "--out", str(out))
    assert refused.returncode == 2 and "reach_0#eval2" in refused.stderr and "--allow-train-scenes" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1 and not out.exists()  # one line, nothing written
    allowed = cli(
        "harness.eval", *BASE, "--policy", "greedy", "--checkpoint", ckpt, "--out", str(out), "--allow-train-scenes"
    )
    assert allowed.returncode == 0, allowed.stderr
    assert "WARNING" in allowed.stderr
    manifest = json.loads((run_dir_of(allowed) / "manifest.json").read_text())
    assert manifest["config"]["allow_train_scenes"] is True and "not held-out" in manifest["scene_warnings"][0]


def test_eval_on_held_out_scenes_runs_and_more_episodes_than_scenes_is_an_error(cli, tmp_path):
    ckpt = _checkpoint(tmp_path, ["reach_0#train0", "reach_0#train1"])
    ok = cli("harness.eval", *BASE, "--policy", "greedy", "--checkpoint", ckpt, "--out", str(tmp_path / "r"))
    assert ok.returncode == 0, ok.stderr
    records = [json.loads(x) for x in (run_dir_of(ok) / "episodes.jsonl").read_text().splitlines()]
    assert sorted(r["init_index"] for r in records) == [0, 1, 2]
    wrap = cli("harness.eval", *BASE[:4], "--episodes-per-task", "11", "--workers", "0", "--out", str(tmp_path / "w"))
    assert wrap.returncode == 2 and "10 evaluation scenes" in wrap.stderr and not (tmp_path / "w").exists()


def test_planner_misconfiguration_fails_before_the_run_dir(cli, tmp_path):
    out = tmp_path / "runs"
    no_wm = cli("harness.eval", *BASE, "--planner", "wm_topk", "--goal", "none", "--out", str(out))
    assert no_wm.returncode == 2 and "needs a world model" in no_wm.stderr
    wm = ["--world-model", "mean_colour", "--wm-checkpoint", "x"]
    no_goal = cli("harness.eval", *BASE, "--planner", "wm_topk", *wm, "--out", str(out))
    assert no_goal.returncode == 2 and "goal images" in no_goal.stderr
    options = ["--n-samples", "4", "--top-k", "5", "--subgoal-every", "1"]
    mean = cli("harness.eval", *BASE, "--planner", "vla_mean", *options, "--out", str(out))
    assert mean.returncode == 0, mean.stderr  # the unused --top-k is not checked against vla_mean
    assert "does not use --top-k" in mean.stderr
    assert not any(p.name.startswith("2") and "wm_topk" in p.name for p in (out / "toy_reach").iterdir())


def test_compare_refuses_planners_that_decide_at_different_times(cli, tmp_path):
    proc = cli(
        "harness.compare", "--suite", "toy_reach", "--tasks", "0", "--episodes-per-task", "2", "--goal", "none",
        "--planners", "vla_mean,mean_every3", "--workers", "0", "--out", str(tmp_path),
    )  # fmt: skip
    assert proc.returncode == 2 and "vla_mean p=10, mean_every3 p=3" in proc.stderr and not any(tmp_path.iterdir())


def test_sampling_flags_a_policy_does_not_take_are_noted_and_left_out_of_the_run_identity(cli, tmp_path):
    flags = ["--policy-sample-noise", "0.3", "--policy-sample-noise-kind", "chunk"]
    proc = cli("harness.eval", *BASE, "--policy", "noop", *flags, "--out", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert "does not use --policy-sample-noise" in proc.stderr
    run = run_dir_of(proc)
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["config"]["policy_sample_noise"] is None and manifest["config"]["policy_sample_noise_kind"] is None
    assert json.loads((run / "summary.json").read_text())["config"]["policy_sampling"] is None
