import json

import pytest

from harness.engine.atomic_io import append_line_atomic, read_jsonl
from harness.errors import HarnessError
from harness.engine.results import RunStore, summarize


def _rec(index, task_id, success, steps=10, error=None, metrics=None):
    return {
        "index": index,
        "key": f"{task_id}:{index}",
        "task_id": task_id,
        "task": f"t{task_id}",
        "success": success,
        "success_once": success,
        "success_at_end": success,
        "steps": steps,
        "error": error,
        "clipped_steps": 0,
        "metrics": metrics or {},
    }


def test_create_writes_manifest_and_never_reuses_a_dir(tmp_path):
    a = RunStore.create(tmp_path, "suite", "run", {"config": {"seed": 1}})
    b = RunStore.create(tmp_path, "suite", "run", {"config": {"seed": 1}})
    assert a.run_dir != b.run_dir
    manifest = json.loads(a.manifest_path.read_text())
    assert manifest["schema_version"] == 1 and manifest["config"] == {"seed": 1}
    assert RunStore.open(a.run_dir).manifest()["config"]["seed"] == 1


def test_open_rejects_non_run_dirs(tmp_path):
    with pytest.raises(HarnessError, match="no manifest.json"):
        RunStore.open(tmp_path)
    with pytest.raises(HarnessError, match="not found"):
        RunStore.open(tmp_path / "missing")


def test_append_and_read_roundtrip(tmp_path):
    path = tmp_path / "e.jsonl"
    for i in range(3):
        append_line_atomic(path, {"i": i})
    assert [r["i"] for r in read_jsonl(path)] == [0, 1, 2]


def test_torn_tail_is_dropped_and_repaired_without_losing_lines(tmp_path):
    path = tmp_path / "e.jsonl"
    append_line_atomic(path, {"i": 0})
    append_line_atomic(path, {"i": 1})
    with open(path, "ab") as f:
        f.write(b'{"i": 2, "trunc')  # a kill in the middle of a write
    assert [r["i"] for r in read_jsonl(path)] == [0, 1]
    read_jsonl(path, repair=True)
    append_line_atomic(path, {"i": 3})
    assert [r["i"] for r in read_jsonl(path)] == [0, 1, 3]


def test_corrupt_middle_line_is_refused(tmp_path):
    path = tmp_path / "e.jsonl"
    path.write_bytes(b'{"i": 0}\nGARBAGE\n{"i": 2}\n')
    with pytest.raises(ValueError, match="corrupt"):
        read_jsonl(path, repair=True)
    assert path.read_bytes().count(b"\n") == 3  # nothing was truncated


def test_summary_counts_errors_as_failures_and_uses_wilson():
    records = [
        _rec(0, 0, True),
        _rec(1, 0, False),
        _rec(2, 1, False, error="policy: nan"),
        _rec(3, 1, True, metrics={"grasped_once": True}),
    ]
    s = summarize(records, "suite", "success_once", expected=4)
    assert s["complete"] is True
    assert s["overall"]["n"] == 4 and s["overall"]["successes"] == 2 and s["overall"]["errors"] == 1
    assert s["per_task"]["1"]["successes"] == 1 and s["per_task"]["1"]["errors"] == 1
    lo, hi = s["overall"]["wilson95"]
    assert lo < 0.5 < hi
    assert s["per_task"]["1"]["metrics"]["grasped_once"] == 1.0
    assert summarize(records[:3], "suite", "success_once", expected=4)["complete"] is False


def test_summary_is_independent_of_record_order():
    records = [_rec(i, i % 2, i % 3 == 0) for i in range(6)]
    a = summarize(records, "s", "success_once", 6)
    b = summarize(list(reversed(records)), "s", "success_once", 6)
    assert a == b


def test_summary_stores_the_run_identity():
    records = [_rec(0, 0, True)]
    identity = {"suite": "s", "policy": "greedy"}
    assert summarize(records, "s", "success_once", 1, config=identity)["config"] == identity
    assert summarize(records, "s", "success_once", 1)["config"] is None
