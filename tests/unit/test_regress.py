import json
from types import SimpleNamespace

import pytest

from harness.analysis.comparability import run_identity
from harness.errors import HarnessError
from harness.regress import comparability_problems, compare, load_summary, split_alpha
from harness.engine.results import summarize
from tests.unit.test_comparability import CONFIG as COMPARABILITY_CONFIG

CONFIG = {**COMPARABILITY_CONFIG, "tasks": None, "workers": 0}


def _identity(tids, suite="toy_reach", **changes):
    tasks = [SimpleNamespace(task_id=t, name=f"reach_{t}", max_steps=40) for t in tids]
    return run_identity({**CONFIG, **changes}, SimpleNamespace(name=suite, headline="success_once"), tasks)


def _summary(counts, suite="toy_reach", config=True, **changes):
    """counts: {task_id: (successes, n)} -> a real summary built by harness.engine.results.summarize."""
    records, index = [], 0
    for tid, (s, n) in counts.items():
        for i in range(n):
            records.append(
                {
                    "index": index,
                    "key": f"{tid}:{i}",
                    "task_id": tid,
                    "task": f"reach_{tid}",
                    "success": i < s,
                    "success_once": i < s,
                    "success_at_end": i < s,
                    "steps": 5,
                    "error": None,
                    "metrics": {},
                }
            )
            index += 1
    identity = _identity(list(counts), suite, **changes) if config else None
    return summarize(records, suite, "success_once", expected=len(records), config=identity)


def _write(tmp_path, name, summary):
    path = tmp_path / name
    path.write_text(json.dumps(summary))
    return path


def test_compare_flags_only_significant_drops():
    base = _summary({0: (45, 50), 1: (40, 50)})
    same = compare(base, _summary({0: (44, 50), 1: (41, 50)}), margin=0.05, alpha=0.05)
    assert [row.test.verdict for row in same] == ["inconclusive", "inconclusive", "inconclusive"]
    worse = compare(base, _summary({0: (10, 50), 1: (40, 50)}), margin=0.05, alpha=0.05)
    assert worse[0].test.verdict == "regression" and worse[1].test.verdict != "regression"
    assert worse[-1].label.startswith("overall") and worse[-1].run == {"rate": 0.5, "n": 100, "tasks": 2}


def test_overall_is_task_standardised_not_pooled():
    """Simpson's paradox: pooled episodes (210/220 vs 202/210) look non-inferior although task 0 collapsed
    from 95% to 20%; the task-averaged rate (97.5% -> 60%) shows the regression."""
    base = _summary({0: (190, 200), 1: (20, 20)})
    run = _summary({0: (2, 10), 1: (200, 200)})
    overall = compare(base, run, margin=0.05, alpha=0.05)[-1]
    assert overall.test.diff == pytest.approx(0.6 - 0.975)
    assert overall.test.verdict == "regression"


def test_alpha_is_split_between_overall_and_task_family():
    assert split_alpha(0.05, 4) == (0.025, 0.00625)
    assert split_alpha(0.05, 1) == (0.05, 0.05)  # one task: the overall row is the same test
    rows = compare(_summary({0: (45, 50), 1: (40, 50)}), _summary({0: (34, 50), 1: (40, 50)}), 0.05, 0.05)
    assert [r.alpha for r in rows] == [0.0125, 0.0125, 0.025]
    # task 0 (45/50 -> 34/50) was a regression at the old per-task level alpha / K = 0.025; at alpha / (2 K)
    # it is inconclusive: the other alpha / 2 goes to the overall test, family-wise error <= alpha
    from harness.analysis.stats import non_inferiority

    assert non_inferiority(34, 50, 45, 50, 0.05, 0.025).verdict == "regression"
    assert rows[0].test.verdict == "inconclusive"


def test_compare_rejects_other_suites_and_disjoint_tasks():
    with pytest.raises(HarnessError, match="suite"):
        compare(_summary({0: (1, 2)}), _summary({0: (1, 2)}, suite="other"), 0.05, 0.05)
    with pytest.raises(HarnessError, match="no task in common"):
        compare(_summary({0: (1, 2)}), _summary({1: (1, 2)}), 0.05, 0.05)


def test_problems_name_the_differing_fields():
    base = _summary({0: (1, 2)})
    problems, _ = comparability_problems(base, _summary({0: (1, 2)}, policy="random", max_steps=10, top_k=2))
    text = "; ".join(problems)
    assert "policy ('greedy' vs 'random')" in text and "planner_options" in text
    assert "task 0 max_steps (40 vs 10)" in text
    assert comparability_problems(base, _summary({0: (1, 2)})) == ([], [])


def test_seed_and_episode_counts_may_differ_with_a_note():
    problems, notes = comparability_problems(
        _summary({0: (1, 2)}), _summary({0: (1, 2)}, seed=3, episodes_per_task=10, first_episode=5)
    )
    assert problems == [] and "seed (0 vs 3)" in notes[0] and "first_episode" in notes[0]


def test_missing_baseline_tasks_need_tasks_subset():
    base, run = _summary({0: (1, 2), 1: (1, 2)}), _summary({0: (1, 2), 2: (1, 2)})
    problems, notes = comparability_problems(base, run)
    assert problems == ["baseline tasks 1 missing from the run (--tasks-subset checks the rest)"]
    assert "run tasks 2 are not in the baseline" in notes[0]
    problems, notes = comparability_problems(base, run, tasks_subset=True)
    assert problems == [] and "--tasks-subset" in notes[0]


def test_old_summary_without_config_is_a_problem():
    problems, _ = comparability_problems(_summary({0: (1, 2)}, config=False), _summary({0: (1, 2)}))
    assert len(problems) == 1 and "python -m harness.eval --resume" in problems[0]


def test_cli_exit_codes(cli, tmp_path):
    base = _write(tmp_path, "base.json", _summary({0: (45, 50), 1: (45, 50)}))
    ok = _write(tmp_path, "ok.json", _summary({0: (46, 50), 1: (44, 50)}))
    bad = _write(tmp_path, "bad.json", _summary({0: (5, 50), 1: (44, 50)}))
    p_ok = cli("harness.regress", "--baseline", str(base), "--run", str(ok))
    assert p_ok.returncode == 0 and "no significant regression" in p_ok.stdout
    p_bad = cli("harness.regress", "--baseline", str(base), "--run", str(bad))
    assert p_bad.returncode == 1 and "REGRESSION: 0: reach_0" in p_bad.stdout
    junk = tmp_path / "junk.json"
    junk.write_text("{not json")
    p_junk = cli("harness.regress", "--baseline", str(junk), "--run", str(ok))
    assert p_junk.returncode == 2 and len(p_junk.stderr.strip().splitlines()) == 1
    assert "not a harness summary.json" in p_junk.stderr


def test_cli_refuses_mismatch_unless_allowed(cli, tmp_path):
    base = _write(tmp_path, "base.json", _summary({0: (45, 50), 1: (45, 50)}))
    other = _write(tmp_path, "other.json", _summary({0: (5, 50), 1: (44, 50)}, policy="random", max_steps=10))
    refused = cli("harness.regress", "--baseline", str(base), "--run", str(other))
    assert refused.returncode == 2 and len(refused.stderr.strip().splitlines()) == 1
    assert "not comparable" in refused.stderr and "policy" in refused.stderr and "max_steps" in refused.stderr
    allowed = cli("harness.regress", "--baseline", str(base), "--run", str(other), "--allow-mismatch")
    assert allowed.returncode == 1 and "REGRESSION" in allowed.stdout and "overall" in allowed.stdout
    assert allowed.stderr.startswith("WARNING: --allow-mismatch") and "policy" in allowed.stderr


def test_cli_old_summary_and_task_subset(cli, tmp_path):
    old = _write(tmp_path, "old.json", _summary({0: (45, 50)}, config=False))
    run = _write(tmp_path, "run.json", _summary({0: (45, 50)}))
    refused = cli("harness.regress", "--baseline", str(old), "--run", str(run))
    assert refused.returncode == 2 and "no run config" in refused.stderr and "--resume" in refused.stderr
    assert cli("harness.regress", "--baseline", str(old), "--run", str(run), "--allow-mismatch").returncode == 0
    two = _write(tmp_path, "two.json", _summary({0: (45, 50), 1: (45, 50)}))
    assert cli("harness.regress", "--baseline", str(two), "--run", str(run)).returncode == 2
    subset = cli("harness.regress", "--baseline", str(two), "--run", str(run), "--tasks-subset")
    assert subset.returncode == 0 and "not checked" in subset.stderr


def test_load_summary_accepts_a_run_dir(tmp_path):
    from harness.engine.results import RunStore

    store = RunStore.create(tmp_path, "toy_reach", "r", {"config": {}})
    store.write_summary(_summary({0: (1, 2)}))
    assert load_summary(store.run_dir)["per_task"]["0"]["successes"] == 1
    with pytest.raises(HarnessError, match="not a harness summary"):
        load_summary(_write(tmp_path, "x.json", {"suite": "s"}))
