"""Deterministic assignment of (task, scene, seed) to episodes, independent of worker count."""

from __future__ import annotations

import numpy as np

from harness.errors import HarnessError
from harness.protocols import EpisodeSpec, TaskSpec
from harness.engine.scenes import EVAL


def episode_seed(run_seed: int, task_id: int, episode: int) -> int:
    """A 31-bit seed derived from (run seed, task id, episode number) with NumPy's SeedSequence."""
    return int(np.random.SeedSequence([run_seed, task_id, episode]).generate_state(1)[0] >> 1)


def episodes_for(task: TaskSpec, episodes_per_task: int | None, first_episode: int) -> range:
    """Episode numbers of one task: ``first_episode`` onwards, ``episodes_per_task`` of them (None: every
    remaining evaluation scene). Evaluation scenes never wrap: asking for more than the task has is an error
    (a deterministic repeat is not a new sample)."""
    available = task.num_init_states - first_episode
    count = available if episodes_per_task is None else episodes_per_task
    if count < 1 or first_episode + count > task.num_init_states:
        raise HarnessError(
            f"task {task.name!r} has {task.num_init_states} evaluation scenes; episodes {first_episode}.."
            f"{first_episode + count - 1} were asked for (lower --episodes-per-task / --first-episode; "
            "scenes are never repeated)"
        )
    return range(first_episode, first_episode + count)


def make_episodes(
    tasks: list[TaskSpec], episodes_per_task: int | None, run_seed: int, first_episode: int = 0
) -> list[EpisodeSpec]:
    """Task-major list of evaluation episodes; episode i of a task runs on evaluation scene i.

    ``first_episode`` starts the numbering later (a second batch of new episodes whose keys and seeds do
    not collide with an earlier run's, so both can be pooled or paired)."""
    specs: list[EpisodeSpec] = []
    for task in tasks:
        for e in episodes_for(task, episodes_per_task, first_episode):
            specs.append(
                EpisodeSpec(
                    index=len(specs),
                    task=task,
                    episode=e,
                    init_index=e,
                    seed=episode_seed(run_seed, task.task_id, e),
                    split=EVAL,
                )
            )
    return specs
