"""What the planners that draw candidates from the policy share: their options, the executed horizon, and a
candidate stream seeded by the episode (the same stream for every sampling planner, so vla_mean and wm_topk
see the same candidates on the same episode)."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from harness.errors import EpisodeError, HarnessError
from harness.protocols import EpisodeSpec, PlannerOptions
from planners.setup import resolve_options

DEFAULT_STEPS = 10  # p for every sampling planner: the same decision times, a multiple of the 5-step WM segment


class SamplingPlanner:
    """Base of ``vla_random``, ``vla_mean`` and ``wm_topk`` (subclasses declare ``Options`` with ``subgoal_every``)."""

    Options: ClassVar[type]

    def __init__(self, options: PlannerOptions | None = None):
        self.options: Any = resolve_options(self.Options, options)
        self._rng = np.random.default_rng(0)

    def executed_steps(self) -> int:
        """p: env steps executed per decision (= the spacing of subgoal images)."""
        return self.options.subgoal_every

    def reset(self, episode: EpisodeSpec) -> None:
        self._rng = np.random.default_rng([episode.seed, 1])

    def first_steps(self, samples: np.ndarray) -> np.ndarray:
        """[N, L, Da] -> the first p steps [N, p, Da]; a policy that predicts fewer than p steps fails the
        episode (an error, never a silently shorter decision)."""
        p = self.options.subgoal_every
        if samples.ndim != 3 or samples.shape[1] < p:
            raise EpisodeError(f"policy sampled chunks of shape {samples.shape}; the planner executes p={p} steps")
        return samples[:, :p]


def check_top_k_options(planner: str, subgoal_every: int, top_k: int, n_samples: int) -> None:
    """The option checks of a planner that averages the k best of N candidates executed for p steps."""
    if subgoal_every < 1:
        raise HarnessError(f"--subgoal-every must be >= 1, got {subgoal_every}")
    if not 1 <= top_k <= n_samples:
        raise HarnessError(f"{planner} needs 1 <= --top-k <= --n-samples, got k={top_k}, N={n_samples}")
