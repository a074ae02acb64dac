"""``direct`` planner: execute the policy's own chunk (no candidates, no world model)."""

from __future__ import annotations

import numpy as np

from harness.protocols import EpisodeSpec, Obs, PlannerOptions, PlanResult, Policy, WorldModel
from harness.registry import PLANNERS


class DirectPlanner:
    """Returns ``policy.act(obs)`` unchanged."""

    def reset(self, episode: EpisodeSpec) -> None:
        pass

    def plan(self, obs: Obs, goal: np.ndarray | None, policy: Policy, world_model: WorldModel | None) -> PlanResult:
        return PlanResult(actions=policy.act(obs), stats={"policy_calls": 1})


@PLANNERS.register("direct")
def build_direct(options: PlannerOptions | None = None) -> DirectPlanner:
    return DirectPlanner()
