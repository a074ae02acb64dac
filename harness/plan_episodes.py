"""Deterministic assignment of (task, init state, seed) to episodes, independent of worker count."""

from __future__ import annotations

import numpy as np

from harness.protocols import EpisodeSpec, TaskSpec


def episode_seed(run_seed: int, task_id: int, episode: int) -> int:
    """A 31-bit seed derived from (run seed, task id, episode number) with NumPy's SeedSequence."""
    return int(np.random.SeedSequence([run_seed, task_id, episode]).generate_state(1)[0] >> 1)


def make_episodes(
    tasks: list[TaskSpec], episodes_per_task: int, run_seed: int, first_episode: int = 0
) -> list[EpisodeSpec]:
    """Task-major episode list; episode i of a task uses init state i (mod the number of init states).

    ``first_episode`` starts the numbering later (a second batch of new episodes whose keys and seeds do
    not collide with an earlier run's, so both can be pooled or paired)."""
    specs: list[EpisodeSpec] = []
    for task in tasks:
        for e in range(first_episode, first_episode + episodes_per_task):
            specs.append(
                EpisodeSpec(
                    index=len(specs),
                    task=task,
                    episode=e,
                    init_index=e % task.num_init_states,
                    seed=episode_seed(run_seed, task.task_id, e),
                )
            )
    return specs
