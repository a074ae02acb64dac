"""``direct`` planner: execute the policy's own chunk (no candidates, no world model)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from harness.engine.render import ObservationNeeds
from planners.setup import resolve_options
from harness.protocols import EpisodeSpec, Obs, PlannerOptions, PlanResult, Policy, WorldModel
from harness.registry import PLANNERS


@PLANNERS.register("direct")
class DirectPlanner:
    """Executes ``policy.act(obs)``: the first ``policy.execute_steps`` steps where the policy declares them
    (a chunk policy's ``n_action_steps``), else the whole chunk."""

    @dataclass(frozen=True)
    class Options:
        def validate(self) -> None:
            pass

    needs_world_model: ClassVar[bool] = False
    needs_goal: ClassVar[bool] = False
    observation_needs: ClassVar[ObservationNeeds] = ObservationNeeds(history=0, cameras=())  # only the policy reads

    def __init__(self, options: PlannerOptions | None = None):
        self.options = resolve_options(self.Options, options)

    def executed_steps(self) -> int | None:
        return None

    def reset(self, episode: EpisodeSpec) -> None:
        pass

    def plan(self, obs: Obs, goal: np.ndarray | None, policy: Policy, world_model: WorldModel | None) -> PlanResult:
        chunk = policy.act(obs)
        steps = getattr(policy, "execute_steps", None)
        return PlanResult(actions=chunk[:steps] if steps else chunk, stats={"policy_calls": 1})
