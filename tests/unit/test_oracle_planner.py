"""oracle_topk on a fake branchable simulator: it executes every candidate from the snapshot, picks the truly
best k, restores the state; it ranks success before progress before distance; given a world model it logs the
rank agreement; the setup check refuses suites that cannot branch; the report summarises a run."""

from __future__ import annotations

import numpy as np
import pytest

from harness.engine.episodes import make_episodes
from harness.errors import HarnessError
from harness.protocols import PlannerOptions
from harness.registry import PLANNERS
from planners.goals import Goals
from planners.oracle_report import oracle_summary
from planners.oracle_topk import state_distance, true_order
from planners.setup import check_planner_setup
from tests.plugins import MeanColourWorldModel
from tests.unit.test_planners import TASK, LadderPolicy, _obs, _planner


class LineWorld:
    """A point moving along x by the first action entry per step; success once x >= ``finish``."""

    renders_on_demand = False

    def __init__(self, finish: float = 100.0, progress_at: float | None = 2.5):
        self.x, self.finish, self.progress_at, self.steps = 0.0, finish, progress_at, 0

    def snapshot(self) -> np.ndarray:
        return np.array([self.x])

    def restore(self, state: np.ndarray) -> None:
        self.x = float(state[0])

    def step(self, action: np.ndarray) -> tuple[dict, dict]:
        self.x += float(action[0])
        self.steps += 1
        return self._obs(), {"success": self.x >= self.finish}

    def goal_progress(self) -> list[bool]:
        return [] if self.progress_at is None else [self.x > self.progress_at]

    def _obs(self) -> dict:
        return {"privileged": {"ee_pose": np.array([self.x, 0, 0, 0, 0, 0, 1.0]), "objects": {}}}


def _goals(target_x: float) -> Goals:
    frame = np.full((8, 8, 3), round(0.7 * 255), np.uint8)
    state = {"ee": np.array([target_x, 0.0, 0.0])}
    return Goals(frames=[frame], every=10, final=frame, demo_success=True, states=[state], final_state=state)


def _oracle(env: LineWorld, goals: Goals, **opts):
    planner = _planner("oracle_topk", **opts)
    planner.attach_simulator(env, goals)
    return planner


def test_oracle_executes_every_candidate_and_picks_the_truly_best():
    env = LineWorld()
    env.x = 0.0
    # candidate i moves i / 10 per step: after p = 10 steps it stands at x = i; the expert's subgoal is x = 3.5
    plan = _oracle(env, _goals(3.5), n_samples=8, top_k=2, subgoal_every=10).plan(_obs(), None, LadderPolicy(), None)
    assert sorted(plan.chosen.tolist()) == [3, 4] and np.allclose(plan.actions, 0.35)
    assert env.x == 0.0 and env.steps == 8 * 10  # every candidate ran in the simulator, then the state came back
    assert plan.stats["true_distance"] == [abs(i - 3.5) for i in range(8)]
    assert plan.stats["sim_branch_steps"] == 80 and plan.stats["true_progress_max"] == 1.0


def test_success_and_progress_outrank_distance():
    order = true_order(np.array([False, True, False]), np.array([2.0, 0.0, 1.0]), np.array([0.0, 9.0, 0.1]))
    assert order.tolist() == [1, 0, 2]
    env = LineWorld(finish=6.5)  # candidate 7 (x = 7) succeeds, far from the subgoal at 3.5
    plan = _oracle(env, _goals(3.5), n_samples=8, top_k=1, subgoal_every=10).plan(_obs(), None, LadderPolicy(), None)
    assert plan.chosen.tolist() == [7] and plan.stats["true_success"] == 1


def test_state_distance_sums_shared_positions():
    reached = {"ee": np.zeros(3), "cup": np.array([0.0, 0.3, 0.4]), "other": np.ones(3)}
    assert state_distance(reached, {"ee": np.array([1.0, 0, 0]), "cup": np.zeros(3)}) == pytest.approx(1.5)
    assert state_distance(reached, {"plate": np.zeros(3)}) == float("inf")


def test_world_model_ranking_is_compared_with_the_truth():
    wm = MeanColourWorldModel()  # predicts 0.2 i for candidate i; the goal embeds as ~0.7 (ties: rho < 1)
    goal = np.full((8, 8, 3), round(0.7 * 255), np.uint8)
    agree = _oracle(LineWorld(), _goals(3.5), n_samples=8, top_k=2, subgoal_every=10)
    stats = agree.plan(_obs(), goal, LadderPolicy(), wm).stats
    assert stats["topk_hit"] == 1.0 and stats["spearman"] > 0.9 and len(stats["wm_scores"]) == 8
    # truth: candidates 0 and 1 (distance grows with i); the world model still says 3 and 4
    disagree = _oracle(LineWorld(progress_at=None), _goals(0.0), n_samples=8, top_k=2, subgoal_every=10)
    stats = disagree.plan(_obs(), goal, LadderPolicy(), wm).stats
    assert stats["topk_hit"] == 0.0 and stats["spearman"] < 0.5


def test_oracle_needs_a_branchable_suite_and_goals():
    planner = PLANNERS.build("oracle_topk", options=PlannerOptions(n_samples=4, top_k=2, subgoal_every=10))
    policy = LadderPolicy()
    with pytest.raises(HarnessError, match="cannot snapshot") as err:
        check_planner_setup(planner, policy, None, "subgoals", True, "oracle_topk", suite_branchable=False)
    assert "\n" not in str(err.value)
    with pytest.raises(HarnessError, match="goal"):
        check_planner_setup(planner, policy, None, "none", True, "oracle_topk", suite_branchable=True)
    check_planner_setup(planner, policy, None, "subgoals", True, "oracle_topk", suite_branchable=True)
    planner.reset(make_episodes([TASK], 1, 0)[0])
    with pytest.raises(HarnessError, match="attached"):  # never silently plans without the simulator
        planner.plan(_obs(), None, policy, None)


def test_report_summarises_an_oracle_run():
    log = {"true_distance": [0.1, 0.2], "true_success": 1, "n": 8, "k": 2, "topk_hit": 0.5, "spearman": 0.25}
    records = [
        {"success": True, "plan_log": [log, {**log, "true_success": 0, "spearman": None}]},
        {"success": False, "plan_log": [{**log, "topk_hit": 0.0, "spearman": 0.75}]},
    ]
    out = oracle_summary(records)
    assert out["oracle_success"] == 1 and out["decisions"] == 3 and out["decisions_with_a_succeeding_candidate"] == 2
    assert out["spearman_mean"] == 0.5 and out["spearman_decisions"] == 2
    assert out["median_candidate_spread_m"] == pytest.approx(0.1) and out["median_true_distance_m"] == 0.15
    assert out["topk_hit_mean"] == pytest.approx(1 / 3, abs=1e-4) and out["topk_hit_chance"] == 0.25
    with pytest.raises(HarnessError, match="no oracle_topk"):
        oracle_summary([{"success": False, "plan_log": [{"n": 1}]}])
