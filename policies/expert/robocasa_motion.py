"""Arm motion shared by the RoboCasa experts: a clipped proportional OSC step toward a world-frame goal pose.

RoboCasa's PandaOmron arm actions are OSC deltas in the mobile base's frame (1.0 = 5 cm / 0.5 rad); the Panda
fingers close along the grasp site's x axis and its z axis points from the wrist to the fingertips.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation

ACTION_DIM = 12  # arm 6, gripper 1 (+1 closes), base 3, torso 1, base mode 1
POS_SCALE = 0.05  # m per unit of arm action (RoboCasa's OSC output_max)
ROT_SCALE = 0.5  # rad per unit
GAIN = 3.0  # arm action = GAIN * error / scale, clipped to [-1, 1] (the OSC covers ~1/5 of a delta per step)
CLOSING_AXIS = 0  # the grasp site's axis the fingers close along
OPEN_WIDTH = 0.07  # finger gap above this: open (fully open ~0.08 m)


def in_base_frame(p: dict, vector: np.ndarray) -> np.ndarray:
    """A world-frame vector [3] in the mobile base's frame (x ahead, y to the left)."""
    return np.asarray(p["base_mat"]).T @ np.asarray(vector)


def arm_action(p: dict, goal_pos: np.ndarray, goal_mat: np.ndarray, max_step: float = 1.0) -> np.ndarray:
    """The 6 arm action entries moving the end effector toward (goal_pos, goal_mat), both world frame
    (``p``: the observation's ``privileged`` dict)."""
    dpos = in_base_frame(p, np.asarray(goal_pos) - np.asarray(p["eef_pos"]))
    drot = in_base_frame(p, Rotation.from_matrix(goal_mat @ np.asarray(p["eef_mat"]).T).as_rotvec())
    pos = np.clip(GAIN * dpos / POS_SCALE, -max_step, max_step)
    rot = np.clip(GAIN * drot / ROT_SCALE, -1.0, 1.0)
    return np.concatenate([pos, rot])


def rotation_error(p: dict, goal_mat: np.ndarray) -> float:
    """Angle (rad) between the end effector's orientation and ``goal_mat``."""
    return float(np.linalg.norm(Rotation.from_matrix(goal_mat @ np.asarray(p["eef_mat"]).T).as_rotvec()))


def finger_width(p: dict) -> float:
    gripper = np.asarray(p["gripper"])
    return float(gripper[0] - gripper[1])


def fingers_settled(p: dict) -> bool:
    return float(np.max(np.abs(p["gripper_qvel"]))) < 0.005


def yaw_target(narrow_axis: np.ndarray, current_closing: np.ndarray) -> float:
    """Yaw (world) for the gripper's closing axis along ``narrow_axis``, the one of the two (mod pi) closest to
    the current closing axis."""
    yaw = float(np.arctan2(narrow_axis[1], narrow_axis[0]))
    now = float(np.arctan2(current_closing[1], current_closing[0]))
    turn = (yaw - now + np.pi / 2) % np.pi - np.pi / 2
    return now + turn


def down_frame(yaw: float) -> np.ndarray:
    """Rotation whose z axis points down and whose closing axis (x, ``CLOSING_AXIS``) points along ``yaw``."""
    x = np.array([np.cos(yaw), np.sin(yaw), 0.0])
    z = np.array([0.0, 0.0, -1.0])
    return np.stack([x, np.cross(z, x), z], axis=1)


def approach_frame(approach: np.ndarray, closing: np.ndarray, prefer: np.ndarray) -> np.ndarray:
    """Rotation whose z axis points along ``approach`` and whose closing axis is ``closing`` (made orthogonal to
    it), signed to lean towards ``prefer`` (a parallel gripper is symmetric, but the Panda's last joint is not:
    for a gripper pointing forward, a closing axis pointing down keeps that joint inside its limits)."""
    z = np.asarray(approach, dtype=np.float64) / np.linalg.norm(approach)
    x = np.asarray(closing, dtype=np.float64) - np.dot(closing, z) * z
    x /= np.linalg.norm(x)
    if float(np.dot(x, prefer)) < 0:
        x = -x
    return np.stack([x, np.cross(z, x), z], axis=1)
