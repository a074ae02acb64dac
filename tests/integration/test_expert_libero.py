"""The LIBERO scripted expert solves real tasks (render-free env for speed; few init states)."""

import pytest

from harness.engine.episode import run_episode
from harness.engine.episodes import make_episodes
from harness.registry import PLANNERS, POLICIES, SUITES

pytestmark = pytest.mark.sim


@pytest.mark.parametrize(
    "suite_name,task",
    [
        ("libero_object", "pick_up_the_alphabet_soup_and_place_it_in_the_basket"),
        ("libero_object", "pick_up_the_salad_dressing_and_place_it_in_the_basket"),
    ],
)
def test_expert_succeeds(suite_name, task):
    from tasks.libero.env import LiberoTaskEnv

    suite = SUITES.build(suite_name)
    spec = suite.select(task)[0]
    env = LiberoTaskEnv(spec, cameras=False)
    episode = make_episodes([spec], 1, 0)[0]
    rec = run_episode(env, POLICIES.build("expert"), PLANNERS.build("direct"), episode, spec.max_steps, True)
    env.close()
    assert rec["error"] is None and rec["success"] and rec["steps"] < spec.max_steps
