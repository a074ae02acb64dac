"""Planners: wm_topk picks the candidates a (fake, linear) world model says are closest to the goal;
vla_mean / vla_random use the policy's samples; paired statistics match hand computations."""

from __future__ import annotations

import numpy as np
import pytest

from harness.compare import build_report, paired_tests
from harness.errors import HarnessError
from harness.plan_episodes import make_episodes
from harness.protocols import PlannerOptions, TaskSpec
from harness.registry import PLANNERS
from harness.stats import mcnemar_exact
from planners.wm_topk import pad_to_segments, select_top_k
from tests.plugins import MeanColourWorldModel

TASK = TaskSpec("toy", 0, "t", "do it", 10, 1, (-1.0,) * 4, (1.0,) * 4)


class LadderPolicy:
    """Candidate i of every sample call is the constant chunk i / 10 (known in advance)."""

    def __init__(self, length: int = 10):
        self.length = length

    def reset(self, episode):  # noqa: ANN001
        pass

    def act(self, obs):  # noqa: ANN001
        return np.zeros((self.length, 4), np.float32)

    def sample(self, obs, n, rng):  # noqa: ANN001
        return np.stack([np.full((self.length, 4), i / 10, np.float32) for i in range(n)])


def _obs() -> dict:
    return {"agentview_rgb": np.zeros((8, 8, 3), np.uint8)}


def _planner(name: str, **opts):
    planner = PLANNERS.build(name, options=PlannerOptions(**opts))
    planner.reset(make_episodes([TASK], 1, 0)[0])
    return planner


def test_wm_topk_picks_the_known_best_candidates():
    wm = MeanColourWorldModel()
    # goal embedding = 0.35 * 2 segments = 0.7 in every channel -> candidates 3 and 4 (0.6, 0.8) are closest
    goal = np.full((8, 8, 3), round(0.7 * 255), np.uint8)
    plan = _planner("wm_topk", n_samples=8, top_k=2, subgoal_every=10).plan(_obs(), goal, LadderPolicy(), wm)
    assert sorted(plan.chosen.tolist()) == [3, 4]
    assert np.allclose(plan.actions, 0.35) and plan.actions.shape == (10, 4)
    assert plan.stats["wm_calls"] == 1 and plan.stats["n"] == 8 and plan.stats["k"] == 2 and wm.calls == 1
    assert plan.scores.shape == (8,) and np.argmin(plan.scores) in (3, 4)


def test_wm_topk_executes_p_steps_and_pads_rollouts_to_whole_segments():
    wm = MeanColourWorldModel()
    goal = np.zeros((8, 8, 3), np.uint8)
    plan = _planner("wm_topk", n_samples=4, top_k=1, subgoal_every=7).plan(_obs(), goal, LadderPolicy(), wm)
    assert plan.actions.shape == (7, 4) and plan.chosen.tolist() == [0]
    assert plan.stats["wm_segments"] == 2  # ceil(7 / 5)
    padded = pad_to_segments(np.arange(7, dtype=float).reshape(1, 7, 1), 5, 2)
    assert padded.shape == (1, 10, 1) and padded[0, -1, 0] == 6
    assert select_top_k(np.array([3.0, 1.0, 1.0, 0.5]), 3).tolist() == [3, 1, 2]


def test_wm_topk_needs_a_world_model_and_falls_back_without_goal():
    planner = _planner("wm_topk", n_samples=4, top_k=2)
    with pytest.raises(HarnessError, match="needs a world model"):
        planner.plan(_obs(), None, LadderPolicy(), None)
    plan = planner.plan(_obs(), None, LadderPolicy(), MeanColourWorldModel())
    assert np.allclose(plan.actions, 0.15) and "fallback" in plan.stats
    with pytest.raises(HarnessError):
        PLANNERS.build("wm_topk", options=PlannerOptions(n_samples=2, top_k=3))


def test_vla_mean_and_random():
    mean = _planner("vla_mean", n_samples=4, subgoal_every=6).plan(_obs(), None, LadderPolicy(), None)
    assert mean.actions.shape == (6, 4) and np.allclose(mean.actions, 0.15) and mean.stats["wm_calls"] == 0
    rand = _planner("vla_random", n_samples=4).plan(_obs(), None, LadderPolicy(), None)
    assert np.allclose(rand.actions, 0.0) and rand.stats["n"] == 1


def test_mcnemar_against_hand_computed_values():
    assert mcnemar_exact(0, 6) == pytest.approx(2 * 0.5**6)
    assert mcnemar_exact(1, 9) == pytest.approx(2 * 11 / 1024)
    assert mcnemar_exact(9, 1) == pytest.approx(2 * 11 / 1024)
    assert mcnemar_exact(4, 4) == 1.0 and mcnemar_exact(0, 0) == 1.0


def test_paired_report_counts_discordant_pairs():
    def rec(task: int, ep: int, ok: bool, delta: float) -> dict:
        return {"key": f"{task}:{ep}", "success": ok, "metrics": {"grasped_once": ok, "delta_f": delta}}

    a = {r["key"]: r for r in [rec(0, 0, True, 1.0), rec(0, 1, True, 2.0), rec(1, 0, False, 3.0)]}
    b = {r["key"]: r for r in [rec(0, 0, False, 1.0), rec(0, 1, True, 1.0), rec(1, 0, True, 1.0)]}
    tests = paired_tests({"A": a, "B": b}, sorted(a))
    assert tests == [{"a": "A", "b": "B", "pairs": 3, "a_only": 1, "b_only": 1, "p_value": 1.0}]
    report = build_report({"A": a, "B": b}, {0: "t0", 1: "t1"})
    overall = report["overall"]["planners"]["A"]
    assert overall["success"]["successes"] == 2 and overall["success"]["n"] == 3
    assert overall["contact"]["rate"] == pytest.approx(2 / 3) and overall["delta_f"] == pytest.approx(2.0)
    assert report["task 0: t0"]["planners"]["B"]["success"]["successes"] == 1
