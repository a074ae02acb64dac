"""Render only what is consumed: harness episodes/hour vs a bare always-render loop (not a test; one run).

    python benchmarks/bench_render.py --suite libero_object --policy expert --episodes 4
    python benchmarks/bench_render.py --suite simpler_bridge --policy baku \
        --checkpoint policies/checkpoints/simpler_bridge_baku_gpu --episodes 4

The bare loop is what lerobot-eval and LIBERO's / openpi's eval scripts do: every step renders every camera
and the policy sees every observation. The harness runs the same episodes (same scenes and seeds) with
``harness.engine.episode.run_episode``: render-free for a policy that reads no camera (the expert), and
only the steps a decision reads for a policy declaring ``observation_needs``. Episodes are interleaved
(bare, harness, bare, ...) on the same env objects, and both paths must agree on every episode's steps and
success. Prints per-path seconds, episodes/hour and the ratio.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness.engine.episode import run_episode  # noqa: E402
from harness.engine.episodes import make_episodes  # noqa: E402
from harness.engine.render import declared_needs  # noqa: E402
from harness.engine.rollout import seed_everything  # noqa: E402
from harness.registry import PLANNERS, POLICIES, SUITES  # noqa: E402


def bare_episode(env, policy, episode, max_steps: int, stop_on_success: bool) -> dict:  # type: ignore[no-untyped-def]
    """Always-render loop: reset, then per decision the policy's executed steps, observing every step."""
    seed_everything(episode.seed)
    obs = env.reset(episode.init_index, episode.seed, episode.split)
    seed_everything(episode.seed)
    policy.reset(episode)
    steps, success_once = 0, False
    while steps < max_steps:
        chunk = policy.act(obs)
        for action in chunk[: getattr(policy, "execute_steps", None) or len(chunk)]:
            obs, info = env.step(action)
            steps += 1
            if hasattr(policy, "observe"):
                policy.observe(obs)
            success_once |= bool(info["success"])
            if (stop_on_success and info["success"]) or steps >= max_steps:
                return {"steps": steps, "success_once": success_once}
    return {"steps": steps, "success_once": success_once}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--suite", default="libero_object")
    ap.add_argument("--policy", default="expert")
    ap.add_argument("--checkpoint", default=None)
    ap.add_argument("--tasks", default="0")
    ap.add_argument("--episodes", type=int, default=4, help="per task")
    ap.add_argument("--max-steps", type=int, default=None)
    args = ap.parse_args()

    suite = SUITES.build(args.suite)
    tasks = suite.select(args.tasks)
    policy = POLICIES.build(args.policy, checkpoint=args.checkpoint)
    planner = PLANNERS.build("direct")
    needs = declared_needs(policy)
    if needs is None:
        raise SystemExit(f"policy {args.policy!r} declares nothing it reads: the harness renders every step too")
    stop = suite.headline == "success_once"
    totals = {"bare": 0.0, "harness": 0.0}
    counts = {"bare_steps": 0}
    for task in tasks:
        bare_env = suite.make_env(task)  # renders every camera at every step
        lazy_env = suite.make_env(task, cameras=False) if not needs.cameras and suite.state_only_env else bare_env
        max_steps = args.max_steps or task.max_steps
        for episode in make_episodes([task], args.episodes, 0):
            t = time.perf_counter()
            bare = bare_episode(bare_env, policy, episode, max_steps, stop)
            totals["bare"] += time.perf_counter() - t
            t = time.perf_counter()
            record = run_episode(lazy_env, policy, planner, episode, max_steps, stop, suite.headline, needs=needs)
            totals["harness"] += time.perf_counter() - t
            counts["bare_steps"] += bare["steps"]
            same = (bare["steps"], bare["success_once"]) == (record["steps"], record["success_once"])
            print(f"{task.name} scene {episode.init_index}: steps {record['steps']} success {record['success']}"
                  f" same_as_bare={same}", flush=True)  # fmt: skip
            if not same or record["error"]:
                raise SystemExit(f"paths disagree: bare {bare} vs harness {record}")
        if lazy_env is not bare_env:
            lazy_env.close()
        bare_env.close()
    n = args.episodes * len(tasks)
    result = {
        "suite": args.suite,
        "policy": args.policy,
        "episodes": n,
        "bare_s": round(totals["bare"], 1),
        "harness_s": round(totals["harness"], 1),
        "bare_episodes_per_hour": round(3600 * n / totals["bare"], 1),
        "harness_episodes_per_hour": round(3600 * n / totals["harness"], 1),
        "speedup": round(totals["bare"] / totals["harness"], 2),
        "needs": {"history": needs.history, "cameras": list(needs.cameras)},
        "bare_steps": counts["bare_steps"],
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
