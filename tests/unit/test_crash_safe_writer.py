"""Crash-safe demo writing (M9): a writer killed mid-append never leaves an unreadable or half-written file,
and resuming completes it; demo generation resumes to the requested count with worker-independent numbering."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import harness.data.generate as generate
from harness.data import hdf5_io
from harness.data.hdf5_io import DemoWriter, iter_demos, open_demo_file, read_demo
from tests.conftest import ROOT
from tests.tiny_data import tiny_demo

KILL_SCRIPT = textwrap.dedent(
    """
    import os, signal, sys
    import h5py
    from harness.data.hdf5_io import DemoWriter
    from tests.tiny_data import tiny_demo

    method, kill_at = sys.argv[2], int(sys.argv[3])
    real, calls = getattr(h5py.Group, method), [0]

    def killing(self, *args, **kwargs):
        calls[0] += 1
        if calls[0] == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)  # like an OOM kill, mid-write
        return real(self, *args, **kwargs)

    setattr(h5py.Group, method, killing)
    writer = DemoWriter(sys.argv[1], "put carrot on plate", {"suite": "simpler_bridge"})
    for i in range(5):
        writer.append(tiny_demo(8, i))
    """
)


def _same(a: hdf5_io.Demo, b: hdf5_io.Demo) -> bool:
    return np.array_equal(a.actions, b.actions) and all(np.array_equal(a.obs[k], b.obs[k]) for k in a.obs)


@pytest.mark.parametrize(
    "method,kill_at",
    [
        ("create_dataset", 25),  # writing the third demo (10 datasets per tiny_demo)
        ("copy", 5),  # assembling the file after the third demo (parts copied: 1, then 2, then 3)
    ],
)
def test_sigkill_mid_append_leaves_a_readable_file_and_resume_completes(tmp_path, method, kill_at):
    out = tmp_path / "demos.hdf5"
    proc = subprocess.run([sys.executable, "-c", KILL_SCRIPT, str(out), method, str(kill_at)], cwd=ROOT)
    assert proc.returncode == -9  # killed inside the third append
    assert open_demo_file(out).names == ["demo_0", "demo_1"]  # the last complete state, readable
    writer = DemoWriter(out, "put carrot on plate", {"suite": "simpler_bridge"})
    done = writer.existing()  # the parts that were complete when the process died
    assert done[:2] == ["demo_0", "demo_1"] and len(done) == (3 if method == "copy" else 2)
    for i in range(5):  # resume: write what is missing
        if f"demo_{i}" not in done:
            writer.append(tiny_demo(8, i), f"demo_{i}")
    loaded = list(iter_demos(out))
    assert len(loaded) == 5 and all(_same(d, tiny_demo(8, i)) for i, d in enumerate(loaded))
    assert not [p for p in tmp_path.rglob("*") if p.name.endswith(".tmp")]  # no temp files left behind


def test_failure_between_part_write_and_rename_keeps_the_file(tmp_path, monkeypatch):
    out = tmp_path / "demos.hdf5"
    writer = DemoWriter(out, "task", {})
    writer.append(tiny_demo(6, 0))
    before = out.read_bytes()

    def fail(tmp: Path, path: Path) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(hdf5_io, "replace_atomic", fail)
    with pytest.raises(OSError, match="disk full"):
        writer.append(tiny_demo(6, 1))
    monkeypatch.undo()
    assert out.read_bytes() == before and open_demo_file(out).names == ["demo_0"]
    writer = DemoWriter(out, "task", {})
    writer.append(tiny_demo(6, 1))
    assert _same(read_demo(out, "demo_1"), tiny_demo(6, 1))


def test_deferred_commit_and_prune(tmp_path):
    out = tmp_path / "demos.hdf5"
    writer = DemoWriter(out, "task", {}, autocommit=False)
    for key, seed in (("b_1", 1), ("a_0", 0), ("b_0", 2)):
        writer.append(tiny_demo(5, seed), key)
    assert not out.exists()  # nothing half-written: the file appears whole, on commit
    assert writer.prune({"a_0", "b_1"}) == ["b_0"]
    assert writer.commit() == ["demo_0", "demo_1"]
    assert [read_demo(out, n).attrs["part_key"] for n in ("demo_0", "demo_1")] == ["a_0", "b_1"]


def test_existing_file_without_parts_is_adopted(tmp_path):
    out = tmp_path / "demos.hdf5"
    DemoWriter(out, "task", {}).append(tiny_demo(5, 0))
    for part in (tmp_path / "demos.hdf5.parts").iterdir():  # e.g. a file written by an older version
        part.unlink()
    (tmp_path / "demos.hdf5.parts").rmdir()
    DemoWriter(out, "task", {}).append(tiny_demo(5, 1))
    loaded = list(iter_demos(out))
    assert len(loaded) == 2 and _same(loaded[0], tiny_demo(5, 0)) and _same(loaded[1], tiny_demo(5, 1))


# --- generate: resume after an interruption, numbering independent of --workers (no simulator) ---------------


class FakeGenerationRunner:
    """Attempt 1 of task 0 fails; every other attempt yields a tiny demo labelled with its (task, attempt)."""

    def __init__(self, ctx: Any):
        self.ctx = ctx

    def run(self, job: Any) -> dict[str, Any]:
        tid, attempt = job.task.task_id, job.episode
        success = not (tid == 0 and attempt == 1)
        demo = tiny_demo(5, 10 * tid + attempt) if success else None
        if demo is not None:
            demo.attrs.update(task_id=tid, attempt=attempt)
        result = {"task_id": tid, "attempt": attempt, "init_index": job.init_index, "seed": job.seed}
        return result | {"success": success, "error": None, "demo": demo, "steps": 5, "step_s": 0.01}

    def close(self) -> None:
        pass


def _in_process_jobs(make_runner: Any, jobs: list, workers: int, on_crash: Any, *args: Any, **kwargs: Any):
    runner = make_runner()
    yield from reversed([runner.run(job) for job in jobs])  # completion order differs from job order


class Interrupt(KeyboardInterrupt):
    pass


def _generate(out: Path, workers: int) -> int:
    argv = ["--suite", "toy_reach", "--tasks", "0,1", "--episodes", "2", "--workers", str(workers)]
    return generate.main([*argv, "--no-progress", "--out", str(out)])


def _labels(out: Path) -> list[tuple[int, int]]:
    return [(int(d.attrs["task_id"]), int(d.attrs["attempt"])) for d in iter_demos(out)]


@pytest.fixture
def fake_generation(monkeypatch):
    monkeypatch.setattr(generate, "GenerationRunner", FakeGenerationRunner)
    monkeypatch.setattr(generate, "run_jobs", _in_process_jobs)


def test_generate_numbering_does_not_depend_on_workers(fake_generation, tmp_path):
    assert _generate(tmp_path / "w1.hdf5", 1) == 0 and _generate(tmp_path / "w4.hdf5", 4) == 0
    expected = [(0, 0), (0, 2), (1, 0), (1, 1)]  # task by task, attempt order
    assert _labels(tmp_path / "w1.hdf5") == _labels(tmp_path / "w4.hdf5") == expected


def test_generate_interrupted_between_demo_and_log_resumes(fake_generation, tmp_path, monkeypatch):
    out = tmp_path / "demos.hdf5"
    real_append, calls = generate.append_line_atomic, []

    def append_then_die(path: Path, record: dict) -> None:
        calls.append(record)
        if len(calls) == 3:
            raise Interrupt  # killed after the demo's part was written, before its log line
        real_append(path, record)

    monkeypatch.setattr(generate, "append_line_atomic", append_then_die)
    assert _generate(out, 1) == 130
    assert not out.exists()  # never half-written
    log = [json.loads(line) for line in (tmp_path / "demos.hdf5.attempts.jsonl").read_text().splitlines()]
    parts = sorted(p.stem for p in (tmp_path / "demos.hdf5.parts").glob("*.hdf5"))
    assert [r["demo"] for r in log] == ["p000_task000_00000", None]
    assert parts == ["p000_task000_00000", "p001_task001_00000"]  # the second was never logged
    monkeypatch.setattr(generate, "append_line_atomic", real_append)
    assert _generate(out, 1) == 0
    assert _labels(out) == [(0, 0), (0, 2), (1, 0), (1, 1)]
    assert open_demo_file(out).names == ["demo_0", "demo_1", "demo_2", "demo_3"]
