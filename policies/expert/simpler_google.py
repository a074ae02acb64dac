"""Privileged-state scripted expert for SIMPLER's Google Robot tasks (suite ``simpler_google``): pick coke can.

Every action is a function of that step's observation (``proprio``: tcp pose in the robot base frame and the
two finger joints; ``privileged``: object poses in the base frame), so observation -> action is well defined
for behaviour cloning. Phases, re-derived each step:
- holding (fingers closed on something, the can within 5 cm of the tcp): lift the tcp to ``LIFT_Z`` and hold;
- closed on nothing (fingers closed, can away): open;
- otherwise: turn the gripper's yaw so it closes across a lying can's long axis (standing cans: no turn), move
  over the can (``HOVER`` above its centre), descend once within 1.5 cm in xy and yawed within 0.1 rad, close
  once within 1.5 cm of the grasp point (the can's centre).
Actions: xyz ``(goal - tcp)`` clipped to 5 cm, yaw ``(goal - current)`` clipped to 0.3 rad (axis-angle about the
base z axis; the controller's "ee_align" frame), gripper +1 close / -1 open.

Only pick coke can is scripted; other tasks raise a clear error (not done yet).
"""

from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation

from harness.errors import HarnessError
from harness.protocols import EpisodeSpec, Obs

HOVER = 0.12  # m above the can's centre
LIFT_Z = 1.0  # m, tcp height in the base frame to lift to (the table top is at ~0.80 m)
MAX_STEP = 0.05  # m per action
MAX_YAW = 0.3  # rad per action
CLOSED = 0.3  # mean finger joint above this: closed (open ~0, closed on a can ~0.75)


def _yaw_of(quat_wxyz: np.ndarray) -> float:
    """Yaw (about base z) of a frame's x axis."""
    x = Rotation.from_quat(np.asarray(quat_wxyz)[[1, 2, 3, 0]]).apply([1.0, 0.0, 0.0])
    return float(np.arctan2(x[1], x[0]))


def _wrap_half_pi(angle: float) -> float:
    """Angle modulo pi, in [-pi/2, pi/2) (a parallel gripper closes the same way turned by pi)."""
    return float((angle + np.pi / 2) % np.pi - np.pi / 2)


class GoogleRobotExpert:
    """See module docstring."""

    def __init__(self) -> None:
        self.reference_yaw: float | None = None

    def reset(self, episode: EpisodeSpec) -> None:
        if not episode.task.name.startswith("pick_coke_can"):
            raise HarnessError(f"simpler_google: no scripted expert for {episode.task.name} yet (pick coke can only)")

    def _yaw_error(self, tcp_q: np.ndarray, can_q: np.ndarray) -> float:
        """Yaw turn that puts the closing axis across a lying can (0 for a standing one)."""
        axis = Rotation.from_quat(can_q[[1, 2, 3, 0]]).apply([0.0, 1.0, 0.0])  # the can's long axis (model +y)
        if abs(axis[2]) > 0.7:
            return 0.0  # standing
        # The initial grasp (yaw of the tcp's x axis = -103 deg) closes across a can lying along the base y axis:
        # keep that relation for any lying direction.
        wanted = np.arctan2(axis[1], axis[0]) - np.pi / 2 + (-1.80)
        return _wrap_half_pi(wanted - _yaw_of(tcp_q))

    def act(self, obs: Obs) -> np.ndarray:
        """float32 [1, 7]."""
        proprio = np.asarray(obs["proprio"], dtype=np.float64)
        tcp, tcp_q, fingers = proprio[:3], proprio[3:7], float(np.mean(proprio[7:9]))
        can = np.asarray(obs["privileged"]["object"], dtype=np.float64)
        can_p, can_q = can[:3], can[3:7]
        yaw = 0.0
        near = np.linalg.norm(can_p - tcp) < 0.05
        if fingers > CLOSED and near:
            goal, grip = np.array([tcp[0], tcp[1], LIFT_Z]), 1.0
        elif fingers > CLOSED:
            goal, grip = tcp.copy(), -1.0
        else:
            yaw_error = self._yaw_error(tcp_q, can_q)
            yaw = float(np.clip(yaw_error, -MAX_YAW, MAX_YAW))
            xy_error = np.linalg.norm(can_p[:2] - tcp[:2])
            aligned = xy_error < 0.015 and abs(yaw_error) < 0.1
            descending = aligned or (xy_error < 0.03 and tcp[2] < can_p[2] + HOVER - 0.03)
            goal = can_p + [0.0, 0.0, 0.0 if descending else HOVER]
            grip = 1.0 if np.linalg.norm(can_p - tcp) < 0.015 else -1.0
        move = np.clip(goal - tcp, -MAX_STEP, MAX_STEP)
        return np.array([[*move, 0.0, 0.0, yaw, grip]], dtype=np.float32)
