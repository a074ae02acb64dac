"""SIMPLER's Google Robot "visual matching" evaluation grids (SimplerEnv ``scripts/rt1_*_visual_matching.sh``;
../shared/docs/reference/simpler-google-robot.md sections 3-6). Plain Python: imported on both sides of the
process boundary.

Evaluation scene i of a task is one (URDF recolour, robot pose / overlay, object cell) of the script's grid,
enumerated in the script's loop order (URDF outermost). Training scenes sample the same ranges with seeds
disjoint from evaluation and never within 5 mm of a grid cell (``training_scene``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

URDF_VERSIONS = (None, "recolor_tabletop_visual_matching_1", "recolor_tabletop_visual_matching_2",
                 "recolor_cabinet_visual_matching_1")  # fmt: skip
TRAIN_SEED_BASE = 1_000_003

# coke can: x outer, y inner (np.linspace of the script's ranges); robot at (0.35, 0.20), yaw pi
COKE_X = tuple(np.linspace(-0.35, -0.12, 5).round(6).tolist())
COKE_Y = tuple(np.linspace(-0.02, 0.42, 5).round(6).tolist())
COKE_ORIENTATIONS = {"horizontal": "lr_switch", "vertical": "laid_vertically", "standing": "upright"}
# move near: episode ids whose three objects all have visual meshes offline (triplet 1: 7up can, apple, sponge;
# the other triplets need blue_plastic_bottle / redbull can meshes that are missing; see MISSING_MESH_TRIPLETS)
MOVE_NEAR_COMPLETE_IDS = tuple(range(12, 24))
MISSING_MESH_TRIPLETS = (0, 2, 3, 4)
# drawers: (overlay, robot x, robot y, yaw offset) for a0..c2
DRAWER_POSES = (
    ("open_drawer_a0.png", 0.644, -0.179, -0.03),
    ("open_drawer_a1.png", 0.765, -0.182, -0.02),
    ("open_drawer_a2.png", 0.889, -0.203, -0.06),
    ("open_drawer_b0.png", 0.652, 0.009, 0.0),
    ("open_drawer_b1.png", 0.752, 0.009, 0.0),
    ("open_drawer_b2.png", 0.851, 0.035, 0.0),
    ("open_drawer_c0.png", 0.665, 0.224, 0.0),
    ("open_drawer_c1.png", 0.765, 0.222, -0.025),
    ("open_drawer_c2.png", 0.865, 0.222, -0.025),
)
APPLE_POSES = (DRAWER_POSES[0], DRAWER_POSES[3], DRAWER_POSES[6])  # a0, b0, c0
APPLE_X = (-0.08, -0.05, -0.02)
APPLE_Y = (-0.02, 0.03, 0.08)


@dataclass(frozen=True)
class Family:
    """One SIMPLER task as the harness lists it."""

    name: str
    env_id: str
    instruction: str  # at reset (the apple task changes it at its second phase)
    horizon: int
    kind: str  # "coke_can" | "move_near" | "drawer" | "apple"
    option: str = ""  # coke-can orientation flag / drawer name


FAMILIES = (
    *(Family(f"pick_coke_can_{o}", "GraspSingleOpenedCokeCanInScene-v0", "pick coke can", 80, "coke_can", flag)
      for o, flag in COKE_ORIENTATIONS.items()),
    Family("move_near", "MoveNearGoogleBakedTexInScene-v0", "move 7up can near apple", 80, "move_near"),
    *(Family(f"{verb}_{d}_drawer", f"{verb.capitalize()}{d.capitalize()}DrawerCustomInScene-v0",
             f"{verb} {d} drawer", 113, "drawer", d)
      for verb in ("open", "close") for d in ("top", "middle", "bottom")),
    Family("place_apple_in_closed_top_drawer", "PlaceIntoClosedTopDrawerCustomInScene-v0", "open top drawer", 200,
           "apple"),
)  # fmt: skip
FAMILY_GROUPS = {  # SIMPLER's reported rows: the mean over the tasks of each group
    "pick coke can": tuple(f.name for f in FAMILIES if f.kind == "coke_can"),
    "move near": ("move_near",),
    "open drawer": tuple(f.name for f in FAMILIES if f.name.startswith("open_")),
    "close drawer": tuple(f.name for f in FAMILIES if f.name.startswith("close_")),
    "apple in top drawer": ("place_apple_in_closed_top_drawer",),
}


def build_kwargs(family: Family) -> dict[str, Any]:
    """The task's extra environment arguments in SimplerEnv's visual-matching scripts (the stage is not here:
    see ``tasks.simpler_google.sim_env.STAGES``)."""
    if family.kind == "coke_can":
        return {family.option: True}
    if family.kind in ("drawer", "apple"):
        extra: dict[str, Any] = {"station_name": "mk_station_recolor", "light_mode": "simple"}
        extra["disable_bad_material"] = True
        return {**extra, "model_ids": "baked_apple_v2"} if family.kind == "apple" else extra
    return {}


def num_eval_scenes(family: Family) -> int:
    per_urdf = {"coke_can": 25, "move_near": len(MOVE_NEAR_COMPLETE_IDS), "drawer": 9, "apple": 27}[family.kind]
    return len(URDF_VERSIONS) * per_urdf


def _robot(x: float, y: float, yaw_offset: float = 0.0) -> dict[str, Any]:
    yaw = math.pi + yaw_offset  # robot yaw about z, as wxyz quaternion (transforms3d euler2quat(0, 0, yaw))
    return {"init_xy": [x, y], "init_rot_quat": [math.cos(yaw / 2), 0.0, 0.0, math.sin(yaw / 2)]}


def eval_scene(family: Family, index: int) -> dict[str, Any]:
    """Evaluation scene ``index`` -> {"urdf_version", "overlay", "reset_options"} (SimplerEnv's arguments)."""
    per = num_eval_scenes(family) // len(URDF_VERSIONS)
    if not 0 <= index < num_eval_scenes(family):
        raise IndexError(index)
    urdf, cell = URDF_VERSIONS[index // per], index % per
    if family.kind == "coke_can":
        obj = {"init_xy": [COKE_X[cell // 5], COKE_Y[cell % 5]]}
        return _scene(urdf, "google_coke_can_real_eval_1.png", _robot(0.35, 0.20), obj)
    if family.kind == "move_near":
        return _scene(urdf, "google_move_near_real_eval_1.png", _robot(0.35, 0.21, -0.09),
                      {"episode_id": MOVE_NEAR_COMPLETE_IDS[cell]})  # fmt: skip
    if family.kind == "drawer":
        overlay, x, y, d = DRAWER_POSES[cell]
        return _scene(urdf, overlay, _robot(x, y, d), {})
    overlay, x, y, d = APPLE_POSES[cell // 9]
    obj = {"init_xy": [APPLE_X[(cell % 9) // 3], APPLE_Y[cell % 3]]}
    return _scene(urdf, overlay, _robot(x, y, d), obj)


def training_scene(family: Family, index: int) -> dict[str, Any]:
    """Training scene ``index``: URDF recolour and pose drawn from the grid's ranges with seed
    TRAIN_SEED_BASE + index; continuous cells never within 5 mm of an evaluation cell."""
    rng = np.random.default_rng(TRAIN_SEED_BASE + int(index))
    scene = eval_scene(family, int(rng.integers(num_eval_scenes(family))))
    obj = scene["reset_options"]["obj_init_options"]
    if "init_xy" in obj:
        lo, hi = ((-0.35, -0.02), (-0.12, 0.42)) if family.kind == "coke_can" else ((-0.08, -0.02), (-0.02, 0.08))
        grid = [(x, y) for x in (COKE_X if family.kind == "coke_can" else APPLE_X)
                for y in (COKE_Y if family.kind == "coke_can" else APPLE_Y)]  # fmt: skip
        while True:
            xy = rng.uniform(lo, hi)
            if min(math.dist(xy, g) for g in grid) > 0.005:
                break
        obj["init_xy"] = [float(v) for v in xy]
    else:  # drawers and move near: a robot pose jittered around the overlay's pose (the overlay stays)
        robot = scene["reset_options"]["robot_init_options"]
        robot["init_xy"] = [float(v + rng.uniform(0.006, 0.02) * rng.choice([-1, 1])) for v in robot["init_xy"]]
    return scene


def _scene(urdf: str | None, overlay: str, robot: dict[str, Any], obj: dict[str, Any]) -> dict[str, Any]:
    return {
        "urdf_version": urdf,
        "overlay": overlay,
        "reset_options": {"robot_init_options": robot, "obj_init_options": obj},
    }
