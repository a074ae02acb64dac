"""Privileged-state scripted expert for the SIMPLER Bridge (WidowX) tasks of suite ``simpler_bridge``.

Approach: a waypoint state machine in the world frame (hover over the source object, descend, close,
lift, carry over the target, lower, open, retreat and hold still), driven from ``obs["privileged"]``.
The controller adds each action's delta to its previous *target* pose (robot base frame), so the
expert keeps its own copy of that target and sends ``waypoint - target`` clipped to a per-step
speed limit: the commands are absolute targets in effect and never accumulate tracking error.
The gripper points straight down; its yaw puts the closing axis across the source object's long
axis (the object's local x, from its quaternion), the yaw nearest to the current one modulo pi.
After closing it lifts 4 cm, then carries diagonally (up and over the target at once), so the arm
stays inside its reach; the target is also held within 4 cm of the measured ee, because the IK
stalls at full extension and a runaway target would later make the arm jump and drop the object.
It finishes in about 40 steps (60-step horizon) and then holds still with the gripper open above.

Measured (stand-in box table, ManiSkill 3.0.1 CPU), success at the end of the full horizon:
harness eval, init states 0..9: 10/10 on each of the four tasks; camera-less rollouts of the same
physics over every scene configuration: carrot 24/24, spoon 24/24, cubes 24/24, eggplant 63/64.
Known failure: eggplant configuration 61 (eggplant at the far edge of the sink, y = 0.36 m): the arm
cannot lift it at full reach, the IK solution jumps while carrying and the eggplant drops.
The spoon is closed 4 mm below its origin; at the origin height the grasp on the thin handle slipped
on configuration 12.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial.transform import Rotation

from harness.protocols import EpisodeSpec, Obs

# Gripper pointing down (ee x axis = world -z), closing axis (ee y) = world -y at yaw 0.
DOWN = Rotation.from_matrix(np.array([[0.0, 0.0, -1.0], [0.0, -1.0, 0.0], [-1.0, 0.0, 0.0]]))
OPEN, CLOSED = 1.0, -1.0
MAX_STEP_M = 0.03  # per-step translation of the target (5 Hz)
MAX_STEP_RAD = 0.35  # per-step rotation of the target
MAX_LEAD_M = 0.04  # target never runs further ahead of the measured ee (IK stalls at full reach)
REACH_TOL_M = 0.012  # measured ee within this of the waypoint -> waypoint reached
MAX_WAIT = 3  # extra steps allowed for the measured ee to catch up with the target


@dataclass(frozen=True)
class TaskParams:
    """Per-task geometry [m], relative to object origins (world z)."""

    grasp_dz: float  # ee z relative to the source origin when closing
    hover_dz: float  # ee height above the grasp point before descending
    lift_dz: float  # straight lift after closing, before the diagonal carry
    carry_z: float  # ee z relative to the target origin while carrying
    place_dz: float  # ee z relative to the target origin when opening
    close_steps: int = 3
    open_steps: int = 2


PARAMS = {
    "put_carrot_on_plate": TaskParams(grasp_dz=0.0, hover_dz=0.06, lift_dz=0.04, carry_z=0.10, place_dz=0.045),
    "put_spoon_on_towel": TaskParams(
        grasp_dz=-0.004, hover_dz=0.06, lift_dz=0.04, carry_z=0.10, place_dz=0.04
    ),  # thin handle: close a little lower
    "stack_green_block_on_yellow_block": TaskParams(
        grasp_dz=0.0, hover_dz=0.06, lift_dz=0.04, carry_z=0.10, place_dz=0.045
    ),
    "put_eggplant_in_basket": TaskParams(grasp_dz=0.0, hover_dz=0.07, lift_dz=0.04, carry_z=0.12, place_dz=0.06),
}


def quat_wxyz_to_rot(q: np.ndarray) -> Rotation:
    """Quaternion wxyz [4] -> Rotation."""
    return Rotation.from_quat([q[1], q[2], q[3], q[0]])


def long_axis_yaw(obj_pose: np.ndarray) -> float:
    """World yaw [rad] of the object's local x axis projected on the table (pose [7] xyz+wxyz)."""
    axis = quat_wxyz_to_rot(obj_pose[3:]).apply([1.0, 0.0, 0.0])
    return float(np.arctan2(axis[1], axis[0]))


def clip_norm(v: np.ndarray, max_norm: float) -> np.ndarray:
    """Vector [3] scaled down to at most ``max_norm``."""
    n = float(np.linalg.norm(v))
    return v * (max_norm / n) if n > max_norm else v


def wrap(angle: float) -> float:
    return float((angle + np.pi) % (2 * np.pi) - np.pi)


def grasp_yaw(obj_yaw: float, current_yaw: float) -> float:
    """Gripper yaw (closing axis across the object's long axis) nearest to ``current_yaw``."""
    candidates = [wrap(obj_yaw), wrap(obj_yaw + np.pi)]
    return min(candidates, key=lambda y: abs(wrap(y - current_yaw)))


def world_to_base(base_pose: np.ndarray, p: np.ndarray, rot: Rotation) -> tuple[np.ndarray, Rotation]:
    """World position [3] + rotation -> robot base frame (base_pose [7] xyz+wxyz in world)."""
    r_base = quat_wxyz_to_rot(base_pose[3:])
    return r_base.inv().apply(p - base_pose[:3]), r_base.inv() * rot


@dataclass
class Waypoint:
    """World-frame ee goal: position [3], yaw [rad], gripper command, and how many steps to hold."""

    pos: np.ndarray
    yaw: float
    gripper: float
    hold: int = 0


class BridgeExpert:
    """Scripted pick-and-place expert; ``act`` returns float32 [1, 7]."""

    def __init__(self) -> None:
        self._params = PARAMS["put_carrot_on_plate"]
        self._target_p: np.ndarray | None = None  # controller target, base frame [3]
        self._target_r: Rotation | None = None
        self._phase = 0
        self._waited = 0
        self._held = 0
        self._yaw = 0.0
        self._gripper = OPEN
        self._stalled = False

    def reset(self, episode: EpisodeSpec) -> None:
        self._params = PARAMS[episode.task.name]
        self._target_p, self._target_r = None, None
        self._phase, self._waited, self._held = 0, 0, 0
        self._gripper, self._stalled = OPEN, False

    # ------------------------------------------------------------------ plan
    def _waypoint(self, priv: dict, phase: int) -> Waypoint:
        """Waypoint of ``phase`` from the current privileged state (the last one holds forever)."""
        k = self._params
        src = np.asarray(priv["objects"][priv["source"]], dtype=np.float64)
        tgt = np.asarray(priv["objects"][priv["target"]], dtype=np.float64)
        grasp = src[:3] + [0.0, 0.0, k.grasp_dz]
        place = tgt[:3] + [0.0, 0.0, k.place_dz]
        carry = np.array([place[0], place[1], tgt[2] + k.carry_z])
        if phase == 0:  # choose the grasp yaw once, then hover over the source
            ee_yaw = self._ee_yaw(priv)
            self._yaw = grasp_yaw(long_axis_yaw(src), ee_yaw)
        plan = [
            Waypoint(grasp + [0.0, 0.0, k.hover_dz], self._yaw, OPEN),
            Waypoint(grasp, self._yaw, OPEN),
            Waypoint(grasp, self._yaw, CLOSED, hold=k.close_steps),
            Waypoint(grasp + [0.0, 0.0, k.lift_dz], self._yaw, CLOSED),
            Waypoint(carry, self._yaw, CLOSED),
            Waypoint(place, self._yaw, CLOSED),
            Waypoint(place, self._yaw, OPEN, hold=k.open_steps),
            Waypoint(place + [0.0, 0.0, 0.08], self._yaw, OPEN, hold=10**9),
        ]
        return plan[min(phase, len(plan) - 1)]

    @staticmethod
    def _ee_yaw(priv: dict) -> float:
        """Yaw of the ee closing axis relative to DOWN (world frame)."""
        rel = quat_wxyz_to_rot(np.asarray(priv["ee_pose"])[3:]) * DOWN.inv()
        return float(rel.as_euler("ZYX")[0])

    # ------------------------------------------------------------------ act
    def act(self, obs: Obs) -> np.ndarray:
        """float32 [1, 7]: xyz delta, Euler-XYZ delta (base frame), gripper (-1 closed, +1 open)."""
        priv = obs["privileged"]
        ee_base = np.asarray(priv["ee_pose_base"], dtype=np.float64)
        if self._target_p is None:
            self._target_p, self._target_r = ee_base[:3].copy(), quat_wxyz_to_rot(ee_base[3:])
        wp = self._waypoint(priv, self._phase)
        goal_p, goal_r = world_to_base(np.asarray(priv["base_pose"]), wp.pos, Rotation.from_euler("z", wp.yaw) * DOWN)
        action = self._step_towards(goal_p, goal_r, ee_base[:3])
        self._gripper = wp.gripper
        self._advance(wp, goal_p, ee_base[:3])
        return np.concatenate([action, [self._gripper]]).astype(np.float32)[None]

    def _step_towards(self, goal_p: np.ndarray, goal_r: Rotation, ee_p: np.ndarray) -> np.ndarray:
        """Move the tracked target toward the goal within the speed and lead limits; returns the 6-D delta."""
        dp = clip_norm(goal_p - self._target_p, MAX_STEP_M)
        dp = ee_p + clip_norm(self._target_p + dp - ee_p, MAX_LEAD_M) - self._target_p
        drot = goal_r * self._target_r.inv()
        rotvec = drot.as_rotvec()
        ang = np.linalg.norm(rotvec)
        if ang > MAX_STEP_RAD:
            drot = Rotation.from_rotvec(rotvec * (MAX_STEP_RAD / ang))
        euler = drot.as_euler("XYZ")
        self._stalled = bool(np.linalg.norm(dp) < 1e-4)  # held back by the lead limit: the ee cannot follow
        self._target_p = self._target_p + dp
        self._target_r = Rotation.from_euler("XYZ", euler) * self._target_r
        return np.concatenate([dp, euler])

    def _advance(self, wp: Waypoint, goal_p: np.ndarray, ee_p: np.ndarray) -> None:
        """Next phase once the target is at the goal and the ee caught up (or waited long enough)."""
        if np.linalg.norm(goal_p - self._target_p) > 1e-6 and not self._stalled:
            return
        if np.linalg.norm(goal_p - ee_p) > REACH_TOL_M and self._waited < MAX_WAIT:
            self._waited += 1
            return
        if self._held < wp.hold:
            self._held += 1
            return
        self._phase, self._waited, self._held = self._phase + 1, 0, 0
