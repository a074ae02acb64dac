"""Scripted LIBERO expert for pick-and-place goals (``In X region`` / ``On X obj_or_region``).

Reads poses from ``obs["privileged"]`` (see tasks/libero/env.py). Each goal predicate becomes one
object-centric subtask: hover above the object, descend, close the gripper, lift, carry above the
target, lower, open, lift. A proportional controller on the end-effector position produces 7-D
OSC_POSE delta actions (1.0 = 5 cm); orientation is held (zero rotation deltas).
Goals the expert cannot script (articulated ``Open``/``Close``/``Turnon``) are skipped: the task is
then not solved by the expert and is documented as such.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from harness.protocols import EpisodeSpec, Obs

POS_GAIN = 12.0  # action per metre of position error (1.0 action = 5 cm OSC step)
HOVER = 0.12  # m above the object before descending
CARRY_ABOVE = 0.22  # carry height above the higher of object and target
RIM_INSET = 0.012  # m inside the outer radius where a bowl's or mug's rim is grasped
RIM_OBJECTS = ("bowl", "mug")  # open containers: grasped by the rim, not the (hollow) centre
TOL = 0.012  # m: waypoint reached
GRIP_STEPS = 12  # steps to wait while the gripper closes / opens
STALL_STEPS, STALL_EPS = 6, 0.001  # a waypoint counts as reached when the hand stops moving (blocked)
WAYPOINT_TIMEOUT = 80  # steps before giving up on a waypoint
OPEN, CLOSE = -1.0, 1.0


@dataclass
class Waypoint:
    """Go to ``pos`` (world [3]) with the gripper command ``grip``; ``wait`` steps after arriving."""

    pos: np.ndarray
    grip: float
    wait: int = 0
    tol: float = TOL
    stop_when_blocked: bool = False


def pick_place_subtasks(goal: list[tuple[str, ...]]) -> list[tuple[str, str]]:
    """(object, target) pairs from BDDL goal predicates that are pick-and-place."""
    return [(g[1], g[2]) for g in goal if g[0] in ("in", "on") and len(g) == 3]


class LiberoExpert:
    """Privileged pick-and-place expert (see module docstring)."""

    def __init__(self) -> None:
        self._subtasks: list[tuple[str, str]] = []
        self._plan: list[Waypoint] = []
        self._wait = 0

    def reset(self, episode: EpisodeSpec) -> None:
        self._subtasks = []
        self._plan = []
        self._wait = 0
        self._started = False
        self._history: list[np.ndarray] = []

    def _target_pos(self, priv: dict, target: str) -> np.ndarray:
        if target in priv["sites"]:
            return priv["sites"][target].copy()
        return priv["objects"][target][:3].copy()

    def _plan_subtask(self, priv: dict, obj: str, target: str) -> list[Waypoint]:
        o = priv["objects"][obj][:3]
        t = self._target_pos(priv, target)
        grasp = o.copy()
        offset = np.zeros(3)
        if any(kind in obj for kind in RIM_OBJECTS) and obj in priv.get("extents", {}):
            # Bowls and mugs: grasp the rim. The fingers close along world y, so they straddle the wall where it
            # runs along x: on the bowl's +y side.
            radius, _, top = priv["extents"][obj]
            offset = np.array([0.0, radius - RIM_INSET, 0.0])
            grasp = np.array([o[0], o[1] + offset[1], top - 0.01])
        carry_z = max(o[2], t[2]) + CARRY_ABOVE
        place = np.array([t[0], t[1], max(t[2] + 0.10, o[2] + 0.08)]) + offset
        return [
            Waypoint(np.array([grasp[0], grasp[1], o[2] + HOVER]), OPEN),
            Waypoint(grasp, OPEN, tol=0.008, stop_when_blocked=True),  # tall objects block the palm early
            Waypoint(grasp, CLOSE, wait=GRIP_STEPS, tol=1.0),
            Waypoint(np.array([grasp[0], grasp[1], carry_z]), CLOSE),
            Waypoint(np.array([place[0], place[1], carry_z]), CLOSE),
            Waypoint(place, CLOSE),
            Waypoint(place, OPEN, wait=GRIP_STEPS, tol=1.0),
            Waypoint(np.array([place[0], place[1], carry_z]), OPEN),
        ]

    def act(self, obs: Obs) -> np.ndarray:
        """float32 [1, 7] OSC_POSE delta action."""
        priv = obs["privileged"]
        if not self._started:
            self._subtasks = pick_place_subtasks(priv["goal"])
            self._started = True
        if not self._plan and self._subtasks:
            obj, target = self._subtasks.pop(0)
            self._plan = self._plan_subtask(priv, obj, target)
        ee = priv["ee_pose"][:3]
        action = np.zeros(7, dtype=np.float32)
        if not self._plan:
            action[6] = OPEN
            return action[None]
        wp = self._plan[0]
        err = wp.pos - ee
        action[:3] = np.clip(err * POS_GAIN, -1.0, 1.0)
        action[6] = wp.grip
        self._history.append(ee.copy())
        blocked = (
            wp.stop_when_blocked
            and len(self._history) > STALL_STEPS
            and np.linalg.norm(self._history[-1] - self._history[-1 - STALL_STEPS]) < STALL_EPS
        )
        arrived = np.linalg.norm(err) < wp.tol or wp.tol >= 1.0 or blocked
        if arrived or len(self._history) > WAYPOINT_TIMEOUT:
            if arrived and self._wait < wp.wait:
                self._wait += 1
            else:
                self._wait = 0
                self._history = []
                self._plan.pop(0)
                if blocked and self._plan:  # grasp where the hand stopped, not at the unreachable target
                    self._plan[0].pos = ee.copy()
        return action[None]
