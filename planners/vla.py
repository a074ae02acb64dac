"""VLA-only baselines of the LAC-WM paper: ``vla_random`` (one sample) and ``vla_mean`` (mean of N samples).

Both execute the first p = ``subgoal_every`` steps of the chosen chunk, like ``wm_topk``, so the three
planners decide at the same times. They never use a world model or the goal.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from harness.engine.render import ObservationNeeds
from harness.errors import HarnessError
from harness.protocols import Obs, PlanResult, Policy, WorldModel
from harness.registry import PLANNERS
from planners.base import DEFAULT_STEPS, SamplingPlanner


def _check_steps(p: int) -> None:
    if p < 1:
        raise HarnessError(f"--subgoal-every must be >= 1, got {p}")


@PLANNERS.register("vla_random")
class VlaRandom(SamplingPlanner):
    """Executes one policy sample for p steps."""

    @dataclass(frozen=True)
    class Options:
        subgoal_every: int = DEFAULT_STEPS  # p: env steps executed per decision

        def validate(self) -> None:
            _check_steps(self.subgoal_every)

    needs_world_model: ClassVar[bool] = False
    needs_goal: ClassVar[bool] = False
    observation_needs: ClassVar[ObservationNeeds] = ObservationNeeds(history=0, cameras=())  # only the policy reads


    def plan(self, obs: Obs, goal: np.ndarray | None, policy: Policy, world_model: WorldModel | None) -> PlanResult:
        chunk = self.first_steps(policy.sample(obs, 1, self._rng))[0]  # [p, Da]
        stats = {"n": 1, "k": 1, "wm_calls": 0, "policy_calls": 1}
        return PlanResult(actions=chunk.astype(np.float32), stats=stats)


@PLANNERS.register("vla_mean")
class VlaMean(SamplingPlanner):
    """Executes the mean of N policy samples for p steps."""

    @dataclass(frozen=True)
    class Options:
        n_samples: int = 64  # N
        subgoal_every: int = DEFAULT_STEPS  # p

        def validate(self) -> None:
            _check_steps(self.subgoal_every)
            if self.n_samples < 1:
                raise HarnessError(f"--n-samples must be >= 1, got {self.n_samples}")

    needs_world_model: ClassVar[bool] = False
    needs_goal: ClassVar[bool] = False
    observation_needs: ClassVar[ObservationNeeds] = ObservationNeeds(history=0, cameras=())  # only the policy reads


    def plan(self, obs: Obs, goal: np.ndarray | None, policy: Policy, world_model: WorldModel | None) -> PlanResult:
        n = self.options.n_samples
        samples = self.first_steps(policy.sample(obs, n, self._rng))  # [N, p, Da]
        stats = {"n": n, "k": n, "wm_calls": 0, "policy_calls": 1}
        return PlanResult(actions=samples.mean(axis=0).astype(np.float32), stats=stats)
