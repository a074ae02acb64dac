import json

import pytest

from harness.errors import HarnessError
from harness.regress import compare, load_summary
from harness.results import summarize


def _summary(counts, suite="toy_reach"):
    """counts: {task_id: (successes, n)} -> a real summary built by harness.results.summarize."""
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
    return summarize(records, suite, "success_once", expected=len(records))


def _write(tmp_path, name, summary):
    path = tmp_path / name
    path.write_text(json.dumps(summary))
    return path


def test_compare_flags_only_significant_drops():
    base = _summary({0: (45, 50), 1: (40, 50)})
    same = compare(base, _summary({0: (44, 50), 1: (41, 50)}), margin=0.05, alpha=0.05)
    assert [row[3].verdict for row in same] == ["inconclusive", "inconclusive", "inconclusive"]
    worse = compare(base, _summary({0: (10, 50), 1: (40, 50)}), margin=0.05, alpha=0.05)
    assert [row[3].verdict for row in worse][0] == "regression" and worse[1][3].verdict != "regression"
    assert worse[-1][0] == "overall" and worse[-1][2] == {"successes": 50, "n": 100}


def test_compare_rejects_other_suites_and_disjoint_tasks():
    with pytest.raises(HarnessError, match="suite"):
        compare(_summary({0: (1, 2)}), _summary({0: (1, 2)}, suite="other"), 0.05, 0.05)
    with pytest.raises(HarnessError, match="no task in common"):
        compare(_summary({0: (1, 2)}), _summary({1: (1, 2)}), 0.05, 0.05)


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


def test_load_summary_accepts_a_run_dir(tmp_path):
    from harness.results import RunStore

    store = RunStore.create(tmp_path, "toy_reach", "r", {"config": {}})
    store.write_summary(_summary({0: (1, 2)}))
    assert load_summary(store.run_dir)["per_task"]["0"]["successes"] == 1
    with pytest.raises(HarnessError, match="not a harness summary"):
        load_summary(_write(tmp_path, "x.json", {"suite": "s"}))
