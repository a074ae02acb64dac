"""Planners: wm_topk picks the candidates a (fake, linear) world model says are closest to the goal;
vla_mean / vla_random use the policy's samples; paired statistics match hand computations."""

from __future__ import annotations

import numpy as np
import pytest

from harness.compare import build_report, paired_tests, partial_metrics
from harness.errors import HarnessError
from harness.engine.episodes import make_episodes
from harness.protocols import PlannerOptions, TaskSpec
from harness.registry import PLANNERS
from harness.analysis.stats import mcnemar_exact
from planners.setup import check_planner_setup, unused_options
from planners.wm_topk import select_top_k
from policies.baselines import RandomPolicy
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


class TimedLadderPolicy(LadderPolicy):
    """Candidate i ramps up over time: step t of chunk i is i * t / 100, so a rollout of the first p steps
    ends at a value that depends on p (a planner scoring at the wrong time picks the wrong candidate)."""

    def sample(self, obs, n, rng):  # noqa: ANN001
        t = np.arange(self.length, dtype=np.float32)[:, None]
        return np.stack([np.repeat(i * t / 100, 4, axis=1) for i in range(n)])


def test_wm_topk_scores_the_rollout_at_exactly_the_subgoal_time():
    """p = 5 (one segment): the prediction compared with the goal is the one at step 5, from the first 5
    steps only (the review's M1: no padding, no extra segments)."""
    wm = MeanColourWorldModel()
    policy = TimedLadderPolicy(length=16)
    # candidate i over steps 0..4 adds mean(i * t / 100, t=0..4) = i * 0.02; goal 0.06 -> candidate 3
    goal = np.full((8, 8, 3), round(0.06 * 255), np.uint8)
    plan = _planner("wm_topk", n_samples=8, top_k=1, subgoal_every=5).plan(_obs(), goal, policy, wm)
    assert plan.chosen.tolist() == [3] and plan.stats["wm_segments"] == 1 and plan.actions.shape == (5, 4)
    assert select_top_k(np.array([3.0, 1.0, 1.0, 0.5]), 3).tolist() == [3, 1, 2]


def test_setup_checks_reject_bad_planner_configurations():
    wm, policy = MeanColourWorldModel(), LadderPolicy(length=16)
    policy.chunk_length = 16
    topk = _planner("wm_topk", n_samples=4, top_k=2, subgoal_every=10)
    with pytest.raises(HarnessError, match="needs a world model"):
        check_planner_setup(topk, policy, None, "subgoals", True)
    with pytest.raises(HarnessError, match="goal images"):
        check_planner_setup(topk, policy, wm, "none", True)  # no silent fallback to vla_mean
    with pytest.raises(HarnessError, match="multiple of the world model's segment"):
        check_planner_setup(_planner("wm_topk", n_samples=4, top_k=2, subgoal_every=7), policy, wm, "subgoals", True)
    with pytest.raises(HarnessError, match="exceeds the policy's predicted chunk"):
        check_planner_setup(_planner("vla_mean", subgoal_every=30), policy, None, "none", True)  # no silent cap
    with pytest.raises(HarnessError, match="scripted expert"):
        check_planner_setup(_planner("vla_mean"), policy, None, "subgoals", False)
    check_planner_setup(topk, policy, wm, "subgoals", True)  # a consistent setup passes
    with pytest.raises(HarnessError):
        PLANNERS.build("wm_topk", options=PlannerOptions(n_samples=2, top_k=3))


def test_options_a_planner_does_not_use_are_not_checked_against_it():
    """The review's M7: ``--planner vla_mean --n-samples 4`` failed because the unused --top-k defaulted to 5."""
    given = PlannerOptions(n_samples=4)
    planner = PLANNERS.build("vla_mean", options=given)
    assert planner.options.n_samples == 4 and unused_options(type(planner), given) == []
    assert unused_options(PLANNERS.get("vla_mean"), PlannerOptions(top_k=5)) == ["top_k"]
    assert PLANNERS.build("vla_random", options=PlannerOptions(n_samples=4, top_k=9)).options.subgoal_every == 10


def test_vla_mean_and_random():
    mean = _planner("vla_mean", n_samples=4, subgoal_every=6).plan(_obs(), None, LadderPolicy(), None)
    assert mean.actions.shape == (6, 4) and np.allclose(mean.actions, 0.15) and mean.stats["wm_calls"] == 0
    rand = _planner("vla_random", subgoal_every=6).plan(_obs(), None, LadderPolicy(), None)
    assert np.allclose(rand.actions, 0.0) and rand.stats["n"] == 1


def test_vla_random_draws_from_the_episode_seed():
    """Same episode seed -> same sample; another episode -> another sample (seeding exercised)."""
    policy = RandomPolicy(horizon=8)
    episodes = make_episodes([TASK], 1, 0) + make_episodes([TASK], 1, 1)

    def first_chunk(episode):  # noqa: ANN001
        planner = PLANNERS.build("vla_random", options=PlannerOptions(subgoal_every=8))
        policy.reset(episode)
        planner.reset(episode)
        return planner.plan(_obs(), None, policy, None).actions

    assert np.array_equal(first_chunk(episodes[0]), first_chunk(episodes[0]))
    assert not np.allclose(first_chunk(episodes[0]), first_chunk(episodes[1]))


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
    ci = tests[0].pop("diff_ci95")
    assert tests == [
        {"a": "A", "b": "B", "pairs": 3, "a_only": 1, "b_only": 1, "p_value": 1.0, "diff": 0.0, "p_holm": 1.0}
    ]
    assert ci[0] == pytest.approx(-ci[1]) and 0 < ci[1] < 1
    report = build_report({"A": a, "B": b}, {0: "t0", 1: "t1"}, partial_metrics("simpler_bridge"))
    overall = report["overall"]["planners"]["A"]
    assert overall["success"]["successes"] == 2 and overall["success"]["n"] == 3
    assert overall["contact"]["rate"] == pytest.approx(2 / 3) and overall["delta_f"] == pytest.approx(2.0)
    assert report["task 0: t0"]["planners"]["B"]["success"]["successes"] == 1
