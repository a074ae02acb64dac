"""``wm_topk``: VLA-sample + world-model top-k action selection (LAC-WM paper, section 4.4).

Per decision: draw N chunks from the policy, encode the current camera frame, roll the first p steps of
every chunk out in the world model (p / segment model steps: p must be a multiple of the world model's
segment, checked before a run starts), score each by the L2 distance between the prediction at exactly
step p and the embedding of the subgoal due at that step, and execute the mean of the k best for p steps.
It needs a world model and goal images (checked before a run starts) and never reads simulator success.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from harness.engine.render import ObservationNeeds
from harness.errors import HarnessError
from harness.protocols import Obs, PlanResult, Policy, WorldModel
from harness.registry import PLANNERS
from planners.base import DEFAULT_STEPS, SamplingPlanner, check_top_k_options


def score_candidates(
    world_model: WorldModel, frame: np.ndarray, goal: np.ndarray, candidates: np.ndarray
) -> np.ndarray:
    """[N]: distance between the world model's prediction after each candidate [N, p, Da] (from the camera
    frame uint8 [H, W, 3]) at exactly step p and its embedding of the subgoal image due then (lower: closer)."""
    z_now = world_model.encode(frame[None])
    z_goal = world_model.encode(goal[None])
    future = world_model.rollout(z_now, candidates)  # [N, p / segment, ...]
    return world_model.distance(future[:, -1], z_goal)


def select_top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k lowest scores, best first (ties broken by index: stable)."""
    return np.argsort(scores, kind="stable")[:k]


@PLANNERS.register("wm_topk")
class WorldModelTopK(SamplingPlanner):
    @dataclass(frozen=True)
    class Options:
        n_samples: int = 64  # N candidate chunks per decision
        top_k: int = 5  # k best averaged
        subgoal_every: int = DEFAULT_STEPS  # p: executed steps = subgoal spacing (a multiple of the segment)

        def validate(self) -> None:
            check_top_k_options("wm_topk", self.subgoal_every, self.top_k, self.n_samples)

    needs_world_model: ClassVar[bool] = True
    needs_goal: ClassVar[bool] = True
    observation_needs: ClassVar[ObservationNeeds] = ObservationNeeds(history=1, cameras=("agentview_rgb",))


    def plan(self, obs: Obs, goal: np.ndarray | None, policy: Policy, world_model: WorldModel | None) -> PlanResult:
        if world_model is None or goal is None:  # the setup check rules this out before a run starts
            raise HarnessError("planner wm_topk needs a world model and a goal image")
        opt = self.options
        p = opt.subgoal_every
        candidates = self.first_steps(policy.sample(obs, opt.n_samples, self._rng))  # [N, p, Da]
        if p % world_model.segment:  # the setup check rules this out before a run starts
            raise HarnessError(f"wm_topk: p={p} must be a multiple of the world model's segment {world_model.segment}")
        t_wm = time.perf_counter()
        scores = score_candidates(world_model, np.asarray(obs["agentview_rgb"]), np.asarray(goal), candidates)
        wm_s = time.perf_counter() - t_wm
        chosen = select_top_k(scores, opt.top_k)
        stats = {
            "n": opt.n_samples,
            "k": opt.top_k,
            "policy_calls": 1,
            "wm_calls": 1,
            "wm_batch": int(len(candidates)),
            "wm_segments": int(p // world_model.segment),
            "wm_s": round(wm_s, 4),
            "chosen": chosen.tolist(),
            "chosen_scores": [round(float(s), 5) for s in scores[chosen]],
            "score_mean": round(float(scores.mean()), 5),
        }
        actions = candidates[chosen].mean(axis=0).astype(np.float32)
        return PlanResult(actions=actions, scores=scores, chosen=chosen, stats=stats)
