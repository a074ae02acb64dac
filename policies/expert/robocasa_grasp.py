"""Top-down grasping shared by the RoboCasa pick experts (privileged state; every action a function of that step's
observation): the gripper points straight down, its fingers closing across the object's narrow horizontal axis.

``grasp_view(p)`` reads the object's geometry and the gripper's state; ``holding(view)`` says whether the object is
in the hand; ``reach_and_grasp(p, view)`` is one step of: open, hover ``HOVER`` above the grasp point, descend once
aligned, close once there (and wait for the fingers to settle).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from policies.expert.robocasa_motion import (
    ACTION_DIM, CLOSING_AXIS, OPEN_WIDTH, arm_action, down_frame, finger_width, fingers_settled, rotation_error,
    yaw_target,
)  # fmt: skip

HOVER = 0.10  # m above the grasp point
ALIGN_XY = 0.012  # m
ALIGN_YAW = 0.12  # rad
GRASP_TOL = 0.012  # m


@dataclass(frozen=True)
class GraspView:
    """One step's view of the object to grasp (world frame)."""

    eef: np.ndarray  # [3] grasp site
    centre: np.ndarray  # [3] centre of the object's bounding box
    half: np.ndarray  # [3] its half extents, object frame
    grasp: np.ndarray  # [3] where the grasp site closes on it
    goal_mat: np.ndarray  # [3, 3] gripper down, closing across the narrow horizontal axis
    width: float  # finger gap (m)
    settled: bool  # fingers no longer moving
    near: bool  # the object is at the grasp site
    mat: np.ndarray  # [3, 3] object orientation

    @property
    def long_axis(self) -> np.ndarray:
        """[3] the object's longest horizontal axis, world frame (unit)."""
        return self.mat[:, int(np.argmax(self.half[:2]))]


def grasp_view(p: dict, name: str = "obj") -> GraspView:
    """``p``: the observation's ``privileged`` dict."""
    eef = np.asarray(p["eef_pos"])
    centre = np.asarray(p[f"obj:{name}:center"])
    mat = np.asarray(p[f"obj:{name}:mat"])
    half = np.asarray(p[f"obj:{name}:half_size"])
    narrow = mat[:, int(np.argmin(half[:2]))]
    goal_mat = down_frame(yaw_target(narrow, np.asarray(p["eef_mat"])[:, CLOSING_AXIS]))
    # a little above the middle, at least 2 cm below the top and 1.2 cm above the bottom, and at most 3.5 cm below
    # the top (the palm sits ~4.5 cm above the grasp site)
    top = centre[2] + half[2]
    grasp_z = max(centre[2] - half[2] + 0.012, min(centre[2] + 0.3 * half[2], top - 0.02), top - 0.035)
    near = float(np.linalg.norm(centre - eef)) < max(0.04, half[2])
    return GraspView(
        eef=eef, centre=centre, half=half, grasp=np.array([centre[0], centre[1], grasp_z]), goal_mat=goal_mat,
        width=finger_width(p), settled=fingers_settled(p), near=near, mat=mat,
    )  # fmt: skip


def holding(view: GraspView) -> bool:
    """Fingers settled on the object (not shut on nothing), object at the grasp site."""
    return view.near and OPEN_WIDTH > view.width > 0.004 and view.settled


def reach_and_grasp(p: dict, view: GraspView) -> np.ndarray:
    """float64 [12]: one step toward grasping the object."""
    action = np.zeros(ACTION_DIM)
    eef, grasp = view.eef, view.grasp
    xy_err = float(np.linalg.norm(grasp[:2] - eef[:2]))
    # at the grasp point, or as low as the fingers go above it (flat objects: the fingertips reach the counter)
    at_grasp = xy_err < GRASP_TOL and eef[2] - grasp[2] < 0.02
    if at_grasp or (view.near and view.width < OPEN_WIDTH and xy_err < GRASP_TOL):
        action[:6] = arm_action(p, grasp, view.goal_mat)
        action[6] = 1.0  # close (and wait for the fingers to settle)
        return action
    if xy_err < ALIGN_XY and rotation_error(p, view.goal_mat) < ALIGN_YAW and eef[2] < grasp[2] + HOVER + 0.02:
        action[:6] = arm_action(p, grasp, view.goal_mat, max_step=0.6)
    else:
        action[:6] = arm_action(p, grasp + np.array([0.0, 0.0, HOVER]), view.goal_mat)
    action[6] = -1.0
    return action
