"""What the harness checks about a planner before a run starts, and how planner options are resolved.

A planner class declares (class attributes, no name matching elsewhere):
    Options:            frozen dataclass of the knobs it uses (fields named like the CLI flags), with a
                        ``validate()`` that raises HarnessError
    needs_world_model:  bool: it cannot plan without ``--world-model``
    needs_goal:         bool: it cannot plan without goal images (``--goal subgoals|final``)
    needs_simulator:    bool (optional): it branches the real simulator (``attach_simulator(env, goals)`` is
                        called before each episode); only suites declaring ``branchable`` run it
    observation_needs:  ObservationNeeds (harness.engine.render): what it reads of the observations itself,
                        beyond what the policy reads (undeclared: every camera of every step)
and implements ``executed_steps() -> int | None``: env steps it executes per decision (None: whatever the
policy's own chunk says). Flags a planner does not declare are never checked against it.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from harness.errors import HarnessError
from harness.protocols import PlannerOptions


def resolve_options(options_cls: type, given: Any | None) -> Any:
    """A component's own Options from the flags that were given (a PlannerOptions / PolicyOptions; None fields
    keep the component's default)."""
    names = {f.name for f in dataclasses.fields(options_cls)}
    values = {k: v for k, v in dataclasses.asdict(given or PlannerOptions()).items() if k in names and v is not None}
    options = options_cls(**values)
    options.validate()
    return options


def unused_options(component: Any, given: Any) -> list[str]:
    """Flags given explicitly that this planner (or policy factory) does not declare in its ``Options``
    (the caller prints a note); a component without ``Options`` uses none."""
    declared = getattr(component, "Options", None)
    names = {f.name for f in dataclasses.fields(declared)} if declared is not None else set()
    return [k for k, v in dataclasses.asdict(given).items() if v is not None and k not in names]


def check_planner_setup(
    planner: Any,
    policy: Any,
    world_model: Any | None,
    goal_mode: str,
    suite_has_expert: bool,
    name: str = "",
    suite_branchable: bool = False,
) -> None:
    """Every mismatch between planner, policy, world model and goals as one HarnessError line.

    ``planner``: a built planner; ``policy``: a built policy (``chunk_length`` = steps it predicts per call,
    None when it does not say); ``world_model``: built or None (``segment`` env steps per model step)."""
    name = name or type(planner).__name__
    if planner.needs_world_model and world_model is None:
        raise HarnessError(f"planner {name} needs a world model: --world-model NAME --wm-checkpoint DIR")
    if getattr(planner, "needs_simulator", False) and not suite_branchable:
        raise HarnessError(
            f"planner {name} branches the simulator (snapshot, try every candidate, restore); this suite's envs "
            "cannot snapshot and restore their state"
        )
    if planner.needs_goal and goal_mode == "none":
        raise HarnessError(f"planner {name} scores candidates against goal images: pass --goal subgoals or final")
    if goal_mode != "none" and not suite_has_expert:
        raise HarnessError("--goal needs the suite's scripted expert (it records the goal images); this suite has none")
    steps = planner.executed_steps()
    chunk = getattr(policy, "chunk_length", None)
    if steps is not None and chunk is not None and steps > chunk:
        raise HarnessError(
            f"--subgoal-every {steps} exceeds the policy's predicted chunk ({chunk} steps): a planner can execute "
            f"at most the steps the policy predicts"
        )
    if planner.needs_world_model and world_model is not None and steps is not None and steps % world_model.segment:
        raise HarnessError(
            f"--subgoal-every {steps} must be a multiple of the world model's segment ({world_model.segment} env "
            f"steps) so the rollout ends exactly at the subgoal's time"
        )


def build_world_model(name: str, checkpoint: str | None, suite: Any) -> Any:
    """A registered world model for ``suite``'s robot: the factory gets ``embodiment=suite.embodiment`` when it
    takes one, and a model that declares another robot is refused (one HarnessError line)."""
    import inspect

    from harness.registry import WORLD_MODELS

    factory = WORLD_MODELS.get(name)
    robot = getattr(suite, "embodiment", "") or None
    takes_embodiment = "embodiment" in inspect.signature(factory).parameters
    model = factory(checkpoint=checkpoint, embodiment=robot) if takes_embodiment else factory(checkpoint=checkpoint)
    declared = getattr(model, "embodiment", None)
    if declared and robot and declared != robot:
        raise HarnessError(
            f"world model {name} ({checkpoint}) predicts the {declared} robot's actions; suite {suite.name} "
            f"runs the {robot}"
        )
    return model
