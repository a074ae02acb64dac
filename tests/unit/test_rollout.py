"""The shared rollout loop: stopping rules, observe after every step, hooks, and expert goal frames."""

from __future__ import annotations

import numpy as np
import pytest

from planners.goals import GoalFrameRecorder
from harness.engine.episodes import make_episodes
from harness.registry import POLICIES, SUITES
from harness.engine.rollout import RolloutState, rollout


class CountingHook:
    def __init__(self, stop_at: int | None = None):
        self.resets, self.before, self.after, self.stop_at = 0, 0, [], stop_at

    def on_reset(self, obs):  # noqa: ANN001
        self.resets += 1

    def before_step(self, obs, action):  # noqa: ANN001
        self.before += 1

    def after_step(self, obs, info, steps):  # noqa: ANN001
        self.after.append(steps)
        return steps == self.stop_at


def _setup():  # type: ignore[no-untyped-def]
    suite = SUITES.build("toy_reach")
    task = suite.tasks()[0]
    return suite.make_env(task), make_episodes([task], 1, 0)[0]


def test_stops_at_max_steps_at_success_or_when_a_hook_asks():
    env, episode = _setup()
    still = lambda obs, steps: np.zeros((3, 2), np.float32)  # noqa: E731 - never reaches the goal
    hook, seen = CountingHook(), []
    state = rollout(env, episode, still, (), 10, True, hooks=(hook,), observe=seen.append)
    assert state.steps == 10 and state.decisions == 4 and not state.success_once  # 3 + 3 + 3 + 1
    assert hook.resets == 1 and hook.before == 10 and hook.after == list(range(1, 11)) and len(seen) == 10
    stopper = CountingHook(stop_at=4)
    assert rollout(env, episode, still, (), 10, True, hooks=(stopper,)).steps == 4
    greedy = POLICIES.build("greedy")
    state = rollout(env, episode, lambda obs, steps: greedy.act(obs), (greedy,), 200, True)
    assert state.success_once and state.info["success"] and state.steps < 200  # stopped at the first success
    assert state.flags_once == {"moved": True}


def test_errors_name_the_stage_that_failed():
    env, episode = _setup()
    state = RolloutState()

    def bad(obs, steps):  # noqa: ANN001
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        rollout(env, episode, bad, (), 5, True, state=state)
    assert state.stage == "policy"


def test_goal_targets_match_decisions_every_p_steps():
    """The decision after d * p steps targets the subgoal recorded at step (d + 1) * p; once the demonstration
    has ended (or in final mode) it targets the demonstration's last frame."""
    from planners.goals import Goals

    frames = [np.full((2, 2, 3), i, np.uint8) for i in (1, 2, 3)]  # recorded at steps 4, 8, 12
    final = np.full((2, 2, 3), 9, np.uint8)
    goals = Goals(frames=frames, every=4, final=final, demo_success=True)
    assert [int(goals.target(s)[0, 0, 0]) for s in (0, 4, 8, 12, 16)] == [1, 2, 3, 9, 9]
    assert [goals.subgoal_due_at(s) is None for s in (0, 3, 4, 8, 12, 13, 16)] == [
        True,
        True,
        False,
        False,
        False,
        True,
        True,
    ]
    assert int(goals.subgoal_due_at(8)[0, 0, 0]) == 2
    assert int(Goals(frames=frames, every=4, final=final, demo_success=True, mode="final").target(0)[0, 0, 0]) == 9


def test_goal_frames_every_p_steps_until_a_multiple_of_p_after_success():
    env, episode = _setup()
    greedy = POLICIES.build("greedy")
    recorder = GoalFrameRecorder(every=4)
    state = rollout(env, episode, lambda obs, steps: greedy.act(obs), (greedy,), 200, False, hooks=(recorder,))
    assert recorder.success and state.steps % 4 == 0 and len(recorder.frames) == state.steps // 4


class OnDemandToyEnv:
    """toy_reach whose observations carry an image only on steps where one is asked for."""

    renders_on_demand = True

    def __init__(self, env):  # noqa: ANN001
        self.env, self.spec, self.asked = env, env.spec, []

    def reset(self, *args):  # noqa: ANN002
        return self.env.reset(*args)

    def step(self, action, cameras=None):  # noqa: ANN001
        obs, info = self.env.step(action)
        self.asked.append(cameras)
        return ({k: v for k, v in obs.items() if k != "agentview_rgb" or cameras}, info)


def test_on_demand_rendering_asks_for_images_only_where_a_decision_reads_them():
    from harness.engine.render import ObservationNeeds, declared_needs

    toy, episode = _setup()
    env, seen = OnDemandToyEnv(toy), []
    chunks = iter([5, 1, 3])  # chunk lengths: the history of the 2nd decision spans two chunks
    decide = lambda obs, steps: np.zeros((next(chunks, 4), 2), np.float32)  # noqa: E731
    needs = ObservationNeeds(history=2, cameras=("agentview_rgb",))
    state = rollout(env, episode, decide, (), 13, True, observe=seen.append, needs=needs)
    cams = ("agentview_rgb",)
    # chunks 5 | 1 | 3 | 4: the last two steps of each chunk render (the 1-step chunk: its only step)
    assert env.asked == [(), (), (), cams, cams, cams, (), cams, cams, (), (), cams, cams]
    assert len(seen) == 7 and all("agentview_rgb" in o for o in seen) and state.rendered_steps == 7
    assert needs.union(ObservationNeeds(1, ("wrist_rgb",))) == ObservationNeeds(2, ("agentview_rgb", "wrist_rgb"))
    assert declared_needs(POLICIES.build("expert")) == ObservationNeeds(0, ())  # reads no camera
    assert declared_needs(object()) is None  # undeclared: every camera, every step
    # an env that cannot render on demand renders every step and the policy observes every step
    seen.clear()
    state = rollout(toy, episode, lambda obs, steps: np.zeros((4, 2), np.float32), (), 8, True, observe=seen.append,
                    needs=needs)  # fmt: skip
    assert len(seen) == 8 and state.rendered_steps == 8
