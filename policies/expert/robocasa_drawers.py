"""Scripted drawer skills for RoboCasa's OpenDrawer / CloseDrawer (privileged state; every action a function of
that step's observation).

A drawer is a slide joint whose handle is a horizontal bar on its front. Open: the gripper points into the
drawer front (horizontal), its fingers closing across the bar; hover ``PRE`` in front of the handle, move onto
it, close, then pull along the opening direction until the drawer is ``OPEN_TARGET`` of RoboCasa's full opening
(success: >= 95 %), and let go. Close: fingers shut, line up in front of the handle and push it in past the
closed position (success: <= 5 % open). The base steps sideways while the handle is more than ``REACH_SIDE``
to its side, and backs up while pulling once the handle comes within ``REACH_BACK`` of it.
"""

from __future__ import annotations

import numpy as np

from policies.expert.robocasa_motion import (
    ACTION_DIM, OPEN_WIDTH, arm_action, approach_frame, finger_width, fingers_settled, in_base_frame,
    rotation_error,
)  # fmt: skip

PRE = 0.10  # m in front of the handle before moving onto it
ON_HANDLE = 0.015  # m: grasp site this close to the bar's centre counts as there
OPEN_TARGET = 1.03  # fraction of RoboCasa's full drawer opening (size_y * 0.55) aimed for when pulling
DRAWER_TRAVEL = 0.55  # full opening / |joint range| (RoboCasa: range size_y * [-1, 0], full opening 0.55 size_y)
PUSH_PAST = 0.03  # m beyond the closed position when pushing
DOWN = np.array([0.0, 0.0, -1.0])
REACH_SIDE = 0.55  # m: a handle further to the side of the base than this is brought closer with the base
REACH_BACK = 0.12  # m: while pulling, the base backs up when the handle is less than this ahead of it
BASE_GAIN = 8.0  # base action per metre of excess (RoboCasa's base: ~3.5 cm / step at 1.0 sideways)


def base_sideways(p: dict, point: np.ndarray) -> float:
    """The base's sideways action entry bringing ``point`` within ``REACH_SIDE`` of the base's centre line
    (RoboCasa places the robot beside a drawer by half its width + 20 cm: a 1 m wide drawer's handle is
    ~0.7 m to the side, out of the arm's reach at drawer height)."""
    side = float(in_base_frame(p, np.asarray(point) - np.asarray(p["base_pos"]))[1])
    excess = abs(side) - REACH_SIDE
    return float(np.sign(side) * np.clip(BASE_GAIN * excess, 0.0, 1.0)) if excess > 0 else 0.0


def drawer_geometry(p: dict, ref: str = "drawer") -> tuple[np.ndarray, np.ndarray, np.ndarray, float, float]:
    """(handle centre [3], bar axis [3], opening direction [3] (unit, world), opening (m), full opening (m))."""
    handle = np.asarray(p[f"fixture:{ref}:handle:door:pos"], dtype=np.float64)
    bar = np.asarray(p[f"fixture:{ref}:handle:door:axis"], dtype=np.float64)
    axis = np.asarray(p[f"fixture:{ref}:joint:door:axis"], dtype=np.float64)
    low, high = (float(v) for v in p[f"fixture:{ref}:joint:door:range"])
    qpos = float(np.asarray(p[f"fixture:{ref}:joint:door:qpos"])[0])
    sign = -1.0 if abs(low) > abs(high) else 1.0  # RoboCasa's drawers open towards negative joint values
    full = DRAWER_TRAVEL * max(abs(low), abs(high))
    return handle, bar, sign * axis, sign * qpos, full


def _relative_to_handle(p: dict, out: np.ndarray, handle: np.ndarray) -> tuple[float, float]:
    """(how far the grasp site is in front of the handle along ``out``, its distance off that line) in m."""
    offset = np.asarray(p["eef_pos"]) - handle
    along = float(np.dot(offset, out))
    return along, float(np.linalg.norm(offset - along * out))


def open_drawer(p: dict) -> np.ndarray:
    """float64 [12]: one step of opening the task's drawer."""
    handle, bar, out, opening, full = drawer_geometry(p)
    eef = np.asarray(p["eef_pos"])
    goal_mat = approach_frame(-out, np.cross(bar, out), DOWN)
    width = finger_width(p)
    action = np.zeros(ACTION_DIM)
    along, lateral = _relative_to_handle(p, out, handle)
    if opening >= 0.97 * full:  # open: let go and back off
        action[:6] = arm_action(p, eef + 0.05 * out, goal_mat)
        action[6] = -1.0
        return action
    holding = lateral < 0.03 and abs(along) < 0.03 and width < OPEN_WIDTH and width > 0.004
    if holding and fingers_settled(p):  # pull (backing the base up once the handle comes level with it)
        pull = min(OPEN_TARGET * full - opening, 0.06)
        action[:6] = arm_action(p, handle + pull * out, goal_mat)
        action[6] = 1.0
        ahead = float(in_base_frame(p, handle - np.asarray(p["base_pos"]))[0])
        action[7] = -1.0 if ahead < REACH_BACK else 0.0
        return action
    if lateral < ON_HANDLE and abs(along) < ON_HANDLE:  # on the bar: close (and wait for the fingers)
        action[:6] = arm_action(p, handle, goal_mat)
        action[6] = 1.0
        return action
    aligned = lateral < 0.01 and rotation_error(p, goal_mat) < 0.1 and along > -0.01
    goal = handle if aligned else handle + PRE * out
    action[:6] = arm_action(p, goal, goal_mat, max_step=0.6 if aligned else 1.0)
    action[6] = -1.0
    action[8] = base_sideways(p, handle)
    return action


def close_drawer(p: dict) -> np.ndarray:
    """float64 [12]: one step of closing the task's drawer (pushing its handle with the fingers shut)."""
    handle, bar, out, opening, _ = drawer_geometry(p)
    goal_mat = approach_frame(-out, np.cross(bar, out), DOWN)
    action = np.zeros(ACTION_DIM)
    action[6] = 1.0
    along, lateral = _relative_to_handle(p, out, handle)
    if lateral < 0.015 and rotation_error(p, goal_mat) < 0.15 and along > -0.02:
        action[:6] = arm_action(p, handle - (opening + PUSH_PAST) * out, goal_mat, max_step=0.6)
    else:
        action[:6] = arm_action(p, handle + PRE * out, goal_mat)
        action[8] = base_sideways(p, handle)
    return action

