"""Test-only: a policy that hangs (like a deadlocked simulator or renderer) in episode 1 of every task.

Registered through HARNESS_PLUGINS=tests.plugins,tests.hang_plugin (also in worker processes).
"""

from __future__ import annotations

import time

from harness.protocols import EpisodeSpec, Obs
from harness.registry import POLICIES
from tests.plugins import GreedyPolicy


class HangingPolicy(GreedyPolicy):
    """Blocks for ten minutes on the first step of episode 1; behaves like ``greedy`` otherwise."""

    def reset(self, episode: EpisodeSpec) -> None:
        super().reset(episode)
        self.hang = episode.episode == 1

    def act(self, obs: Obs):  # type: ignore[no-untyped-def]
        if self.hang:
            time.sleep(600)
        return super().act(obs)


POLICIES.register("hanging")(lambda checkpoint=None: HangingPolicy())
