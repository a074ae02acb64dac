"""Test-only: ``run_jobs`` on a Ray cluster with a scripted job runner, in its own driver process.

    python -m tests.ray_jobs HOST:PORT DIR   # prints {"results": [...], "fatal": "..."} as one JSON line

Run as ``-m``, ``ScriptedRunner`` lives in ``__main__``: the backend must still send it by reference.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

from harness.engine.ray_backend import RayOptions
from harness.engine.workers import run_jobs
from harness.errors import HarnessError


class ScriptedRunner:
    """"ok:X" returns; "die" SIGKILLs its process (a segfault, a dead node); "die_once:PATH" does so only while
    PATH does not exist (it creates it); "raise" raises RuntimeError; "hang" blocks for ten minutes; "fatal"
    raises HarnessError."""

    def run(self, job: str) -> dict[str, Any]:
        kind, _, arg = job.partition(":")
        if kind == "die" or (kind == "die_once" and not Path(arg).exists()):
            if arg:
                Path(arg).touch()
            os.kill(os.getpid(), signal.SIGKILL)
        if kind == "raise":
            raise RuntimeError("runner bug")
        if kind == "hang":
            time.sleep(600)
        if kind == "fatal":
            raise HarnessError("bad config for every job")
        return {"job": job, "error": None}

    def close(self) -> None:
        pass


def crashed(job: str, code: int | None) -> dict[str, Any]:
    return {"job": job, "error": f"crashed ({code})"}


def timed_out(job: str, seconds: float) -> dict[str, Any]:
    return {"job": job, "error": f"timeout after {seconds:g} s"}


def main(address: str, folder: str) -> None:
    options = RayOptions(address)
    jobs = ["ok:a", f"die_once:{Path(folder) / 'crashed'}", "die", "raise", "hang", "ok:b"]
    results = list(run_jobs(ScriptedRunner, jobs, 2, crashed, timeout_s=5.0, on_timeout=timed_out, ray=options))
    try:
        list(run_jobs(ScriptedRunner, ["ok:a", "fatal", "ok:b"], 1, crashed, ray=options))
        fatal = None
    except HarnessError as exc:
        fatal = str(exc)
    print(json.dumps({"results": results, "fatal": fatal}))


if __name__ == "__main__":
    main(*sys.argv[1:])
