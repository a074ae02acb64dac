"""``wm_topk``: VLA-sample + world-model top-k action selection (LAC-WM paper, section 4.4).

Per decision: draw N chunks from the policy, encode the current camera frame, roll every chunk out in the
world model (through its action projector), score each by the L2 distance between its final predicted
embedding and the current subgoal's embedding, and execute the mean of the k best for p steps. Without a
goal it falls back to the mean of all N (and says so in its stats). It never reads simulator success.
"""

from __future__ import annotations

import math
import time

import numpy as np

from harness.errors import HarnessError
from harness.protocols import EpisodeSpec, Obs, PlannerOptions, PlanResult, Policy, WorldModel
from harness.registry import PLANNERS


def pad_to_segments(chunks: np.ndarray, segment: int, segments: int) -> np.ndarray:
    """[N, L, Da] -> [N, segments * segment, Da]: truncated, or padded by repeating the last action."""
    steps = segments * segment
    if chunks.shape[1] >= steps:
        return chunks[:, :steps]
    pad = np.repeat(chunks[:, -1:], steps - chunks.shape[1], axis=1)
    return np.concatenate([chunks, pad], axis=1)


def select_top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k lowest scores, best first (ties broken by index: stable)."""
    return np.argsort(scores, kind="stable")[:k]


class WorldModelTopK:
    def __init__(self, options: PlannerOptions):
        if options.top_k < 1 or options.n_samples < options.top_k:
            raise HarnessError(
                f"wm_topk needs 1 <= --top-k <= --n-samples, got k={options.top_k}, N={options.n_samples}"
            )
        if options.subgoal_every < 1:
            raise HarnessError("--subgoal-every must be >= 1")
        self.options = options
        self._rng = np.random.default_rng(0)

    def reset(self, episode: EpisodeSpec) -> None:
        self._rng = np.random.default_rng([episode.seed, 1])  # same candidate stream as vla_mean

    def plan(self, obs: Obs, goal: np.ndarray | None, policy: Policy, world_model: WorldModel | None) -> PlanResult:
        if world_model is None:
            raise HarnessError("planner wm_topk needs a world model (--world-model NAME --wm-checkpoint DIR)")
        opt = self.options
        t0 = time.perf_counter()
        samples = policy.sample(obs, opt.n_samples, self._rng)  # [N, L, Da]
        p = min(opt.subgoal_every, samples.shape[1])
        stats: dict = {"n": opt.n_samples, "k": opt.top_k, "policy_calls": 1}
        if goal is None:
            stats.update({"wm_calls": 0, "fallback": "no goal: mean of all samples"})
            stats["time_s"] = round(time.perf_counter() - t0, 4)
            return PlanResult(actions=samples.mean(0)[:p].astype(np.float32), stats=stats)
        segments = opt.wm_horizon or math.ceil(p / world_model.segment)
        candidates = pad_to_segments(samples[:, :p], world_model.segment, segments)
        t_wm = time.perf_counter()
        z_now = world_model.encode(np.asarray(obs["agentview_rgb"])[None])
        z_goal = world_model.encode(np.asarray(goal)[None])
        future = world_model.rollout(z_now, candidates)  # [N, segments, ...]
        scores = world_model.distance(future[:, -1], z_goal)
        wm_s = time.perf_counter() - t_wm
        chosen = select_top_k(scores, opt.top_k)
        actions = samples[chosen, :p].mean(axis=0).astype(np.float32)
        stats.update(
            {
                "wm_calls": 1,
                "wm_batch": int(len(candidates)),
                "wm_segments": int(segments),
                "wm_s": round(wm_s, 4),
                "chosen": chosen.tolist(),
                "chosen_scores": [round(float(s), 5) for s in scores[chosen]],
                "score_mean": round(float(scores.mean()), 5),
                "time_s": round(time.perf_counter() - t0, 4),
            }
        )
        return PlanResult(actions=actions, scores=scores, chosen=chosen, stats=stats)


@PLANNERS.register("wm_topk")
def build_wm_topk(options: PlannerOptions | None = None) -> WorldModelTopK:
    return WorldModelTopK(options or PlannerOptions())
