"""run_jobs: a job over its wall-clock limit has its worker killed and replaced, and the run goes on."""

from __future__ import annotations

import time
from typing import Any

import pytest

from harness.engine.workers import run_jobs


class SleepyRunner:
    """Returns each job back; the job "hang" blocks for ten minutes (a hung simulator)."""

    def run(self, job: str) -> dict[str, Any]:
        if job == "hang":
            time.sleep(600)
        return {"job": job, "error": None}

    def close(self) -> None:
        pass


def _crashed(job: str, code: int | None) -> dict[str, Any]:
    return {"job": job, "error": f"crashed ({code})"}


def _timed_out(job: str, seconds: float) -> dict[str, Any]:
    return {"job": job, "error": f"timeout after {seconds:g} s"}


def test_hung_job_times_out_and_the_run_goes_on():
    jobs = ["a", "hang", "b", "c"]
    t0 = time.monotonic()
    results = list(run_jobs(SleepyRunner, jobs, 1, _crashed, timeout_s=3.0, on_timeout=_timed_out))
    by_job = {r["job"]: r["error"] for r in results}
    assert sorted(by_job) == sorted(jobs) and len(results) == len(jobs)
    assert by_job == {"a": None, "hang": "timeout after 3 s", "b": None, "c": None}  # b, c ran on a new worker
    assert time.monotonic() - t0 < 120


def test_timeout_needs_a_record_maker():
    with pytest.raises(ValueError, match="on_timeout"):
        list(run_jobs(SleepyRunner, ["a"], 1, _crashed, timeout_s=1.0))
