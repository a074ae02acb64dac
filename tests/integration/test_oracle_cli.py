"""``--planner oracle_topk`` on the real LIBERO simulator (a few steps): every candidate is executed from a
snapshot and the state restored exactly; a run logs true outcomes beside the world model's scores, declares
itself privileged, and ``planners.oracle_report`` summarises it; a suite that cannot branch is one line."""

from __future__ import annotations

import json

import numpy as np
import pytest

from harness.engine.episodes import make_episodes
from harness.protocols import PlannerOptions
from harness.registry import PLANNERS, SUITES
from planners.goals import Goals, positions
from policies.baselines import RandomPolicy
from tests.conftest import run_cli, run_dir_of

pytestmark = pytest.mark.sim


def test_branches_leave_the_libero_state_as_it_was():
    suite = SUITES.build("libero_object")
    task = suite.tasks()[0]
    env = suite.make_env(task)
    try:
        obs = env.reset(0, 0)
        before = env.get_state()
        frame = np.asarray(obs["agentview_rgb"])
        target = positions(obs)
        goals = Goals(frames=[frame], every=5, final=frame, demo_success=False, states=[target], final_state=target)
        planner = PLANNERS.build("oracle_topk", options=PlannerOptions(n_samples=3, top_k=1, subgoal_every=5))
        planner.reset(make_episodes([task], 1, 0)[0])
        planner.attach_simulator(env, goals)
        policy = RandomPolicy(horizon=8)
        policy.reset(make_episodes([task], 1, 0)[0])
        plan = planner.plan(obs, frame, policy, None)
        assert np.array_equal(env.get_state(), before)  # restored exactly after 3 x 5 branch steps
        assert len(plan.stats["true_distance"]) == 3 and plan.actions.shape == (5, 7)
        assert all(d > 0 for d in plan.stats["true_distance"])  # the arm moved away from where the goal froze it
        chunk = np.random.default_rng(0).uniform(-1, 1, (10, 7))
        snapshot, paths = env.snapshot(), []
        for _ in range(2):  # the same actions twice from one snapshot agree to millimetres (not bits)
            env.restore(snapshot)
            paths.append(np.stack([positions(env.step(a)[0])["ee"] for a in chunk]))
        assert np.abs(paths[0] - paths[1]).max() < 0.005
    finally:
        env.close()


def test_oracle_run_logs_truth_beside_the_world_model_and_reports(tmp_path):
    proc = run_cli(
        "harness.eval", "--suite", "libero_object", "--tasks", "0", "--episodes-per-task", "1",
        "--policy", "random16", "--planner", "oracle_topk", "--goal", "subgoals", "--world-model", "mean_colour",
        "--wm-checkpoint", "none", "--n-samples", "4", "--top-k", "2", "--subgoal-every", "5", "--max-steps", "10",
        "--workers", "0", "--videos", "0", "--out", str(tmp_path), "--no-progress",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    run_dir = run_dir_of(proc)
    record = json.loads((run_dir / "episodes.jsonl").read_text().splitlines()[0])
    assert record["error"] is None and record["decisions"] == 2
    for decision in record["plan_log"]:
        assert len(decision["true_distance"]) == len(decision["wm_scores"]) == 4
        assert decision["sim_branch_steps"] == 20 and 0.0 <= decision["topk_hit"] <= 1.0
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert any("oracle_topk reads, branches and restores" in line for line in manifest["privileged"])
    report = run_cli("planners.oracle_report", str(run_dir))
    assert report.returncode == 0, report.stderr[-2000:]
    summary = json.loads(report.stdout)
    assert summary["decisions"] == 2 and summary["world_model_decisions"] == 2 and summary["topk_hit_chance"] == 0.5


def test_oracle_refuses_a_suite_that_cannot_branch(tmp_path):
    proc = run_cli(
        "harness.eval", "--suite", "simpler_bridge", "--tasks", "0", "--episodes-per-task", "1", "--policy",
        "random16", "--planner", "oracle_topk", "--goal", "subgoals", "--out", str(tmp_path), "--no-progress",
    )  # fmt: skip
    assert proc.returncode == 2 and "cannot snapshot and restore" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and not any(tmp_path.iterdir())
