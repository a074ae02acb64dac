"""Privileged-state scripted expert for RoboCasa: ``robocasa_pick_lift`` here, ``robocasa_atomic``'s OpenDrawer /
CloseDrawer in ``robocasa_drawers.py`` and PickPlaceCounterToDrawer in ``robocasa_pick_place.py`` (the cabinet tasks
and the other pick-place tasks are not scripted yet); the top-down grasp in ``robocasa_grasp.py``.

Every action is a function of that step's observation (``privileged``: world-frame poses of the robot base, end
effector, object and counter; finger joints and their velocities), so observation -> action is well defined for
behaviour cloning. Arm actions are RoboCasa's OSC deltas in the base frame (1.0 = 5 cm / 0.5 rad): a clipped
proportional step toward a goal pose that points the gripper straight down, its fingers closing across the
object's narrow horizontal axis. The base, torso and base-mode entries stay 0 (the drawer skills move the base).

Pick-and-lift, phases re-derived each step:
- placed (>= 12 cm from its start, within 3.5 cm of its start height): open, then rise 30 cm above it;
- holding (fingers settled on the object, object within 4 cm of the grasp site): carry it ``CARRY`` above its
  start height to ``PLACE_OFFSET`` beside its start (lateral in the base frame, towards the counter's centre),
  lower it to 1 cm above its start height, open;
- otherwise: the top-down grasp (``robocasa_grasp.reach_and_grasp``).
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from harness.errors import HarnessError
from harness.protocols import EpisodeSpec, Obs, TaskSpec
from policies.expert.robocasa_drawers import close_drawer, open_drawer
from policies.expert.robocasa_grasp import grasp_view, holding, reach_and_grasp
from policies.expert.robocasa_motion import ACTION_DIM, OPEN_WIDTH, arm_action
from policies.expert.robocasa_pick_place import counter_to_drawer

CARRY = 0.07  # m above the start height while carrying (S.R.L. needs 0.05; higher stalls the arm far out)
PLACE_OFFSET = 0.18  # m beside the start (success needs >= 0.10)


class RoboCasaExpert:
    """See module docstring."""

    def __init__(self) -> None:
        self.task = ""

    @staticmethod
    def unsupported(task: TaskSpec) -> str | None:
        """Why this expert cannot run ``task`` (None: it can)."""
        if task.get("robocasa_env") in SKILLS:
            return None
        return f"{task.suite}: no scripted expert for {task.name} yet (scripted: {', '.join(SKILLS)})"

    def reset(self, episode: EpisodeSpec) -> None:
        reason = self.unsupported(episode.task)
        if reason:
            raise HarnessError(reason)
        self.task = str(episode.task.get("robocasa_env"))

    def act(self, obs: Obs) -> np.ndarray:
        """float32 [1, 12]."""
        return SKILLS[self.task](obs["privileged"])[None].astype(np.float32)

    @staticmethod
    def act_pick_lift(p: dict) -> np.ndarray:
        view = grasp_view(p)
        eef, obj = view.eef, view.centre
        start = np.asarray(p["obj:obj:start_pos"]) + (obj - np.asarray(p["obj:obj:pos"]))  # start of the centre
        target = _place_target(p, start)
        action = np.zeros(ACTION_DIM)
        moved = float(np.linalg.norm(obj[:2] - start[:2]))
        if moved >= 0.12 and abs(obj[2] - start[2]) < 0.035:  # lowered beside its start: let go, then rise
            if view.near and view.width < OPEN_WIDTH:
                action[:6] = arm_action(p, eef, view.goal_mat)
            else:
                action[:6] = arm_action(p, np.array([eef[0], eef[1], max(eef[2], obj[2] + 0.30)]), view.goal_mat)
            action[6] = -1.0
            return action
        if not holding(view):
            return reach_and_grasp(p, view)
        carry_z = start[2] + CARRY + (eef[2] - obj[2])
        lateral = float(np.linalg.norm(target[:2] - obj[:2]))
        if lateral > 0.015:
            if obj[2] < start[2] + CARRY - 0.02:  # lift first, then carry level
                goal = np.array([eef[0], eef[1], carry_z])
            else:
                goal = np.array([eef[0] + target[0] - obj[0], eef[1] + target[1] - obj[1], carry_z])
            action[:6] = arm_action(p, goal, view.goal_mat)
            action[6] = 1.0
            return action
        low = start[2] + 0.01 + (eef[2] - obj[2])
        action[:6] = arm_action(p, np.array([eef[0], eef[1], low]), view.goal_mat)
        action[6] = 1.0 if eef[2] > low + 0.01 else -1.0
        return action


def _place_target(p: dict, start: np.ndarray) -> np.ndarray:
    """``PLACE_OFFSET`` from the start along the base's lateral axis, towards the counter's centre."""
    lateral = np.asarray(p["base_mat"])[:, 1]
    centre = np.asarray(p.get("fixture:counter:pos", start))
    sign = 1.0 if float(np.dot(centre[:2] - start[:2], lateral[:2])) >= 0 else -1.0
    return start + sign * PLACE_OFFSET * lateral


# RoboCasa env name -> privileged dict -> float64 [12]
SKILLS: dict[str, Callable[[dict], np.ndarray]] = {
    "CounterPickLift": RoboCasaExpert.act_pick_lift,
    "OpenDrawer": open_drawer,
    "CloseDrawer": close_drawer,
    "PickPlaceCounterToDrawer": counter_to_drawer,
}
