"""Episode records of identical runs agree once machine-dependent timings (top-level and in plan_log) are stripped."""

import itertools
import types

import harness.engine.episode
from harness.engine.episode import run_episode, strip_timing
from harness.engine.episodes import make_episodes
from harness.protocols import PlannerOptions
from harness.registry import PLANNERS, POLICIES, SUITES


def _run(episode, task, suite) -> dict:
    planner = PLANNERS.build("vla_mean", options=PlannerOptions(n_samples=4, subgoal_every=1))
    return run_episode(suite.make_env(task), POLICIES.build("greedy"), planner, episode, 12, True)


def test_sampling_planner_runs_are_identical_after_stripping(monkeypatch):
    suite = SUITES.build("toy_reach")
    task = suite.tasks()[0]
    episode = make_episodes([task], 1, 0)[0]
    records = []
    for speed in (1, 7):  # the second run's planner is "slower": its time_s values differ
        clock = itertools.count(0.0, 0.001 * speed)
        monkeypatch.setattr(harness.engine.episode, "time", types.SimpleNamespace(perf_counter=lambda c=clock: next(c)))
        records.append(_run(episode, task, suite))
    first, second = records
    assert first["error"] is None and first["decisions"] == 12
    assert [d["time_s"] for d in first["plan_log"]] != [d["time_s"] for d in second["plan_log"]]
    assert strip_timing(first) == strip_timing(second)
    assert "time_s" not in strip_timing(first)["plan_log"][0] and "wall_s" not in strip_timing(first)


def test_strip_timing_removes_nested_planner_timings_only():
    record = {
        "key": "0:0",
        "wall_s": 1.5,
        "worker_pid": 7,
        "plan_log": [{"n": 64, "wm_segments": 2, "time_s": 0.3, "wm_s": 0.2, "chosen": [1, 2]}],
    }
    assert strip_timing(record) == {"key": "0:0", "plan_log": [{"n": 64, "wm_segments": 2, "chosen": [1, 2]}]}
    assert record["plan_log"][0]["time_s"] == 0.3  # the input is left as it was
