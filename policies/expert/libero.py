"""Scripted LIBERO expert: every BDDL goal predicate becomes a skill (``policies/expert/libero_skills.py``).

Reads poses from ``obs["privileged"]`` (see tasks/libero/env.py): objects, region sites, articulated parts
(drawers, doors, knobs, with LIBERO's own open / closed / on flags) and which goal predicates hold.
Skills: ``In`` / ``On`` -> pick and place (opening the target drawer first when it is closed); ``Open`` /
``Close`` of a drawer -> pull its handle / push it shut; ``Turnon`` -> push the stove knob round.
Order: opening and switching on first, then placing, then closing. When a plan ends with its predicate
still false, the expert plans that predicate again (up to ``MAX_ATTEMPTS``).
A proportional controller on the end-effector pose produces 7-D OSC_POSE delta actions (1.0 = 5 cm,
0.5 rad); the orientation is servoed to the waypoint's (the start orientation unless a skill turns it).
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
from scipy.spatial.transform import Rotation

from harness.protocols import EpisodeSpec, Obs
from policies.expert import libero_skills as skills
from policies.expert.libero_skills import OPEN, Waypoint

POS_GAIN = 12.0  # action per metre of position error (1.0 action = 5 cm OSC step)
ROT_GAIN = 1.5  # action per radian of orientation error (1.0 action = 0.5 rad)
ROT_TOL = 0.12  # rad: orientation reached
STALL_STEPS, STALL_EPS = 6, 0.001  # a waypoint counts as reached when the hand stops moving (blocked)
NEAR_ENOUGH = 0.03  # m: a waypoint counts as reached where the hand stops this close to it
MAX_ATTEMPTS = 3  # plans per goal predicate
SHARED_SPREAD = 0.09  # m between objects placed on the same target
ORDER = {"open": 0, "turnon": 1, "in": 2, "on": 2, "close": 3}


def predicate_order(goal: list[tuple[str, ...]]) -> list[int]:
    """Indices of ``goal`` in the order the expert works on them (stable within a kind)."""
    return sorted(range(len(goal)), key=lambda i: (ORDER.get(goal[i][0], 9), i))


def _holds_or(index: int, done: Callable[[dict[str, Any]], bool] | None) -> Callable[[dict[str, Any]], bool]:
    """Waypoint end condition: goal predicate ``index`` holds, or ``done`` does."""
    return lambda priv: bool(priv["goal_holds"][index]) or (done is not None and done(priv))


class LiberoExpert:
    """Privileged scripted expert for LIBERO (see module docstring)."""

    def __init__(self) -> None:
        self.reset(None)

    def reset(self, episode: EpisodeSpec | None) -> None:
        self._plan: list[Waypoint] = []
        self._attempts: dict[int, int] = {}
        self._start_rot: Rotation | None = None
        self._home = np.zeros(3)
        self._wait = 0
        self._history: list[np.ndarray] = []

    def _next_plan(self, priv: dict[str, Any]) -> list[Waypoint]:
        """Waypoints for the first unsatisfied goal predicate (in ``predicate_order``) with attempts left."""
        goal, holds = priv["goal"], priv.get("goal_holds") or [False] * len(priv["goal"])
        for i in predicate_order(goal):
            if holds[i] or self._attempts.get(i, 0) >= MAX_ATTEMPTS:
                continue
            plan = self._plan_predicate(priv, goal[i])
            self._attempts[i] = self._attempts.get(i, 0) + 1
            for wp in plan:
                if "until_goal" in wp.tags:  # this predicate holding ends the waypoint
                    wp.done = _holds_or(i, wp.done)
            if plan:
                return plan
        return []

    def _plan_predicate(self, priv: dict[str, Any], pred: tuple[str, ...]) -> list[Waypoint]:
        kind, args = pred[0], pred[1:]
        parts = priv.get("articulations", {})
        assert self._start_rot is not None
        if kind == "open" and args[0] in parts:
            return skills.open_drawer(priv, args[0], self._start_rot, self._home)
        if kind == "close" and args[0] in parts:
            return skills.close_drawer(priv, args[0], self._start_rot)
        if kind == "turnon" and args[0] in parts:
            return skills.turn_on_knob(priv, args[0], self._start_rot)
        if kind == "on" and len(args) == 2 and skills.is_flat_and_wide(priv, args[0]):  # plates onto regions
            return skills.push(priv, args[0], args[1], self._start_rot)
        if kind in ("in", "on") and len(args) == 2:
            obj, target = args
            if target in parts and parts[target]["type"] == "slide":
                return skills.put_in_drawer(priv, obj, target, self._start_rot, self._home)
            source = skills.drawer_holding(priv, obj)
            if source is not None:  # picked out of a drawer: held as when placing into one
                rim, lean = skills.drawer_grasp(parts[source]["opening"], self._start_rot)
                return skills.pick_place(
                    priv, obj, target, rot=lean, rim_direction=rim, place_offset=self._spread(priv, pred)
                )
            return skills.pick_place(priv, obj, target, start=self._start_rot, place_offset=self._spread(priv, pred))
        return []

    @staticmethod
    def _spread(priv: dict[str, Any], pred: tuple[str, ...]) -> np.ndarray:
        """Offset (world [3], along x) of this object's place point when several ``On`` predicates share its
        target (two moka pots on one stove): side by side, ``SHARED_SPREAD`` apart, in goal order."""
        sharing = [g[1] for g in priv["goal"] if g[0] == "on" and len(g) == 3 and g[2] == pred[2]]
        if pred[0] != "on" or len(sharing) < 2:
            return np.zeros(3)
        return np.array([(sharing.index(pred[1]) - (len(sharing) - 1) / 2) * SHARED_SPREAD, 0.0, 0.0])

    def act(self, obs: Obs) -> np.ndarray:
        """float32 [1, 7] OSC_POSE delta action."""
        priv = obs["privileged"]
        ee = priv["ee_pose"][:3]
        rot = Rotation.from_quat(priv["ee_pose"][3:7])
        if self._start_rot is None:
            self._start_rot, self._home = rot, ee.copy()
        if not self._plan:
            self._plan = self._next_plan(priv)
            self._history = []
        action = np.zeros(7, dtype=np.float32)
        if not self._plan:
            action[6] = OPEN
            return action[None]
        wp = self._plan[0]
        err = wp.pos - ee
        action[:3] = np.clip(err * POS_GAIN * wp.gain, -wp.speed, wp.speed)
        rot_err = ((wp.rot or self._start_rot) * rot.inv()).as_rotvec()
        action[3:6] = np.clip(rot_err * ROT_GAIN, -1.0, 1.0)
        action[6] = wp.grip
        self._history.append(ee.copy())
        still = (
            len(self._history) > STALL_STEPS
            and np.linalg.norm(self._history[-1] - self._history[-1 - STALL_STEPS]) < STALL_EPS
        )
        blocked = wp.stop_when_blocked and still
        stalled = still and np.linalg.norm(err) < NEAR_ENOUGH  # settled short of it (the OSC's steady-state error)
        at_pose = np.linalg.norm(err) < wp.tol and np.linalg.norm(rot_err) < ROT_TOL
        arrived = at_pose or wp.tol >= 1.0 or blocked or stalled or (wp.done is not None and wp.done(priv))
        if arrived or len(self._history) > wp.timeout:
            if arrived and self._wait < wp.wait:
                self._wait += 1
            else:
                self._wait = 0
                self._history = []
                self._plan.pop(0)
                if blocked and self._plan and "grasp" in wp.tags:  # grasp where the hand stopped
                    self._plan[0].pos = ee.copy()
        return action[None]
