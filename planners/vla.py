"""VLA-only baselines of the LAC-WM paper: ``vla_random`` (one sample) and ``vla_mean`` (mean of N samples).

Both execute the first ``subgoal_every`` steps of the chosen chunk, like ``wm_topk``, so the three planners
decide at the same times. They never use a world model or the goal.
"""

from __future__ import annotations

import time

import numpy as np

from harness.protocols import EpisodeSpec, Obs, PlannerOptions, PlanResult, Policy, WorldModel
from harness.registry import PLANNERS


class VlaPlanner:
    """``mode`` "random": execute sample 0 of 1; "mean": execute the mean of ``n_samples`` samples."""

    def __init__(self, mode: str, options: PlannerOptions):
        self.mode, self.options = mode, options
        self._rng = np.random.default_rng(0)

    def reset(self, episode: EpisodeSpec) -> None:
        self._rng = np.random.default_rng([episode.seed, 1])

    def plan(self, obs: Obs, goal: np.ndarray | None, policy: Policy, world_model: WorldModel | None) -> PlanResult:
        t0 = time.perf_counter()
        n = 1 if self.mode == "random" else self.options.n_samples
        samples = policy.sample(obs, n, self._rng)  # [n, L, Da]
        chunk = samples[0] if self.mode == "random" else samples.mean(axis=0)
        p = min(self.options.subgoal_every, chunk.shape[0])
        stats = {"n": n, "k": n, "wm_calls": 0, "policy_calls": 1, "time_s": round(time.perf_counter() - t0, 4)}
        return PlanResult(actions=chunk[:p].astype(np.float32), chosen=np.arange(n), stats=stats)


@PLANNERS.register("vla_random")
def build_vla_random(options: PlannerOptions | None = None) -> VlaPlanner:
    return VlaPlanner("random", options or PlannerOptions())


@PLANNERS.register("vla_mean")
def build_vla_mean(options: PlannerOptions | None = None) -> VlaPlanner:
    return VlaPlanner("mean", options or PlannerOptions())
