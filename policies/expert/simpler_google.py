"""Privileged-state scripted expert for SIMPLER's Google Robot tasks (suite ``simpler_google``): every task family
(pick coke can, move near, open / close drawer, place apple into closed top drawer).

Every action is a function of that step's observation (``proprio``: tcp pose in the robot base frame and the
two finger joints; ``privileged``: object poses in the base frame), so observation -> action is well defined
for behaviour cloning. Phases, re-derived each step:
- holding (fingers closed on something, the can within 5 cm of the tcp): lift the tcp to ``LIFT_Z`` and hold;
- closed on nothing (fingers closed, can away): open;
- otherwise: turn the gripper's yaw so it closes across a lying can's long axis (standing cans: no turn), move
  over the can (``HOVER`` above its centre), descend once within 1.5 cm in xy and yawed within 0.1 rad, close
  once within 1.5 cm of the grasp point (the can's centre).
- a can lying along the base x axis beyond ``FRONT_MIN_X`` (the vertical can's far rows, where the wrist has no IK
  solution for the 90 degree yaw turn): grasp its near end from the front instead, fingers side by side
  (``_hook_frame(FRONT_PITCH, pi/2)``), sliding in along the approach axis from ``FRONT_STANDOFF`` back to
  ``FRONT_DEPTH`` past the end, then close and lift.
Actions: xyz ``(goal - tcp)`` clipped to 5 cm, yaw ``(goal - current)`` clipped to 0.3 rad (axis-angle about the
base z axis; the controller's "ee_align" frame), gripper +1 close / -1 open.

Close drawer (``act_close_drawer``): with the gripper closed, go to 10 cm in front of the target drawer's front
face (the centre of the face, ``privileged["drawer_front"]``), then, once level with it (within 3 cm in y and z),
push 8 cm past it until the drawer is shut.

Move near (``act_move_near``): pick the source like a can (top-down, no yaw turn), carry it at ``CARRY_Z`` to the
point ``NEAR_GAP`` from the target on the source's side, lower it until it is ``PLACE_DZ`` above the target's
centre height, open, and rise.

Open drawer (``act_open_drawer``): the drawer handle is visual-only in SIMPLER's cabinet URDF, so the expert hooks
the front plate's top edge from above. Shut the fingers and turn the gripper to ``HOOK_FRAME`` (pointing into the
cabinet, ``HOOK_PITCH`` below horizontal, fingers one above the other), go to ``HOOK_STANDOFF`` in front of the
plate and ``HOOK_ABOVE`` above its top edge (the 10.5-10.7 cm gap under the cabinet top or the drawer above), slide
in; from ``HOOK_OPEN_AT`` past the front face open the fingers (the lower finger swings down behind the plate) and
pull straight back, pressing ``HOOK_PRESS`` down, until the drawer is ``OPEN_QPOS`` open; then hold. A hook that
slips re-hooks, unless the drawer is already ``OPEN_ENOUGH`` open (re-hooking could push it shut).

Place apple into closed top drawer (``act_place_apple``): open the top drawer with the hook to ``APPLE_OPEN_QPOS``,
shut the fingers and back out, roll the gripper ``APPLE_ROLL`` about its axis (fingers side by side) at
``APPLE_PITCH`` (yaw left free: with the cabinet to the robot's side the wrist cannot yaw back square), open,
slide in from ``APPLE_STANDOFF`` in front of the cabinet's front edge at the apple's height,
close on it, lift it a little, carry it over the drawer (``APPLE_DROP_DX`` past the drawer's front face) and let go
once it is ``APPLE_DROP_DZ`` above the face's centre. Turning back to a top-down grasp after the hook does not work:
the arm is folded near its base and SIMPLER's controller drops actions whose IK has no solution.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation

from harness.errors import HarnessError
from harness.protocols import EpisodeSpec, Obs, TaskSpec

HOVER = 0.12  # m above the can's centre
LIFT_Z = 1.0  # m, tcp height in the base frame to lift to (the table top is at ~0.80 m)
MAX_STEP = 0.05  # m per action
MAX_YAW = 0.3  # rad per action
STANDOFF = 0.10  # m in front of a drawer face before pushing
PUSH = 0.08  # m past the face: the push goal
MAX_REACH_STEP = 0.10  # m per action while reaching for a drawer (low drawers are far from the start pose)
CARRY_Z = 0.97  # m, tcp height while carrying an object (the table top is at ~0.80 m)
NEAR_GAP = 0.09  # m between the target's centre and where the source is put down
PLACE_DZ = 0.015  # m: open once the held source's centre is this close to the target's centre height
# Pick a far can lying along x from the front.
FRONT_MIN_X = 0.555  # m: cans lying along x farther than this (base frame) are grasped from the front
FRONT_PITCH = 0.5  # rad: the approach axis points this far below horizontal
FRONT_DEPTH = 0.03  # m past the can's near end: the grasp point (on the can's axis)
FRONT_STANDOFF = 0.10  # m back from the grasp point along the approach axis before sliding in
FRONT_TURN_TOL = 0.3  # rad: orientation error allowed before sliding in (the wrist stops ~0.25 short)
CAN_HALF_LENGTH = 0.061  # m: SIMPLER's coke can is 12.2 cm long
CLOSED = 0.3  # mean finger joint above this: closed (open ~0, closed on a can ~0.75)
SCRIPTED = ("pick_coke_can", "move_near", "open_", "close_", "place_apple")  # task-name prefixes
# Open drawer. HOOK_FRAME columns: the tcp's x, y (finger opening) and z (approach) axes in the base frame.
HOOK_FRAME = np.array([[0.0, 0.0, 1.0], [-1.0, 0.0, 0.0], [0.0, -1.0, 0.0]])
HOOK_PITCH = 0.3  # rad: the approach axis points this far below horizontal (low drawers: the arm turns better)
HOOK_TURN_TOL = 0.15  # rad: orientation error allowed before sliding in
HOOK_STANDOFF = 0.10  # m in front of the plate's front face before sliding in
HOOK_ABOVE = 0.04  # m, tcp height above the plate's top edge while sliding in
HOOK_OPEN_AT = 0.045  # m past the front face: start opening the fingers (while still sliding in)
HOOK_DEPTH = 0.09  # m past the front face: the sliding goal (far cabinets: the arm stops short of it)
HOOK_PRESS = 0.03  # m below the sliding height while pulling, so the hooked finger stays behind the plate
PLATE_HALF_HEIGHT = 0.07  # m: the front plate is 14 cm tall (SIMPLER's cabinet URDF)
FINGERS_SHUT = 0.95  # mean finger joint above this: shut on nothing (reaches ~1.07 empty)
OPEN_QPOS = 0.25  # m: pull until the drawer is this far open (SIMPLER's success: >= 0.15 at the end)
OPEN_ENOUGH = 0.18  # m: if the hook slips past this, stop rather than re-hook (SIMPLER's success: >= 0.15)
# Place apple into closed top drawer.
APPLE_OPEN_QPOS = 0.15  # m: open the drawer this far (the apple needs ~0.13 m of opening) before fetching it
APPLE_PITCH = 0.1  # rad below horizontal while grasping the apple from the front
APPLE_ROLL = np.pi / 2  # rad about the approach axis: fingers side by side
APPLE_STANDOFF = 0.10  # m in front of the cabinet's front edge, at the apple's height, before sliding in
APPLE_DROP_DX = 0.07  # m past the drawer's front face (into the drawer): where the apple is let go
APPLE_DROP_DZ = 0.13  # m: let go once the apple's centre is this far above the drawer's front-face centre
CABINET_TOP_DZ = 0.207  # m: the cabinet's top surface above the top drawer's front-face centre (URDF)


def _yaw_of(quat_wxyz: np.ndarray) -> float:
    """Yaw (about base z) of a frame's x axis."""
    x = Rotation.from_quat(np.asarray(quat_wxyz)[[1, 2, 3, 0]]).apply([1.0, 0.0, 0.0])
    return float(np.arctan2(x[1], x[0]))


def _arm_state(obs: Obs) -> tuple[np.ndarray, np.ndarray, float]:
    """tcp xyz [3] and wxyz quaternion [4] in the base frame, mean finger joint (0 open, ~1.07 shut on nothing)."""
    proprio = np.asarray(obs["proprio"], dtype=np.float64)
    return proprio[:3], proprio[3:7], float(np.mean(proprio[7:9]))


def _hook_frame(pitch: float, roll: float = 0.0) -> Rotation:
    """``HOOK_FRAME`` rolled by ``roll`` about its approach axis, then pitched ``pitch`` below horizontal."""
    pitched = Rotation.from_rotvec([0.0, pitch, 0.0])
    return pitched * Rotation.from_rotvec([roll, 0.0, 0.0]) * Rotation.from_matrix(HOOK_FRAME)


def _turn_to(goal: Rotation, tcp_q: np.ndarray) -> np.ndarray:
    """Axis-angle [3] (base frame, applied on the left) that turns the tcp (wxyz quaternion) onto ``goal``."""
    return (goal * Rotation.from_quat(np.asarray(tcp_q)[[1, 2, 3, 0]]).inv()).as_rotvec()


def _action(move: np.ndarray, max_step: float, turn: np.ndarray, grip: float) -> np.ndarray:
    """float32 [1, 7]: xyz move clipped to ``max_step`` per axis, rotation clipped to ``MAX_YAW`` in norm."""
    move = np.clip(move, -max_step, max_step)
    turn = np.asarray(turn, dtype=np.float64) * min(1.0, MAX_YAW / max(float(np.linalg.norm(turn)), 1e-9))
    return np.array([[*move, *turn, grip]], dtype=np.float32)


def _wrap_half_pi(angle: float) -> float:
    """Angle modulo pi, in [-pi/2, pi/2) (a parallel gripper closes the same way turned by pi)."""
    return float((angle + np.pi / 2) % np.pi - np.pi / 2)


class GoogleRobotExpert:
    """See module docstring."""

    def __init__(self) -> None:
        self.task = ""

    @staticmethod
    def unsupported(task: TaskSpec) -> str | None:
        """Why this expert cannot run ``task`` (None: it can)."""
        if task.name.startswith(SCRIPTED):
            return None
        return f"simpler_google: no scripted expert for {task.name} (scripted: {', '.join(SCRIPTED)})"

    def reset(self, episode: EpisodeSpec) -> None:
        reason = self.unsupported(episode.task)
        if reason:
            raise HarnessError(reason)
        self.task = episode.task.name

    @staticmethod
    def _yaw_error(tcp_q: np.ndarray, axis: np.ndarray) -> float:
        """Yaw turn that puts the closing axis across a lying can (``axis``: its unit long axis; 0 if standing)."""
        if abs(axis[2]) > 0.7:
            return 0.0  # standing
        # The initial grasp (yaw of the tcp's x axis = -103 deg) closes across a can lying along the base y axis:
        # keep that relation for any lying direction.
        wanted = np.arctan2(axis[1], axis[0]) - np.pi / 2 + (-1.80)
        return _wrap_half_pi(wanted - _yaw_of(tcp_q))

    def act(self, obs: Obs) -> np.ndarray:
        """float32 [1, 7]."""
        if self.task.startswith("close_"):
            return self.act_close_drawer(obs)
        if self.task.startswith("open_"):
            return self.act_open_drawer(obs)
        if self.task.startswith("place_apple"):
            return self.act_place_apple(obs)
        if self.task == "move_near":
            return self.act_move_near(obs)
        return self.act_pick_can(obs)

    def act_move_near(self, obs: Obs) -> np.ndarray:
        proprio = np.asarray(obs["proprio"], dtype=np.float64)
        tcp, fingers = proprio[:3], float(np.mean(proprio[7:9]))
        src = np.asarray(obs["privileged"]["source"][:3], dtype=np.float64)
        tgt = np.asarray(obs["privileged"]["target"][:3], dtype=np.float64)
        away = src[:2] - tgt[:2]
        place = tgt[:2] + away / max(np.linalg.norm(away), 1e-6) * NEAR_GAP
        at_place = np.linalg.norm(src[:2] - place) < 0.03
        held = fingers > CLOSED and np.linalg.norm(src - tcp) < 0.06
        grip = 1.0
        if held and not at_place:
            lifted = tcp[2] > CARRY_Z - 0.05  # lift straight up first, then carry
            goal = np.array([*place, CARRY_Z]) if lifted else np.array([*tcp[:2], CARRY_Z])
        elif held:
            goal = np.array([*place, tcp[2] - 0.05])
            grip = 1.0 if src[2] > tgt[2] + PLACE_DZ else -1.0
        elif at_place and np.linalg.norm(src[:2] - tcp[:2]) < 0.06:  # released next to the target: rise
            goal, grip = np.array([*tcp[:2], CARRY_Z]), -1.0
        elif fingers > CLOSED:
            goal, grip = tcp.copy(), -1.0
        else:
            xy_error = np.linalg.norm(src[:2] - tcp[:2])
            descending = xy_error < 0.015 or (xy_error < 0.03 and tcp[2] < src[2] + HOVER - 0.03)
            goal = src + [0.0, 0.0, 0.0 if descending else HOVER]
            grip = 1.0 if np.linalg.norm(src - tcp) < 0.015 else -1.0
        move = np.clip(goal - tcp, -MAX_STEP, MAX_STEP)
        return np.array([[*move, 0.0, 0.0, 0.0, grip]], dtype=np.float32)

    def act_close_drawer(self, obs: Obs) -> np.ndarray:
        tcp = np.asarray(obs["proprio"][:3], dtype=np.float64)
        front = np.asarray(obs["privileged"]["drawer_front"], dtype=np.float64)
        level = np.linalg.norm(tcp[1:] - front[1:]) < 0.03 and tcp[0] < front[0] + 0.01
        goal = front + [PUSH if level else -STANDOFF, 0.0, 0.0]
        move = np.clip(goal - tcp, -MAX_REACH_STEP, MAX_REACH_STEP)
        return np.array([[*move, 0.0, 0.0, 0.0, 1.0]], dtype=np.float32)

    def act_place_apple(self, obs: Obs) -> np.ndarray:
        """Open the top drawer with the hook (as ``act_open_drawer``), back out, roll the gripper so the fingers are
        side by side, grasp the apple from the front at its height, carry it over the open drawer, let go."""
        tcp, tcp_q, fingers = _arm_state(obs)
        apple = np.asarray(obs["privileged"]["object"][:3], dtype=np.float64)
        front = np.asarray(obs["privileged"]["drawer_front"], dtype=np.float64)
        qpos = float(obs["privileged"]["drawer_qpos"])
        top_z = front[2] + CABINET_TOP_DZ
        held = CLOSED < fingers < FINGERS_SHUT and np.linalg.norm(apple - tcp) < 0.05
        if apple[2] < top_z - 0.05 and not held:  # in the drawer: hold still
            return np.array([[0.0, 0.0, 0.0, 0.0, 0.0, 0.0, -1.0]], dtype=np.float32)
        if qpos < APPLE_OPEN_QPOS and not held:
            return self.act_open_drawer(obs)
        turn = _turn_to(_hook_frame(APPLE_PITCH, APPLE_ROLL), tcp_q)
        edge_x = front[0] + qpos  # the cabinet's front edge
        turn[2] = 0.0  # yaw left free: with the cabinet to the robot's side the wrist cannot yaw back square
        grip = 1.0
        if tcp[2] < top_z and tcp[0] > front[0] - 0.05 and not held:  # still hooked: shut the fingers, back out
            turn = np.zeros(3)
            goal = tcp.copy() if fingers < FINGERS_SHUT else np.array([front[0] - 0.08, tcp[1], tcp[2]])
        elif held:
            drop = np.array([front[0] + APPLE_DROP_DX, front[1], tcp[2]])
            if apple[2] < top_z + 0.045 and tcp[0] > edge_x - 0.03:
                goal = tcp + [0.0, 0.0, MAX_STEP]  # lift it a little off the cabinet top
            elif abs(tcp[0] - drop[0]) > 0.02 or abs(tcp[1] - drop[1]) > 0.02:
                goal = drop
            else:
                goal = tcp - [0.0, 0.0, MAX_STEP]
                grip = -1.0 if apple[2] < front[2] + APPLE_DROP_DZ else 1.0
        else:
            standoff = np.array([edge_x - APPLE_STANDOFF, apple[1], apple[2]])
            ready = np.linalg.norm(tcp - standoff) < 0.02 and np.linalg.norm(turn) < HOOK_TURN_TOL and fingers < 0.2
            sliding = abs(tcp[1] - apple[1]) < 0.02 and abs(tcp[2] - apple[2]) < 0.02 and tcp[0] > standoff[0] + 0.01
            goal = apple.copy() if ready or sliding and fingers < CLOSED else standoff
            if tcp[2] < apple[2] - 0.02 and not sliding:  # below the cabinet top: rise before going forward
                goal = np.array([min(tcp[0], standoff[0]), tcp[1], apple[2]])
            grip = 1.0 if np.linalg.norm(apple - tcp) < 0.015 else -1.0
        return _action(goal - tcp, MAX_STEP, turn, grip)

    def act_open_drawer(self, obs: Obs) -> np.ndarray:
        tcp, tcp_q, fingers = _arm_state(obs)
        front = np.asarray(obs["privileged"]["drawer_front"], dtype=np.float64)
        edge = front + [0.0, 0.0, PLATE_HALF_HEIGHT + HOOK_ABOVE]  # tcp height for sliding in and pulling
        turn = _turn_to(_hook_frame(HOOK_PITCH), tcp_q)
        inserted = tcp[0] > front[0] + HOOK_OPEN_AT
        grip, step = 1.0, MAX_STEP
        qpos = float(obs["privileged"]["drawer_qpos"])
        slipped = tcp[0] < front[0]  # the hook came off the plate
        if qpos >= OPEN_QPOS or slipped and qpos >= OPEN_ENOUGH:  # (the apple task hands over below 0.15 m)
            goal, grip, turn = tcp.copy(), -1.0, np.zeros(3)  # open far enough: hold (re-hooking could shut it)
        elif inserted and fingers > FINGERS_SHUT:  # open (the lower finger swings down behind the plate), still sliding
            goal, grip = edge + [HOOK_DEPTH, 0.0, 0.0], -1.0
        elif inserted or (tcp[0] > front[0] and fingers < FINGERS_SHUT):  # hooked: pull straight back
            goal, grip = tcp + [-MAX_STEP, 0.0, 0.0], -1.0
            goal[2] = edge[2] - HOOK_PRESS
        else:
            off = float(np.linalg.norm(tcp[1:] - edge[1:]))  # y/z distance from the sliding line
            sliding = tcp[0] > edge[0] - HOOK_STANDOFF + 0.02  # already on the way in: a looser tolerance
            level = (
                fingers > FINGERS_SHUT
                and np.linalg.norm(turn) < HOOK_TURN_TOL
                and tcp[0] > edge[0] - HOOK_STANDOFF - 0.015
                and off < (0.035 if sliding else 0.02)
            )
            goal = edge + [HOOK_DEPTH if level else -HOOK_STANDOFF, 0.0, 0.0]
            if np.linalg.norm(turn) > 0.15:  # turn before descending (the arm turns badly low down)
                goal[2] = tcp[2]
            step = MAX_STEP if level else MAX_REACH_STEP
        return _action(goal - tcp, step, turn, grip)

    def act_pick_can(self, obs: Obs) -> np.ndarray:
        tcp, tcp_q, fingers = _arm_state(obs)
        can = np.asarray(obs["privileged"]["object"], dtype=np.float64)
        can_p, can_q = can[:3], can[3:7]
        axis = Rotation.from_quat(can_q[[1, 2, 3, 0]]).apply([0.0, 1.0, 0.0])  # the can's long axis (model +y)
        if abs(axis[0]) > 0.7 and can_p[0] > FRONT_MIN_X:
            return self._act_pick_can_front(tcp, tcp_q, fingers, can_p, float(np.sign(axis[0])) * axis)
        yaw = 0.0
        near = np.linalg.norm(can_p - tcp) < 0.05
        if fingers > CLOSED and near:
            goal, grip = np.array([tcp[0], tcp[1], LIFT_Z]), 1.0
        elif fingers > CLOSED:
            goal, grip = tcp.copy(), -1.0
        else:
            yaw_error = self._yaw_error(tcp_q, axis)
            yaw = float(np.clip(yaw_error, -MAX_YAW, MAX_YAW))
            xy_error = np.linalg.norm(can_p[:2] - tcp[:2])
            aligned = xy_error < 0.015 and abs(yaw_error) < 0.1
            descending = aligned or (xy_error < 0.03 and tcp[2] < can_p[2] + HOVER - 0.03)
            goal = can_p + [0.0, 0.0, 0.0 if descending else HOVER]
            grip = 1.0 if np.linalg.norm(can_p - tcp) < 0.015 else -1.0
        move = np.clip(goal - tcp, -MAX_STEP, MAX_STEP)
        return np.array([[*move, 0.0, 0.0, yaw, grip]], dtype=np.float32)

    @staticmethod
    def _act_pick_can_front(
        tcp: np.ndarray, tcp_q: np.ndarray, fingers: float, can_p: np.ndarray, axis: np.ndarray
    ) -> np.ndarray:
        """Grasp a can lying along x (``axis``: its unit long axis, pointing away from the robot) at its near end from
        the front, fingers side by side; lift once closed on it."""
        approach = np.array([np.cos(FRONT_PITCH), 0.0, -np.sin(FRONT_PITCH)])
        grasp = can_p + (FRONT_DEPTH - CAN_HALF_LENGTH) * axis
        standoff = grasp - FRONT_STANDOFF * approach
        turn = _turn_to(_hook_frame(FRONT_PITCH, np.pi / 2), tcp_q)
        grip = -1.0
        if fingers > CLOSED and np.linalg.norm(can_p - tcp) < CAN_HALF_LENGTH + 0.02:  # holding it: lift
            goal, grip, turn = np.array([tcp[0], tcp[1], LIFT_Z]), 1.0, np.zeros(3)
        elif fingers > CLOSED:  # closed on nothing: open
            goal = tcp.copy()
        else:
            to_grasp = grasp - tcp
            ahead = float(to_grasp @ approach)  # distance still to go along the approach axis
            off_line = float(np.linalg.norm(to_grasp - ahead * approach))
            ready = off_line < 0.015 and np.linalg.norm(turn) < FRONT_TURN_TOL and ahead < FRONT_STANDOFF + 0.02
            sliding = off_line < 0.04 and ahead < FRONT_STANDOFF - 0.02
            goal = grasp if ready or sliding else standoff
            grip = 1.0 if np.linalg.norm(to_grasp) < 0.012 else -1.0
        return _action(goal - tcp, MAX_STEP, turn, grip)
