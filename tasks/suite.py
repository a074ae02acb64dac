"""A suite = a named task list + an env factory; concrete suites live in tasks/<simulator>/suites.py."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from harness.errors import HarnessError
from harness.protocols import TaskEnv, TaskSpec


@dataclass(frozen=True)
class SimSuite:
    """A benchmark suite.

    Attributes:
        name: registry name (``libero_long``).
        description: one line for ``python -m harness.suites``.
        headline: metric reported as "success" ("success_once" or "success_at_end").
        default_policy: policy used when ``--policy`` is not given.
        load_tasks: returns the suite's TaskSpecs (may import the simulator).
        build_env: builds a TaskEnv for one TaskSpec.
        notes: returns asset-fidelity notes (stand-ins used), empty when the original scene is used.
        aliases: other names for the same suite.
        default_checkpoint: checkpoint of the default policy (a folder shipped in the repository), if any.
        default_workers: worker processes used when ``--workers`` is not given (see benchmarks/).
        state_only_env: ``build_env(task, cameras=False)`` gives a render-free env whose states can be
            rendered later with ``obs_from_state`` (fast data generation).
        quat_order: quaternion order of poses in observations ("xyzw" or "wxyz").
        embodiment: robot name shared by every suite of that robot ("panda", "widowx"); world models key
            their per-robot modules and statistics by it.
        gripper_close_sign: sign of the gripper command that closes the gripper (+1: LIBERO's Panda,
            -1: SIMPLER's WidowX). Anything that mixes actions of several robots maps the gripper to the
            common convention "+1 closes" by multiplying with it (``gripper_closing``).
        gripper_action_index: where the gripper command sits in the action vector (-1: last, as LIBERO's and
            SIMPLER's; RoboCasa's PandaOmron: 6, followed by its base, torso and base-mode entries).
        branchable: its envs snapshot and restore the simulator (``snapshot()`` / ``restore(snapshot)``, the
            controllers' state included), so a planner that branches the real simulator (``oracle_topk``,
            ``needs_simulator``) can run on it.
        expert: "module:Class" of the scripted expert for this suite (privileged state; None: no expert),
            run by the ``expert`` policy, for demonstrations and goal images.
        training_scenes: how the suite's envs sample training scenes (``reset(k, seed, split="train")``),
            shown by ``python -m harness.suites``; empty: the suite has none, and demonstrations cannot be
            generated for it (its evaluation scenes are the TaskSpec's ``num_init_states`` fixed scenes).
        contact_metric / lift_metric: names of the per-step info flags that mean "object grasped" and
            "object lifted" (None where the simulator reports none); S.R.C. / S.R.L. in comparisons.
        preflight: checks that the simulator can start on this machine (its own Python environment exists,
            rendering can work), called before a run writes anything; raises HarnessError (one line).
        unavailable: why a task cannot run on this machine (None: it can), e.g. its assets are missing. A
            selection of all tasks skips such tasks; naming one is a one-line error with that reason.
        simulator_packages: package versions of the simulator's own Python environment (suites that run in
            one, ``tasks.external``), recorded in run manifests beside the harness's own.
        world_models: shipped world-model checkpoints, ``(name, folder relative to the project root)``; the
            first is the default ``--world-model`` of a planner that needs one, and ``--world-model NAME``
            without ``--wm-checkpoint`` takes the one shipped for NAME.
        compare_defaults: ``(EvalConfig field, value)`` pairs ``harness.compare`` uses for flags that are not
            given (tasks, episodes, N, k, p sized for a run of minutes on the 2-core CPU machine).
        episode_timeout_s: wall-clock limit of one evaluation episode when ``--episode-timeout`` is not
            given (a worker over it is killed and the episode recorded as an error). Generous: LIBERO and
            SIMPLER episodes with sampling planners take a few minutes on 2 CPU cores; it only catches hangs.
    """

    name: str
    description: str
    headline: str
    default_policy: str
    load_tasks: Callable[[], tuple[TaskSpec, ...]]
    build_env: Callable[..., TaskEnv]
    notes: Callable[[], list[str]] = lambda: []
    aliases: tuple[str, ...] = field(default=())
    default_workers: int = 1
    default_checkpoint: str | None = None  # relative to the project root; used with default_policy
    state_only_env: bool = False
    quat_order: str = "wxyz"
    embodiment: str = ""
    gripper_close_sign: float = 1.0
    gripper_action_index: int = -1
    branchable: bool = False
    expert: str | None = None
    training_scenes: str = ""
    contact_metric: str | None = None
    lift_metric: str | None = None
    world_models: tuple[tuple[str, str], ...] = ()
    compare_defaults: tuple[tuple[str, Any], ...] = ()
    episode_timeout_s: float = 900.0
    preflight: Callable[[], None] = lambda: None
    unavailable: Callable[[TaskSpec], str | None] = lambda task: None
    simulator_packages: Callable[[], dict[str, str | None]] = lambda: {}

    def gripper_closing(self, command: np.ndarray) -> np.ndarray:
        """Gripper commands in this suite's convention -> the common one (+1 closes, -1 opens)."""
        return np.asarray(command) * self.gripper_close_sign

    def gripper_commands(self, actions: np.ndarray) -> np.ndarray:
        """Actions [..., Da] -> their gripper commands [...] in the common convention (+1 closes)."""
        return self.gripper_closing(np.asarray(actions)[..., self.gripper_action_index])

    def tasks(self) -> list[TaskSpec]:
        return list(self.load_tasks())

    def make_env(self, task: TaskSpec, **options: Any) -> TaskEnv:
        return self.build_env(task, **options)

    def asset_notes(self) -> list[str]:
        return self.notes()

    def select(self, selector: str | None) -> list[TaskSpec]:
        """Tasks chosen by a comma list of indices and/or names (None or "all": every task)."""
        tasks = self.tasks()
        if selector is None or selector.strip() in ("", "all"):
            runnable = [t for t in tasks if self.unavailable(t) is None]
            if not runnable:
                raise HarnessError(f"{self.name}: no task can run on this machine: {self.unavailable(tasks[0])}")
            return runnable
        by_name = {t.name: t for t in tasks}
        chosen: list[TaskSpec] = []
        for item in (s.strip() for s in selector.split(",")):
            if item.lstrip("-").isdigit():
                idx = int(item)
                if not 0 <= idx < len(tasks):
                    raise HarnessError(f"task index {idx} out of range for {self.name} (0..{len(tasks) - 1})")
                task = tasks[idx]
            elif item in by_name:
                task = by_name[item]
            else:
                raise HarnessError(
                    f"unknown task {item!r} in suite {self.name}; see: python -m harness.suites {self.name}"
                )
            reason = self.unavailable(task)
            if reason is not None:
                raise HarnessError(f"{self.name} task {task.name}: {reason}")
            if task not in chosen:
                chosen.append(task)
        return chosen
