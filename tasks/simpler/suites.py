"""``simpler_bridge``: SIMPLER's four WidowX Bridge tasks through ManiSkill3 (registered in SUITES)."""

from __future__ import annotations

import math
from typing import Any

from harness.protocols import TaskSpec
from harness.registry import SUITES
from tasks.suite import SimSuite

# (name, ManiSkill env id, instruction, horizon, scene configurations, models used)
BRIDGE_TASKS = (
    (
        "put_carrot_on_plate",
        "PutCarrotOnPlateInScene-v1",
        "put carrot on plate",
        60,
        24,
        ("bridge_carrot_generated_modified", "bridge_plate_objaverse_larger"),
    ),
    (
        "put_spoon_on_towel",
        "PutSpoonOnTableClothInScene-v1",
        "put the spoon on the towel",
        60,
        24,
        ("bridge_spoon_generated_modified", "table_cloth_generated_shorter"),
    ),
    (
        "stack_green_block_on_yellow_block",
        "StackGreenCubeOnYellowCubeBakedTexInScene-v1",
        "stack the green block on the yellow block",
        60,
        24,
        ("baked_green_cube_3cm", "baked_yellow_cube_3cm"),
    ),
    (
        "put_eggplant_in_basket",
        "PutEggplantInBasketScene-v1",
        "put eggplant into yellow basket",
        120,
        64,
        ("eggplant",),
    ),
)
HALF_PI = math.pi / 2
ACTION_LOW = (-1.0, -1.0, -1.0, -HALF_PI, -HALF_PI, -HALF_PI, -1.0)
ACTION_HIGH = (1.0, 1.0, 1.0, HALF_PI, HALF_PI, HALF_PI, 1.0)


def _tasks() -> tuple[TaskSpec, ...]:
    return tuple(
        TaskSpec(
            suite="simpler_bridge",
            task_id=i,
            name=name,
            instruction=instruction,
            max_steps=horizon,
            num_init_states=n_configs,
            action_low=ACTION_LOW,
            action_high=ACTION_HIGH,
            extra=(("env_id", env_id), ("video_fps", "5")),
        )
        for i, (name, env_id, instruction, horizon, n_configs, _) in enumerate(BRIDGE_TASKS)
    )


def _build_env(task: TaskSpec, **options: Any):  # type: ignore[no-untyped-def]
    from tasks.simpler.env import SimplerBridgeEnv

    return SimplerBridgeEnv(task, **options)


def _notes() -> list[str]:
    from tasks.simpler.assets import stand_in_notes

    models = tuple(m for *_, used in BRIDGE_TASKS for m in used)
    return stand_in_notes(models)


@SUITES.register("simpler_bridge")
def build_simpler_bridge() -> SimSuite:
    return SimSuite(
        name="simpler_bridge",
        description="SIMPLER WidowX Bridge tasks (ManiSkill3, CPU)",
        headline="success_at_end",  # SIMPLER runs the full horizon and scores the final state
        # BAKU trained here (GPU) on training-scene demos: 40/96 on the evaluation scenes (see its measured.json)
        default_policy="baku",
        default_checkpoint="policies/checkpoints/simpler_bridge_baku_gpu",
        load_tasks=_tasks,
        build_env=_build_env,
        notes=_notes,
        embodiment="widowx",
        gripper_close_sign=-1.0,  # SIMPLER Bridge: +1 open, -1 closed (absolute target)
        expert="policies.expert.simpler_bridge:BridgeExpert",
        training_scenes="placements sampled in the evaluation grid's ranges, never within 5 mm of a grid configuration",
        contact_metric="grasped",
        default_workers=1,  # measured: SAPIEN's CPU renderer already uses both cores; 2 workers were slower
    )
