"""Privileged-state scripted expert for RoboCasa: ``robocasa_pick_lift`` here, ``robocasa_atomic``'s OpenDrawer /
CloseDrawer in ``robocasa_drawers.py`` (the cabinet and pick-place atomic tasks are not scripted yet).

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
- otherwise: open, hover ``HOVER`` above the grasp point, descend once aligned, close once there.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from harness.errors import HarnessError
from harness.protocols import EpisodeSpec, Obs, TaskSpec
from policies.expert.robocasa_motion import (
    ACTION_DIM, CLOSING_AXIS, OPEN_WIDTH, arm_action, down_frame, finger_width, fingers_settled, rotation_error,
    yaw_target,
)  # fmt: skip
from policies.expert.robocasa_drawers import close_drawer, open_drawer

HOVER = 0.10  # m above the grasp point
CARRY = 0.07  # m above the start height while carrying (S.R.L. needs 0.05; higher stalls the arm far out)
PLACE_OFFSET = 0.18  # m beside the start (success needs >= 0.10)
ALIGN_XY = 0.012  # m
ALIGN_YAW = 0.12  # rad
GRASP_TOL = 0.012  # m


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
        eef = np.asarray(p["eef_pos"])
        obj = np.asarray(p["obj:obj:center"])  # centre of its bounding box
        obj_mat = np.asarray(p["obj:obj:mat"])
        half = np.asarray(p["obj:obj:half_size"])
        start = np.asarray(p["obj:obj:start_pos"]) + (obj - np.asarray(p["obj:obj:pos"]))  # start of the centre
        width = finger_width(p)
        settled = fingers_settled(p)
        narrow = obj_mat[:, int(np.argmin(half[:2]))]
        yaw = yaw_target(narrow, np.asarray(p["eef_mat"])[:, CLOSING_AXIS])
        goal_mat = down_frame(yaw)
        # grasp point: a little above the middle, at least 2 cm below the top and 1.2 cm above the bottom, and
        # at most 3.5 cm below the top (the palm sits ~4.5 cm above the grasp site)
        top = obj[2] + half[2]
        grasp_z = max(obj[2] - half[2] + 0.012, min(obj[2] + 0.3 * half[2], top - 0.02), top - 0.035)
        grasp = np.array([obj[0], obj[1], grasp_z])
        target = _place_target(p, start)
        action = np.zeros(ACTION_DIM)
        near = float(np.linalg.norm(obj - eef)) < max(0.04, half[2])
        moved = float(np.linalg.norm(obj[:2] - start[:2]))
        if moved >= 0.12 and abs(obj[2] - start[2]) < 0.035:  # lowered beside its start: let go, then rise
            if near and width < OPEN_WIDTH:
                action[:6] = arm_action(p, eef, goal_mat)
            else:
                action[:6] = arm_action(p, np.array([eef[0], eef[1], max(eef[2], obj[2] + 0.30)]), goal_mat)
            action[6] = -1.0
            return action
        if near and width < OPEN_WIDTH and settled and width > 0.004:  # holding
            carry_z = start[2] + CARRY + (eef[2] - obj[2])
            lateral = float(np.linalg.norm(target[:2] - obj[:2]))
            if lateral > 0.015:
                if obj[2] < start[2] + CARRY - 0.02:  # lift first, then carry level
                    goal = np.array([eef[0], eef[1], carry_z])
                else:
                    goal = np.array([eef[0] + target[0] - obj[0], eef[1] + target[1] - obj[1], carry_z])
                action[:6] = arm_action(p, goal, goal_mat)
                action[6] = 1.0
                return action
            low = start[2] + 0.01 + (eef[2] - obj[2])
            action[:6] = arm_action(p, np.array([eef[0], eef[1], low]), goal_mat)
            action[6] = 1.0 if eef[2] > low + 0.01 else -1.0
            return action
        xy_err = float(np.linalg.norm(grasp[:2] - eef[:2]))
        yaw_err = rotation_error(p, goal_mat)
        # at the grasp point, or as low as the fingers go above it (flat objects: the fingertips reach the counter)
        at_grasp = xy_err < GRASP_TOL and eef[2] - grasp[2] < 0.02
        if at_grasp or (near and width < OPEN_WIDTH and xy_err < GRASP_TOL):
            action[:6] = arm_action(p, grasp, goal_mat)
            action[6] = 1.0  # close (and wait for the fingers to settle)
            return action
        if xy_err < ALIGN_XY and yaw_err < ALIGN_YAW and eef[2] < grasp[2] + HOVER + 0.02:
            action[:6] = arm_action(p, grasp, goal_mat, max_step=0.6)
        else:
            action[:6] = arm_action(p, grasp + np.array([0.0, 0.0, HOVER]), goal_mat)
        action[6] = -1.0
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
}
