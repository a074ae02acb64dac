"""``oracle_topk``: the simulator-branching oracle (an upper bound for world-model selection, not a deployable
planner).

Per decision: draw the same N chunks as ``vla_mean`` / ``wm_topk`` (the same seeded candidate stream),
snapshot the simulator (the env's ``snapshot()``: physics and controller state), execute the first p steps of
every candidate in the REAL simulator from that snapshot, record each one's true outcome, restore the
snapshot, and execute the mean of the k truly best. True outcome,
ranked in this order: task success within the p steps, then goal progress (the number of goal predicates
that hold, where the env reports them), then the state distance to the subgoal (metres: the sum over the
end effector and every object of the distance between the position reached and the scripted expert's at the
subgoal's time). PRIVILEGED: it reads and restores simulator state and success, and every run's manifest says
so. Only suites whose envs can snapshot and restore (``branchable``) run it; checked before a run starts.

Given a world model too (``--world-model``), each decision also scores the candidates as ``wm_topk`` would and
logs the rank agreement with the truth: Spearman's rho between the world-model score and the state distance,
and the top-k hit rate (the share of the world model's k picks among the true k best). Those are what
``python -m planners.oracle_report RUN_DIR`` summarises.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from scipy.stats import spearmanr

from harness.engine.render import ObservationNeeds
from harness.errors import HarnessError
from harness.protocols import EpisodeSpec, Obs, PlanResult, Policy, WorldModel
from harness.registry import PLANNERS
from planners.base import DEFAULT_STEPS, SamplingPlanner, check_top_k_options
from planners.goals import Goals, positions
from planners.wm_topk import score_candidates


def state_distance(reached: dict[str, np.ndarray], target: dict[str, np.ndarray]) -> float:
    """Summed distance (m) over the names both position dicts share (the end effector and every object: a
    displaced object counts fully however many others stand still; inf when they share none)."""
    shared = [k for k in target if k in reached]
    if not shared:
        return float("inf")
    return float(np.sum([np.linalg.norm(reached[k] - target[k]) for k in shared]))


def true_order(success: np.ndarray, progress: np.ndarray, distance: np.ndarray) -> np.ndarray:
    """Candidate indices best first: success, then more goal progress, then smaller distance (stable)."""
    return np.lexsort((np.arange(len(distance)), distance, -progress, -success.astype(int)))


@PLANNERS.register("oracle_topk")
class OracleTopK(SamplingPlanner):
    @dataclass(frozen=True)
    class Options:
        n_samples: int = 64  # N candidate chunks per decision
        top_k: int = 5  # k truly best averaged
        subgoal_every: int = DEFAULT_STEPS  # p: executed steps = subgoal spacing

        def validate(self) -> None:
            check_top_k_options("oracle_topk", self.subgoal_every, self.top_k, self.n_samples)

    needs_world_model: ClassVar[bool] = False  # optional: given one, its ranking is compared with the truth
    needs_goal: ClassVar[bool] = True
    needs_simulator: ClassVar[bool] = True
    observation_needs: ClassVar[ObservationNeeds] = ObservationNeeds(history=1, cameras=("agentview_rgb",))

    def __init__(self, options: Any = None):
        super().__init__(options)
        self._env: Any = None
        self._goals: Goals | None = None
        self._decisions = 0
        self._bounds: tuple[np.ndarray, np.ndarray] | None = None

    def attach_simulator(self, env: Any, goals: Goals | None) -> None:
        """The episode's env (``snapshot()`` / ``restore(snapshot)``) and its goals."""
        self._env, self._goals = env, goals

    def reset(self, episode: EpisodeSpec) -> None:
        super().reset(episode)
        self._decisions = 0
        self._bounds = (np.asarray(episode.task.action_low), np.asarray(episode.task.action_high))

    def plan(self, obs: Obs, goal: np.ndarray | None, policy: Policy, world_model: WorldModel | None) -> PlanResult:
        if self._env is None or self._goals is None or self._bounds is None:  # attached by the episode loop
            raise HarnessError("planner oracle_topk needs the simulator and the goals attached")
        opt = self.options
        p = opt.subgoal_every
        steps_done = self._decisions * p
        self._decisions += 1
        candidates = self.first_steps(policy.sample(obs, opt.n_samples, self._rng))  # [N, p, Da]
        target = self._goals.target_state(steps_done)
        t_sim = time.perf_counter()
        snapshot = self._env.snapshot()
        outcomes = [self._branch(snapshot, chunk, target) for chunk in candidates]
        self._env.restore(snapshot)  # back to the decision's state
        sim_s = time.perf_counter() - t_sim
        success = np.array([o[0] for o in outcomes], dtype=bool)
        progress = np.array([o[1] for o in outcomes], dtype=np.float64)
        distance = np.array([o[2] for o in outcomes], dtype=np.float64)
        order = true_order(success, progress, distance)
        chosen = order[: opt.top_k]
        stats: dict[str, Any] = {
            "n": opt.n_samples,
            "k": opt.top_k,
            "policy_calls": 1,
            "wm_calls": 0,
            "sim_branch_steps": int(len(candidates) * p),
            "sim_s": round(sim_s, 4),
            "chosen": chosen.tolist(),
            "true_success": int(success.sum()),
            "true_progress_max": float(progress.max()),
            "true_distance": [round(float(d), 5) for d in distance],
        }
        if world_model is not None and goal is not None and p % world_model.segment == 0:
            stats.update(self._compare_world_model(obs, goal, candidates, world_model, order, distance))
        actions = candidates[chosen].mean(axis=0).astype(np.float32)
        return PlanResult(actions=actions, scores=distance, chosen=chosen, stats=stats)

    def _branch(self, snapshot: Any, chunk: np.ndarray, target: dict[str, np.ndarray]) -> tuple:
        """Execute ``chunk`` [p, Da] from ``snapshot``: (success at any step, goal progress, state distance)."""
        self._env.restore(snapshot)
        low, high = self._bounds  # out-of-range actions are clipped, as the episode loop does by default
        quiet = {"cameras": ()} if getattr(self._env, "renders_on_demand", False) else {}  # positions only
        success, obs = False, {}
        for action in chunk:
            obs, info = self._env.step(np.clip(action, low, high), **quiet)
            success = success or bool(info.get("success"))
        progress_fn = getattr(self._env, "goal_progress", None)
        progress = float(sum(progress_fn())) if progress_fn is not None else 0.0
        return success, progress, state_distance(positions(obs), target)

    def _compare_world_model(
        self, obs: Obs, goal: np.ndarray, candidates: np.ndarray, world_model: WorldModel, order: np.ndarray,
        distance: np.ndarray,
    ) -> dict[str, Any]:  # fmt: skip
        """wm_topk's scores of the same candidates, and how well they rank them against the truth."""
        t_wm = time.perf_counter()
        scores = score_candidates(world_model, np.asarray(obs["agentview_rgb"]), np.asarray(goal), candidates)
        k = self.options.top_k
        wm_best = set(np.argsort(scores, kind="stable")[:k].tolist())
        finite = np.isfinite(distance)
        rho = float("nan")
        if finite.sum() > 2 and np.ptp(distance[finite]) > 0 and np.ptp(scores[finite]) > 0:
            rho = float(spearmanr(scores[finite], distance[finite]).statistic)
        return {
            "wm_calls": 1,
            "wm_s": round(time.perf_counter() - t_wm, 4),
            "wm_scores": [round(float(s), 5) for s in scores],
            "spearman": None if not np.isfinite(rho) else round(float(rho), 4),
            "topk_hit": round(len(wm_best & set(order[:k].tolist())) / k, 4),
        }
