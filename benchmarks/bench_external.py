"""Cost of running a simulator in its own Python environment (``tasks.external``): per-step overhead of the
process boundary against the step itself, from one run (not a test).

    python benchmarks/bench_external.py --suite simpler_google --tasks 0,4 --steps 30

For each task: reset, then ``--steps`` random actions through ``ExternalTaskEnv.step``. ``served`` is the time
inside the child's ``step`` (the simulator: physics, rendering, SIMPLER's evaluate), ``round trip`` the time the
harness waited for the reply; overhead = round trip - served (serialising the 640x512 image and the action,
two pipe transfers, decoding), reported as a share of served.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness.registry import SUITES  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--suite", default="simpler_google")
    parser.add_argument("--tasks", default="0,4")
    parser.add_argument("--steps", type=int, default=30)
    args = parser.parse_args()
    suite = SUITES.build(args.suite)
    suite.preflight()
    rng = np.random.default_rng(0)
    for task in suite.select(args.tasks):
        env = suite.make_env(task)
        process = env.process
        t0 = time.perf_counter()
        env.reset(0, 0)
        reset_s = time.perf_counter() - t0
        low, high = np.array(task.action_low), np.array(task.action_high)
        before = dict(process.timing)
        for _ in range(args.steps):
            env.step(rng.uniform(low, high) * 0.05)
        after = process.timing
        served = after["served_s"] - before["served_s"]
        roundtrip = after["roundtrip_s"] - before["roundtrip_s"]
        env.close()
        print(json.dumps({
            "suite": args.suite, "task": task.name, "steps": args.steps, "reset_s": round(reset_s, 2),
            "step_ms_served": round(1000 * served / args.steps, 2),
            "step_ms_roundtrip": round(1000 * roundtrip / args.steps, 2),
            "overhead_ms_per_step": round(1000 * (roundtrip - served) / args.steps, 3),
            "overhead_share": round((roundtrip - served) / served, 4),
            "child": {"python": process.python_version, **process.packages},
        }))  # fmt: skip


if __name__ == "__main__":
    main()
