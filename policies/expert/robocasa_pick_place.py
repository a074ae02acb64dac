"""Scripted pick-and-place skills for RoboCasa's atomic pick-place tasks (privileged state; every action a function
of that step's observation). Scripted: PickPlaceCounterToDrawer.

Counter -> drawer (RoboCasa opens the drawer at reset; success: the object's bounding box inside the drawer's
interior, not touching a counter, gripper >= 25 cm from it). Phases, re-derived each step:
- released (the object below the counter top and out in front of the counter's edge, fingers not on it): open and
  rise ``RETREAT`` above the counter;
- holding (``robocasa_grasp.holding``): lift until the object clears the counter top by ``CLEARANCE``, carry it
  level over the drop point while turning its long axis across the drawer, lower it to ``DROP`` above the
  drawer's floor, open;
- otherwise: the top-down grasp of ``robocasa_grasp``.
The drop point is the middle of the strip of the drawer's interior that sticks out in front of the counter's edge
(the rest lies under the counter top), centred across the drawer. The base steps sideways while the object or the
drop point is more than ``CENTRE_SIDE`` to its side, and backs up while the drop point is less than ``REACH_AHEAD``
in front of it (RoboCasa parks the robot close to the drawer it opened).
"""

from __future__ import annotations

import numpy as np

from policies.expert.robocasa_drawers import drawer_geometry
from policies.expert.robocasa_grasp import grasp_view, holding, reach_and_grasp
from policies.expert.robocasa_motion import (
    ACTION_DIM, CLOSING_AXIS, arm_action, down_frame, in_base_frame, rotation_error, yaw_target,
)  # fmt: skip

CLEARANCE = 0.06  # m between the object's bottom and the counter top while carrying
DROP = 0.015  # m between the object's bottom and the drawer floor when the fingers open
RETREAT = 0.35  # m above the counter top after letting go (success needs the gripper >= 25 cm from the object)
REACH_AHEAD = 0.30  # m: the base backs up while the drop point is closer than this ahead of it
CENTRE_SIDE = 0.15  # m: the base steps sideways while its goal is further than this to its side
BASE_GAIN = 8.0  # base action per metre of excess (RoboCasa's base: ~3.5 cm / step at 1.0 sideways)
HAND_HALF = 0.11  # m: half the Panda hand's span along its closing axis (+ 1 cm), kept clear of the counter's edge
PALM_DROP = 0.03  # m: the grasp site goes at most this far below the counter top (the palm stays above it)
ALIGN = 0.015  # m over the drop point before lowering
ALIGN_YAW = 0.1  # rad


def _counter_top(p: dict) -> float:
    return float(np.asarray(p["fixture:counter:pos"])[2] + np.asarray(p["fixture:counter:size"])[2] / 2)


def base_towards(p: dict, point: np.ndarray) -> float:
    """The base's sideways action entry bringing ``point`` within ``CENTRE_SIDE`` of its centre line."""
    side = float(in_base_frame(p, np.asarray(point) - np.asarray(p["base_pos"]))[1])
    excess = abs(side) - CENTRE_SIDE
    return float(np.sign(side) * np.clip(BASE_GAIN * excess, 0.0, 1.0)) if excess > 0 else 0.0


def drop_point(p: dict, half: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """(drop point of the object's centre [3], the drawer's outward direction [3], the counter edge's coordinate
    along it) for an object of half extents ``half`` (object frame)."""
    _, _, out, _, _ = drawer_geometry(p)
    p0, px, py, pz = np.asarray(p["fixture:drawer:interior"])
    ends = (float(np.dot(p0, out)), float(np.dot(py, out)))
    outer = max(ends)
    edge = float(np.dot(np.asarray(p["fixture:counter:pos"]), out) + np.asarray(p["fixture:counter:size"])[1] / 2)
    # the middle of the strip, moved out until the hand clears the counter's edge, but never so far that the
    # object (its narrow side along ``out`` while carried) would overhang the drawer's front wall
    inner_limit = outer - float(np.min(half[:2])) - 0.01
    along = min(max((max(edge, min(ends)) + outer) / 2, edge + HAND_HALF), inner_limit)
    centre = p0 + (px - p0) / 2 + (py - p0) / 2
    point = centre + (along - float(np.dot(centre, out))) * out
    point[2] = p0[2] + half[2] + DROP
    return point, out, edge


def counter_to_drawer(p: dict) -> np.ndarray:
    """float64 [12]: one step of moving the task's object from the counter into the open drawer."""
    view = grasp_view(p)
    eef, obj = view.eef, view.centre
    target, out, edge = drop_point(p, view.half)
    top = _counter_top(p)
    action = np.zeros(ACTION_DIM)
    in_front = float(np.dot(obj, out)) > edge and obj[2] < top
    if in_front and not holding(view):  # let go: open, rise
        action[:6] = arm_action(p, np.array([eef[0], eef[1], top + RETREAT]), view.goal_mat)
        action[6] = -1.0
        return action
    if not holding(view):
        action = reach_and_grasp(p, view)
        action[8] = base_towards(p, obj)
        return action
    carry_mat = down_frame(yaw_target(out, np.asarray(p["eef_mat"])[:, CLOSING_AXIS]))
    carry_z = top + CLEARANCE + view.half[2] + (eef[2] - obj[2])  # grasp site height carrying the object level
    lateral = float(np.linalg.norm(target[:2] - obj[:2]))
    action[6] = 1.0
    if lateral > ALIGN or rotation_error(p, carry_mat) > ALIGN_YAW:
        if obj[2] - view.half[2] < top + CLEARANCE - 0.02 and not in_front:  # lift first, then carry level
            goal = np.array([eef[0], eef[1], carry_z])
        else:
            goal = np.array([eef[0] + target[0] - obj[0], eef[1] + target[1] - obj[1], carry_z])
        action[:6] = arm_action(p, goal, carry_mat)
    else:
        low = max(target[2] + (eef[2] - obj[2]), top - PALM_DROP)
        action[:6] = arm_action(p, np.array([eef[0], eef[1], low]), carry_mat, max_step=0.6)
        if eef[2] < low + 0.01:
            action[6] = -1.0
    ahead = float(in_base_frame(p, target - np.asarray(p["base_pos"]))[0])
    action[7] = -1.0 if ahead < REACH_AHEAD else 0.0
    action[8] = base_towards(p, target)
    return action
