import numpy as np
import pytest

from harness.engine.episode import run_episode
from harness.engine.rollout import validate_chunk
from harness.errors import EpisodeError
from harness.engine.episodes import episode_seed, make_episodes
from harness.registry import PLANNERS, POLICIES, SUITES


@pytest.fixture
def toy():
    suite = SUITES.build("toy_reach")
    task = suite.tasks()[0]
    episode = make_episodes([task], 1, 0)[0]
    return suite, task, episode


def test_validate_chunk_shapes_and_clipping(toy):
    _, _, ep = toy
    chunk, clipped = validate_chunk([0.05, -0.05], ep, "clip")
    assert chunk.shape == (1, 2) and not clipped.any()
    chunk, clipped = validate_chunk(np.array([[0.5, 0.0], [0.0, 0.0]]), ep, "clip")
    assert chunk[0, 0] == pytest.approx(0.1) and clipped.tolist() == [True, False]
    with pytest.raises(EpisodeError, match="out-of-range"):
        validate_chunk([[0.5, 0.0]], ep, "fail")
    with pytest.raises(EpisodeError, match="shape"):
        validate_chunk(np.zeros((2, 3)), ep, "clip")
    with pytest.raises(EpisodeError, match="non-finite"):
        validate_chunk([np.nan, 0.0], ep, "clip")
    with pytest.raises(EpisodeError, match="non-numeric"):
        validate_chunk("left", ep, "clip")


@pytest.mark.parametrize("fault,message", [("nan", "non-finite"), ("shape", "shape"), ("raise", "policy exploded")])
def test_bad_policy_output_is_an_error_never_a_success(toy, fault, message):
    suite, task, ep = toy
    env = suite.make_env(task)
    rec = run_episode(env, POLICIES.build(f"faulty_{fault}"), PLANNERS.build("direct"), ep, 40, True)
    assert message in rec["error"]
    assert rec["success"] is False and rec["success_once"] is False


def test_out_of_range_actions_are_clipped_and_counted(toy):
    suite, task, ep = toy
    rec = run_episode(suite.make_env(task), POLICIES.build("faulty_range"), PLANNERS.build("direct"), ep, 7, True)
    assert rec["error"] is None and rec["steps"] == 7 and rec["clipped_steps"] == 7
    rec = run_episode(
        suite.make_env(task), POLICIES.build("faulty_range"), PLANNERS.build("direct"), ep, 7, True, out_of_range="fail"
    )
    assert "out-of-range" in rec["error"] and rec["success"] is False


def test_success_once_vs_at_end_and_partial_metrics(toy):
    suite, task, _ = toy
    env = suite.make_env(task)
    eps = make_episodes([task], 10, 0)
    recs = [run_episode(env, POLICIES.build("greedy"), PLANNERS.build("direct"), ep, 40, True) for ep in eps]
    assert any(r["success"] for r in recs), "the greedy toy policy should reach some goals"
    for r in recs:
        assert r["success"] == r["success_once"]
        assert r["metrics"]["moved_once"] is True
        if r["success"]:
            assert r["steps"] <= 40 and r["success_at_end"]  # stopped at the first success
    no_stop = [
        run_episode(env, POLICIES.build("greedy"), PLANNERS.build("direct"), ep, 40, False, headline="success_at_end")
        for ep in eps
    ]
    assert all(r["steps"] == 40 for r in no_stop)


def test_episode_assignment_is_deterministic_and_distinct():
    suite = SUITES.build("toy_reach")
    a = make_episodes(suite.tasks(), 8, 5)
    b = make_episodes(suite.tasks(), 8, 5)
    assert a == b
    assert len({e.seed for e in a}) == len(a)
    assert [e.init_index for e in a[:8]] == list(range(8)) and {e.split for e in a} == {"eval"}
    assert episode_seed(5, 0, 0) != episode_seed(6, 0, 0)
    assert len(make_episodes(suite.tasks(), None, 0)) == 3 * 10  # default: every evaluation scene
    assert [e.init_index for e in make_episodes(suite.tasks()[:1], None, 0, first_episode=6)] == [6, 7, 8, 9]


@pytest.mark.parametrize("count,first", [(12, 0), (5, 6), (None, 10)])
def test_evaluation_scenes_never_wrap(count, first):
    """Asking for more episodes than a task has evaluation scenes is an error, not a silent repeat."""
    from harness.errors import HarnessError

    with pytest.raises(HarnessError, match="10 evaluation scenes"):
        make_episodes(SUITES.build("toy_reach").tasks(), count, 0, first_episode=first)


def test_task_selection_by_index_and_name():
    suite = SUITES.build("toy_reach")
    assert [t.task_id for t in suite.select("2,reach_0")] == [2, 0]
    assert len(suite.select(None)) == 3


@pytest.mark.parametrize("selector,message", [("7", "out of range"), ("reach_9", "unknown task")])
def test_bad_task_selection(selector, message):
    from harness.errors import HarnessError

    with pytest.raises(HarnessError, match=message):
        SUITES.build("toy_reach").select(selector)
