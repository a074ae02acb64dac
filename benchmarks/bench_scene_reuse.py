"""LIBERO scene reuse (robosuite soft reset, ``LiberoTaskEnv(reuse_scene=True)``) against a rebuild: the same
random actions from evaluation scenes 0-2 and training scene 3, compared every step (state, both images) and
the fixture poses at the end; reset times of both, measured in the same run.

    python benchmarks/bench_scene_reuse.py --suite libero_spatial --task 4 [--steps 30]
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np


def main() -> None:
    from harness.registry import SUITES
    from tasks.libero.env import LiberoTaskEnv

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--suite", default="libero_spatial")
    p.add_argument("--task", type=int, default=4)
    p.add_argument("--steps", type=int, default=30)
    args = p.parse_args()
    suite = SUITES.build(args.suite)
    task = suite.tasks()[args.task]
    rebuilt, reused = suite.make_env(task), LiberoTaskEnv(task, reuse_scene=True)
    actions = np.random.default_rng(0).uniform(-1, 1, (args.steps, 7))
    reset_s = {"rebuild": 0.0, "reuse": 0.0}
    scenes = []
    for split, index in (("eval", 0), ("eval", 1), ("train", 3), ("eval", 2)):
        runs = []
        for name, env in (("rebuild", rebuilt), ("reuse", reused)):
            t0 = time.perf_counter()
            obs = env.reset(index, 0, split)
            reset_s[name] += time.perf_counter() - t0
            frames, states = [], []
            for a in [None, *actions]:
                if a is not None:
                    obs = env.step(a)[0]
                frames.append(np.concatenate([obs["agentview_rgb"], obs["wrist_rgb"]]))
                states.append(env.get_state())
            runs.append((frames, states, env.sim.model.body_pos.copy(), env.sim.model.body_quat.copy()))
        (fa, sa, pa, qa), (fb, sb, pb, qb) = runs
        scenes.append({
            "scene": f"{split}{index}",
            "images_identical": all(np.array_equal(x, y) for x, y in zip(fa, fb, strict=True)),
            "states_identical": all(np.array_equal(x, y) for x, y in zip(sa, sb, strict=True)),
            "body_poses_identical": bool(np.array_equal(pa, pb) and np.array_equal(qa, qb)),
        })
    print(json.dumps({"suite": args.suite, "task": args.task, "steps": args.steps, "scenes": scenes,
                      "rebuild_reset_s": round(reset_s["rebuild"], 2), "reuse_reset_s": round(reset_s["reuse"], 2),
                      "speedup": round(reset_s["rebuild"] / max(reset_s["reuse"], 1e-9), 2)}))


if __name__ == "__main__":
    main()
