"""Harness overhead and throughput benchmark (prints measurements from this one run; not a test).

    python benchmarks/bench_harness.py --suite libero_object --steps 60 --episodes 4

Prints:
  * raw env steps/s (a bare loop over env.step) vs steps/s through the harness episode loop
    (planner + policy + action validation + metric tracking), and the overhead ratio;
  * reset time: full rebuild (hard reset, what the harness uses) vs a scene-reusing soft reset,
    and whether the soft reset reproduces an episode exactly;
  * episodes/hour through the CLI for 1 and 2 workers on the same episodes.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness.engine.episode import run_episode  # noqa: E402
from harness.engine.episodes import make_episodes  # noqa: E402
from harness.registry import PLANNERS, POLICIES, SUITES  # noqa: E402


class TimedEnv:
    """Proxy that accumulates the wall time spent inside ``env.step``."""

    def __init__(self, env):  # type: ignore[no-untyped-def]
        self.env, self.step_s = env, 0.0

    def step(self, action):  # type: ignore[no-untyped-def]
        t = time.perf_counter()
        out = self.env.step(action)
        self.step_s += time.perf_counter() - t
        return out

    def __getattr__(self, name):  # type: ignore[no-untyped-def]
        return getattr(self.env, name)


def raw_vs_harness(suite_name: str, steps: int, rounds: int = 3) -> dict[str, float]:
    """Interleaved rounds of a bare ``env.step`` loop and the harness episode loop on the same env.

    ``overhead`` is the harness's own time (policy, planner, validation, bookkeeping) divided by the
    time spent in ``env.step`` within the same loop: the direct measure, free of machine drift.
    """
    suite = SUITES.build(suite_name)
    task = suite.tasks()[0]
    env = TimedEnv(suite.make_env(task))
    episode = make_episodes([task], 1, 0)[0]
    policy, planner = POLICIES.build("random"), PLANNERS.build("direct")
    rng = np.random.default_rng(0)
    low, high = np.array(task.action_low), np.array(task.action_high)
    raw_rates, loop_rates, overheads = [], [], []
    for _ in range(rounds):
        env.reset(0, 0)
        actions = rng.uniform(low, high, size=(steps, len(low))).astype(np.float32)
        t = time.perf_counter()
        for a in actions:
            env.env.step(a)
        raw_rates.append(steps / (time.perf_counter() - t))
        env.step_s = 0.0
        rec = run_episode(env, policy, planner, episode, max_steps=steps, stop_on_success=False)
        loop_s = rec["wall_s"] - rec["reset_s"]
        loop_rates.append(rec["steps"] / loop_s)
        overheads.append((loop_s - env.step_s) / env.step_s)
    env.close()
    return {
        "raw_steps_per_s": float(np.median(raw_rates)),
        "harness_steps_per_s": float(np.median(loop_rates)),
        "overhead": float(np.median(overheads)),
    }


def reset_times(suite_name: str) -> dict[str, float | bool]:
    """Hard reset (rebuild) vs soft reset (reuse the scene) for LIBERO; checks reproducibility."""
    from tasks.libero.env import LiberoTaskEnv

    suite = SUITES.build(suite_name)
    task = suite.tasks()[0]
    out: dict[str, float | bool] = {}
    for mode in ("hard", "soft"):
        env = LiberoTaskEnv(task)
        env.raw_env.env.hard_reset = mode == "hard"
        images, times = [], []
        for init in (0, 1, 0):
            t = time.perf_counter()
            obs = env.reset(init, 0)
            times.append(time.perf_counter() - t)
            for _ in range(20):
                obs, _ = env.step(np.array([0.3, -0.2, 0.1, 0, 0, 0, 1.0]))
            images.append(obs["agentview_rgb"])
        env.close()
        out[f"{mode}_reset_s"] = float(np.mean(times))
        out[f"{mode}_reproduces_episode"] = bool(np.array_equal(images[0], images[2]))
    return out


def episodes_per_hour(suite_name: str, episodes: int, steps: int, workers: int) -> float:
    with tempfile.TemporaryDirectory() as out:
        t = time.perf_counter()
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "harness.eval",
                "--suite",
                suite_name,
                "--tasks",
                "0",
                "--episodes-per-task",
                str(episodes),
                "--max-steps",
                str(steps),
                "--policy",
                "random",
                "--videos",
                "0",
                "--workers",
                str(workers),
                "--no-progress",
                "--out",
                out,
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        elapsed = time.perf_counter() - t
        if proc.returncode != 0:
            raise SystemExit(f"eval failed: {proc.stderr.strip().splitlines()[-1]}")
    return episodes / elapsed * 3600


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--suite", default="libero_object")
    parser.add_argument("--steps", type=int, default=60, help="env steps per measured episode")
    parser.add_argument("--episodes", type=int, default=4, help="episodes for the worker comparison")
    parser.add_argument("--json", help="also write the numbers to this file")
    args = parser.parse_args()
    result: dict[str, object] = {"suite": args.suite, "steps": args.steps, "episodes": args.episodes}
    result.update(raw_vs_harness(args.suite, args.steps))
    print(
        f"raw env: {result['raw_steps_per_s']:.2f} steps/s | harness loop: {result['harness_steps_per_s']:.2f} "
        f"steps/s (ratio {result['harness_steps_per_s'] / result['raw_steps_per_s']:.3f}) | harness overhead "
        f"(own time / env.step time): {result['overhead']:.2%}",
        flush=True,
    )
    if args.suite.startswith("libero"):
        result.update(reset_times(args.suite))
        print(
            f"reset: hard (rebuild) {result['hard_reset_s']:.2f} s, reproduces episode: "
            f"{result['hard_reproduces_episode']} | soft (reuse scene) {result['soft_reset_s']:.2f} s, "
            f"reproduces episode: {result['soft_reproduces_episode']}",
            flush=True,
        )
    for w in (1, 2):
        result[f"episodes_per_hour_{w}w"] = episodes_per_hour(args.suite, args.episodes, args.steps, w)
    ratio = result["episodes_per_hour_2w"] / result["episodes_per_hour_1w"]  # type: ignore[operator]
    print(
        f"episodes/hour ({args.episodes} episodes x {args.steps} steps, incl. start-up): 1 worker "
        f"{result['episodes_per_hour_1w']:.0f}, 2 workers {result['episodes_per_hour_2w']:.0f} "
        f"(2w/1w = {ratio:.2f}x)"
    )
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
