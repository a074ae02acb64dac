"""``expert``: privileged-state scripted experts, one implementation per suite family.

Experts read simulator poses from ``obs["privileged"]`` (which learned policies ignore) and are
registered as a policy so the harness reports their success like any other policy's.
"""

from __future__ import annotations

import importlib

import numpy as np

from harness.errors import HarnessError
from harness.protocols import EpisodeSpec, Obs, TaskSpec
from harness.registry import POLICIES, SUITES

SAMPLE_NOISE_STD = 0.02  # declared noise that ``sample`` adds to the (deterministic) expert chunk


class ExpertPolicy:
    """Dispatches to the scripted expert the suite declares (``SimSuite.expert``, "module:Class", imported
    on the first episode of that suite). ``sample`` = expert chunk + N(0, 0.02) noise (clipped later)."""

    chunk_length = 1  # the scripted experts decide every step
    consumes_images = False  # they read obs["privileged"] only: evaluation may run render-free

    def __init__(self) -> None:
        self._impl = None
        self._impl_suite: str | None = None

    @staticmethod
    def _expert_class(suite: str) -> type:
        target = getattr(SUITES.build(suite), "expert", None)
        if not target:
            raise HarnessError(f"suite {suite!r} declares no scripted expert")
        module, cls = target.split(":")
        return getattr(importlib.import_module(module), cls)

    def check_tasks(self, tasks: list[TaskSpec]) -> None:
        """Before a run: every task has a scripted expert (experts may declare ``unsupported(task) -> reason``)."""
        for task in tasks:
            reason = getattr(self._expert_class(task.suite), "unsupported", lambda t: None)(task)
            if reason:
                raise HarnessError(reason)

    def reset(self, episode: EpisodeSpec) -> None:
        suite = episode.task.suite
        if self._impl is None or self._impl_suite != suite:
            self._impl = self._expert_class(suite)()
            self._impl_suite = suite
        self._impl.reset(episode)

    def act(self, obs: Obs) -> np.ndarray:
        """float32 [H, Da]."""
        assert self._impl is not None, "reset() first"
        return np.asarray(self._impl.act(obs), dtype=np.float32)

    def sample(self, obs: Obs, n: int, rng: np.random.Generator) -> np.ndarray:
        """float32 [n, H, Da]: the expert chunk repeated, plus declared Gaussian noise."""
        chunk = self.act(obs)
        return (chunk[None] + rng.normal(0.0, SAMPLE_NOISE_STD, size=(n, *chunk.shape))).astype(np.float32)


@POLICIES.register("expert")
def build_expert(checkpoint: str | None = None) -> ExpertPolicy:
    return ExpertPolicy()
