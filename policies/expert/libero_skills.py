"""Waypoint plans of the scripted LIBERO expert's skills, computed from privileged state at planning time.

Each skill returns a list of ``Waypoint``s (world-frame end-effector targets, gripper command, optional
target orientation). The controller in ``policies/expert/libero.py`` drives through them. Orientations
are absolute world rotations; ``None`` keeps the episode's start orientation (gripper pointing down).
Distances are metres in the world frame (z up); the fingers of the downward gripper close along world y.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
from scipy.spatial.transform import Rotation

OPEN, CLOSE = -1.0, 1.0
HOVER = 0.12  # m above the object before descending
HOVER_CLEARANCE = 0.05  # m the fingertips hover above the tops of nearby objects (on the way they would tip them)
CARRY_ABOVE = 0.22  # carry height above the higher of object and target
RIM_INSET = 0.012  # m inside the outer radius where a bowl's or mug's rim is grasped
RIM_OBJECTS = ("bowl", "mug")  # open containers: grasped by the rim, not the (hollow) centre
TOL = 0.012  # m: waypoint reached
TALL = 0.14  # m: objects taller than this are grasped just below their top
TALL_GRASP_BELOW_TOP = 0.025  # m
TALL_CARRY_SPEED = 0.5  # max action while carrying a tall object
TALL_PLACE_CLEARANCE = 0.02  # m between a tall object's bottom and the target when it is released
FLAT, GRIPPER_SPAN = 0.03, 0.075  # m: lower than FLAT and wider than the open gripper -> pushed, not grasped
PUSH_HEIGHT = 0.012  # m above the object's bottom where the fingertips push it
PUSH_INSET = 0.035  # m inside the rim where the fingertips go down
PUSH_OVERSHOOT = 0.04  # m the fingers push past where the plate would be on target (it lags and slips)
PUSH_SPEED = 0.35  # of the controller's full step while pushing (faster lets the rim slip past the fingers)
PUSH_TOL = 0.012  # m: pushed object's centre this close to the target -> done
# the downward Panda hand around its fingertips (measured from its collision geoms): x, y half extents [m]
HAND_HALF, HAND_BOTTOM, HAND_MID_HEIGHT = (0.035, 0.11), 0.024, 0.075
GRASP_LEAN_DEG = 25.0  # pitch of the hand away from a neighbour when grasping a box
FINGERS_HALF, FINGERS_BOTTOM = (0.015, 0.07), -0.013
PICK_GAIN = 20.0 / 12.0  # pick-and-place moves use a stiffer position gain (faster, surer grasps; measured)
GRIP_STEPS = 12  # steps to wait while the gripper closes / opens
HANDLE_GRIP_STEPS = 8  # the same on a drawer handle (nothing to lift)
INSERT_OPENING = 0.115  # m a drawer is pulled out to put something in: fully out, it overhangs the table
DRAWER_CLEARANCE = 0.03  # m an object is slid clear of an open drawer's front before being lifted
HANDLE_PROTRUSION = 0.03  # m from a drawer's handle back to the inside of its front wall
DRAWER_CARRY_ABOVE = 0.13  # carry height above an opened drawer's region (its walls are low)
DRAWER_STANDOFF = 0.14  # m in front of a handle before approaching it
DRAWER_MARGIN = 0.012  # m pulled / pushed beyond LIBERO's open / closed threshold
KNOB_RADIUS = 0.04  # m from the knob axis where the fingertips push it round
DRAWER_LEAN_DEG = 25.0  # hand lean away from an open drawer while picking and placing into it
KNOB_TILT_DEG = 30.0  # gripper pitch while turning a knob
UP = np.array([0.0, 0.0, 1.0])


@dataclass
class Waypoint:
    """Go to ``pos`` (world [3]) with the gripper command ``grip`` and orientation ``rot`` (None: start
    orientation); ``wait`` steps after arriving; ``done(priv)`` ends the waypoint early when it holds."""

    pos: np.ndarray
    grip: float  # -1 open, +1 close
    wait: int = 0
    tol: float = TOL
    stop_when_blocked: bool = False
    rot: Rotation | None = None
    done: Callable[[dict[str, Any]], bool] | None = None
    timeout: int = 80
    speed: float = 1.0  # max |action| of the position command (1.0 = 5 cm per step)
    gain: float = 1.0  # multiplies the controller's position gain (pushing against resistance)
    tags: tuple[str, ...] = field(default_factory=tuple)


def target_position(priv: dict[str, Any], target: str) -> np.ndarray:
    """World [3] of a region site or an object's origin."""
    if target in priv["sites"]:
        return priv["sites"][target].copy()
    return priv["objects"][target][:3].copy()


def pick_place(
    priv: dict[str, Any],
    obj: str,
    target: str,
    place_height: float = 0.10,
    rot: Rotation | None = None,
    carry_above: float = CARRY_ABOVE,
    rim_direction: np.ndarray | None = None,
    start: Rotation | None = None,
    place_offset: np.ndarray | None = None,
    slide: np.ndarray | None = None,
) -> list[Waypoint]:
    """Hover, descend, grasp, lift, carry above ``target``, lower, release, lift (orientation ``rot``).
    Bowls and mugs are held by the rim at ``rim_direction`` (horizontal unit [3] from their centre; default
    +y, where the downward gripper's fingers, closing along y, straddle the wall; any other direction needs
    a ``rot`` whose closing axis lies along it, see ``along``). With ``start`` (the downward orientation)
    and no ``rot``, boxes are grasped where, and with the pitch at which, the hand clears their neighbours.
    ``place_offset`` (world [3]) moves the place point off the target's centre; ``slide`` (world [3]) moves
    the grasped object sideways before it is lifted (out from under an open drawer)."""
    o = priv["objects"][obj][:3]
    t = target_position(priv, target) + (np.zeros(3) if place_offset is None else place_offset)
    grasp = o.copy()
    offset = np.zeros(3)
    if held_by_rim(obj) and obj in priv.get("extents", {}):
        # Bowls and mugs: grasp the rim, the fingers closing across the wall (radially); by default on the
        # +y or -y side, whichever leaves the hand clearer of other objects
        radius, _, top = priv["extents"][obj]
        if rim_direction is None:
            # +y / -y: fingers close along y (start orientation); -x / +x: turned 90 degrees (needs ``start``)
            sides = [np.array([0.0, 1.0, 0.0]), np.array([0.0, -1.0, 0.0])]
            if rot is None and start is not None:
                sides += [np.array([-1.0, 0.0, 0.0]), np.array([1.0, 0.0, 0.0])]
            rims = [np.array([o[0], o[1], top - 0.01]) + r * (radius - RIM_INSET) for r in sides]
            cost = [
                hand_overlap(priv, obj, g, wide_axis=0 if abs(r[0]) > 0.5 else 1) + 1e-4 * i
                for i, (g, r) in enumerate(zip(rims, sides, strict=True))
            ]
            rim = sides[int(np.argmin(cost))]
            if abs(rim[0]) > 0.5 and start is not None:
                rot = along(rim, start)
        else:
            rim = np.asarray(rim_direction, dtype=np.float64)
        offset = rim * (radius - RIM_INSET)
        grasp = np.array([o[0] + offset[0], o[1] + offset[1], top - 0.01])
    elif rot is None and start is not None and obj in priv.get("aabb", {}):
        # boxes and cans: the point along the object's x extent (fingers close along y) and the hand's pitch
        # (leaning along x) that keep the hand, wide along y, clearest of tall neighbours
        box = priv["aabb"][obj]
        reach = 0.35 * (box[3] - box[0])
        options = [
            (dx, lean) for lean in (0.0, GRASP_LEAN_DEG, -GRASP_LEAN_DEG) for dx in np.linspace(-reach, reach, 7)
        ]
        cost = [
            hand_overlap(priv, obj, o + np.array([dx, 0.0, 0.0]), lean) + 1e-3 * abs(dx) + 1e-4 * abs(lean)
            for dx, lean in options
        ]
        dx, lean = options[int(np.argmin(cost))]
        grasp = o + np.array([dx, 0.0, 0.0])
        offset = np.array([dx, 0.0, 0.0])
        if lean:
            rot = Rotation.from_euler("y", lean, degrees=True) * start
    carry_z = max(o[2], t[2]) + carry_above
    place = np.array([t[0], t[1], max(t[2] + place_height, o[2] + 0.08)]) + offset
    hover_z = max(o[2] + HOVER, neighbours_top(priv, obj, grasp) + HOVER_CLEARANCE)
    carry_speed = 1.0
    box = priv.get("aabb", {}).get(obj)
    if box is not None and box[5] - box[2] > TALL and not held_by_rim(obj):
        # tall objects (bottles): the palm sits ~3 cm above the fingertips, so they are grasped just below
        # their top (the neck), hovered over, and set down on their bottom
        grasp = np.array([o[0], o[1], box[5] - TALL_GRASP_BELOW_TOP])
        if rot is None and start is not None and box[3] - box[0] < box[4] - box[1] - 0.02:
            rot = along(np.array([1.0, 0.0, 0.0]), start)  # close across the narrower side (a pot, not its handle)
        hover_z = box[5] + 0.05
        place[2] = t[2] + (grasp[2] - box[2]) + TALL_PLACE_CLEARANCE
        carry_z = max(carry_z, place[2] + 0.08, hover_z)
        carry_speed = TALL_CARRY_SPEED  # held by the top only: fast moves swing it out of the fingers
    lift = grasp if slide is None else grasp + slide
    return [
        Waypoint(np.array([grasp[0], grasp[1], hover_z]), OPEN, rot=rot, gain=PICK_GAIN),
        Waypoint(
            grasp, OPEN, rot=rot, gain=PICK_GAIN, tol=0.008, stop_when_blocked=True, tags=("grasp",)
        ),  # tall objects stop early
        Waypoint(grasp, CLOSE, rot=rot, gain=PICK_GAIN, wait=GRIP_STEPS, tol=1.0),
        *(
            []
            if slide is None
            else [Waypoint(grasp + slide + UP * 0.01, CLOSE, rot=rot, gain=PICK_GAIN, speed=0.5, tol=0.015)]
        ),
        Waypoint(np.array([lift[0], lift[1], carry_z]), CLOSE, rot=rot, gain=PICK_GAIN, speed=carry_speed),
        Waypoint(np.array([place[0], place[1], carry_z]), CLOSE, rot=rot, gain=PICK_GAIN, speed=carry_speed),
        Waypoint(place, CLOSE, rot=rot, gain=PICK_GAIN, speed=carry_speed),
        Waypoint(place, OPEN, rot=rot, gain=PICK_GAIN, wait=GRIP_STEPS, tol=1.0),
        Waypoint(np.array([place[0], place[1], carry_z]), OPEN, rot=rot, gain=PICK_GAIN),
    ]


def held_by_rim(obj: str) -> bool:
    """Open containers (bowls, mugs) are grasped by the rim, not the (hollow) centre."""
    return any(kind in obj for kind in RIM_OBJECTS)


def neighbours_top(priv: dict[str, Any], obj: str, point: np.ndarray, radius: float = 0.2) -> float:
    """Highest top (world z) of the other objects whose boxes come within ``radius`` of ``point`` (xy)."""
    tops = [-np.inf]
    for name, box in priv.get("aabb", {}).items():
        if name != obj:
            dx = max(box[0] - point[0], 0.0, point[0] - box[3])
            dy = max(box[1] - point[1], 0.0, point[1] - box[4])
            if np.hypot(dx, dy) < radius:
                tops.append(float(box[5]))
    return max(tops)


def hand_overlap(priv: dict[str, Any], obj: str, grasp: np.ndarray, lean_deg: float = 0.0, wide_axis: int = 1) -> float:
    """Area (m^2) of other objects' and fixtures' boxes inside the downward hand's footprint at ``grasp``
    (world [3]): the palm (``HAND_HALF`` around the fingertips, wide along world axis ``wide_axis`` (1: y,
    the start orientation; 0: x, turned 90 degrees), from ``HAND_BOTTOM`` above them; pitched by ``lean_deg``
    about world y it shifts along x) and the open fingers."""
    total = 0.0
    shift = np.sin(np.deg2rad(lean_deg)) * HAND_MID_HEIGHT
    boxes = {**priv.get("fixture_aabb", {}), **priv.get("aabb", {})}
    for name, box in boxes.items():
        if name == obj:
            continue
        for half, bottom, sx in ((HAND_HALF, HAND_BOTTOM, shift), (FINGERS_HALF, FINGERS_BOTTOM, 0.0)):
            if box[5] <= grasp[2] + bottom:
                continue
            hx, hy = (half[1], half[0]) if wide_axis == 0 else half
            dx = min(box[3], grasp[0] + sx + hx) - max(box[0], grasp[0] + sx - hx)
            dy = min(box[4], grasp[1] + hy) - max(box[1], grasp[1] - hy)
            total += max(dx, 0.0) * max(dy, 0.0)
    return total


def leaning_away(opening: np.ndarray, start: Rotation, degrees: float = DRAWER_LEAN_DEG) -> Rotation:
    """``start`` with the hand leaned ``degrees`` towards ``opening`` (horizontal unit [3]): next to an open
    drawer, which overhangs the table in front of its cabinet, an upright hand and wrist hit it."""
    axis = np.cross(UP, np.asarray(opening, dtype=np.float64))
    return Rotation.from_rotvec(axis / max(np.linalg.norm(axis), 1e-9) * np.deg2rad(degrees)) * start


def facing(direction: np.ndarray, start: Rotation) -> Rotation:
    """The start (downward) orientation turned so the gripper's approach axis points along ``direction``
    (horizontal unit [3]) and its fingers close vertically."""
    d = np.asarray(direction, dtype=np.float64)
    axis = np.cross(-UP, d)
    angle = np.arccos(np.clip(np.dot(-UP, d) / max(np.linalg.norm(d), 1e-9), -1.0, 1.0))
    return Rotation.from_rotvec(axis / max(np.linalg.norm(axis), 1e-9) * angle) * start


def _part(name: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    return lambda priv: priv["articulations"][name]


def open_drawer(
    priv: dict[str, Any], name: str, start: Rotation, home: np.ndarray, opening: float | None = None
) -> list[Waypoint]:
    """Grasp the drawer's handle from the front (gripper horizontal, fingers closing vertically), pull it
    along its opening direction until LIBERO calls it open (or, with ``opening``, until the drawer is that
    many metres out), release, back away, and turn the gripper down again on the way to ``home`` (world [3],
    the episode's start position: turning near the cabinet runs the wrist into its joint limits)."""
    state = priv["articulations"][name]
    o = np.asarray(state["opening"], dtype=np.float64)
    h = np.asarray(state["handle"], dtype=np.float64)
    rot = facing(-o, start)
    part = _part(name)
    if opening is None:
        travel = _slide_travel(state, opening=True)
        done = lambda p: _beyond(part(p), True)  # noqa: E731
    else:
        travel = max(0.0, opening - abs(state["qpos"]))
        done = lambda p: abs(part(p)["qpos"]) >= opening  # noqa: E731
    return [
        Waypoint(h + o * DRAWER_STANDOFF, OPEN, rot=rot, tol=0.02),
        Waypoint(h - o * 0.004, OPEN, rot=rot, tol=0.008, stop_when_blocked=True, speed=0.7, tags=("grasp",)),
        Waypoint(h - o * 0.004, CLOSE, rot=rot, wait=HANDLE_GRIP_STEPS, tol=1.0),
        Waypoint(h + o * travel, CLOSE, rot=rot, speed=0.7, stop_when_blocked=True, done=done),
        Waypoint(h + o * travel, OPEN, rot=rot, wait=HANDLE_GRIP_STEPS, tol=1.0),
        Waypoint(h + o * (travel + 0.10), OPEN, rot=rot, tol=0.02),
        Waypoint(0.5 * (h + o * (travel + 0.10)) + 0.5 * home, OPEN, tol=0.04),
    ]


def close_drawer(priv: dict[str, Any], name: str, start: Rotation) -> list[Waypoint]:
    """Push the open drawer shut at its handle with the closed, downward gripper, turned so the hand's wide
    axis (its fingers' closing axis) lies across the push: along it the hand would hit the handles above.
    The hand leans away from the cabinet (pushing a low drawer home, an upright arm's forearm hits the
    cabinet's top). Then lift straight up (backing off first would drag the handle)."""
    state = priv["articulations"][name]
    o = np.asarray(state["opening"], dtype=np.float64)
    h = np.asarray(state["handle"], dtype=np.float64)
    rot = leaning_away(o, across(o, start))
    travel = _slide_travel(state, opening=False)
    part = _part(name)
    return [
        Waypoint(h + o * 0.06 + UP * 0.12, CLOSE, rot=rot, tol=0.02),
        Waypoint(h + o * 0.06, CLOSE, rot=rot),
        Waypoint(
            h - o * travel,
            CLOSE,
            rot=rot,
            speed=0.5,
            stop_when_blocked=True,
            done=lambda p: _beyond(part(p), False),
        ),
        Waypoint(h - o * travel + UP * 0.12, OPEN, rot=rot, tol=0.03),
    ]


def along(direction: np.ndarray, start: Rotation) -> Rotation:
    """The start (downward) orientation turned about the vertical so the fingers close along the horizontal
    ``direction`` [3], by the smaller of the two turns."""
    return across(np.array([-direction[1], direction[0], 0.0]), start)


def across(direction: np.ndarray, start: Rotation) -> Rotation:
    """The start (downward) orientation turned about the vertical so the fingers' closing axis (the hand's
    wide axis) is perpendicular to the horizontal ``direction`` [3], by the smaller of the two turns."""
    yaw = float(np.arctan2(direction[1], direction[0]))
    yaw = (yaw + np.pi / 2) % np.pi - np.pi / 2
    return Rotation.from_euler("z", yaw) * start


def _thresholds(state: dict[str, Any]) -> tuple[float, float, float]:
    """(sign, open threshold, closed threshold) of a slide part: ``sign`` +1 when opening raises the joint
    position; the part is open past the first and closed short of the second (LIBERO's ranges)."""
    ranges = state["ranges"]
    sign = float(state.get("opening_sign") or 1.0)
    open_r, close_r = ranges["default_open_ranges"], ranges["default_close_ranges"]
    return sign, (min(open_r) if sign > 0 else max(open_r)), (max(close_r) if sign > 0 else min(close_r))


def _beyond(state: dict[str, Any], opening: bool) -> bool:
    """The part is open (closed) by LIBERO's test, open with a margin of half ``DRAWER_MARGIN``."""
    if not opening:
        return bool(state["is_closed"])
    sign, open_at, _ = _thresholds(state)
    return bool(state["is_open"]) and sign * (state["qpos"] - open_at) > DRAWER_MARGIN / 2


def _slide_travel(state: dict[str, Any], opening: bool) -> float:
    """Metres the handle still has to move to be open (closed) past LIBERO's threshold with a margin."""
    sign, open_at, closed_at = _thresholds(state)
    if opening:
        return max(0.0, sign * (open_at - state["qpos"])) + DRAWER_MARGIN
    return max(0.0, sign * (state["qpos"] - closed_at)) + DRAWER_MARGIN + 0.01


def turn_on_knob(priv: dict[str, Any], name: str, start: Rotation) -> list[Waypoint]:
    """Push a knob's raised ridge round its (vertical) axis with the closed fingertips until LIBERO calls it
    on: start just behind the ridge's end and sweep along a circle of ``KNOB_RADIUS`` in the switching-on
    direction. The gripper is pitched by ``KNOB_TILT_DEG`` (fingertips ahead of the wrist): pointing
    straight down, the arm hits its wrist joint limits low and near its base, where the stove knobs are."""
    state = priv["articulations"][name]
    rot = Rotation.from_euler("y", KNOB_TILT_DEG, degrees=True) * start
    a = np.asarray(state["anchor"], dtype=np.float64)
    axis = np.asarray(state["axis"], dtype=np.float64) * (state["opening_sign"] or 1.0)
    lever = np.asarray(state["lever"], dtype=np.float64)
    base = np.asarray(priv.get("robot_base", a - np.array([1.0, 0.0, 0.0])), dtype=np.float64)
    if np.dot(lever[:2], (a - base)[:2]) < 0:  # push the ridge's end away from the robot (reachable low)
        lever = -lever
    side = np.cross(axis, lever)  # where the ridge end moves when switched on
    z = float(state["geoms_max"][2]) + 0.004
    part = _part(name)
    on_min = min(state["ranges"].get("default_turnon_ranges") or [0.5])

    def point(deg: float) -> np.ndarray:
        t = np.deg2rad(deg)
        p = a + KNOB_RADIUS * (np.cos(t) * lever + np.sin(t) * side)
        return np.array([p[0], p[1], z])

    def switched_on(p: dict[str, Any]) -> bool:
        s = part(p)
        return bool(s["is_on"]) and s["qpos"] * (s["opening_sign"] or 1.0) > on_min + 0.15

    behind = point(-70.0)
    plan = [
        Waypoint(behind + UP * 0.08, CLOSE, rot=rot, tol=0.015),
        Waypoint(behind, CLOSE, rot=rot, tol=0.008, stop_when_blocked=True),
    ]
    plan += [
        Waypoint(point(deg), CLOSE, rot=rot, tol=0.01, timeout=20, gain=3.0, done=switched_on)
        for deg in range(-40, 140, 30)
    ]
    return plan + [Waypoint(point(90.0) + UP * 0.10, OPEN, tol=0.03)]


def is_flat_and_wide(priv: dict[str, Any], obj: str) -> bool:
    """Objects the gripper cannot grasp from above (plates): lower than ``FLAT`` and wider than the gripper opens."""
    box = priv.get("aabb", {}).get(obj)
    if box is None:
        return False
    return bool(box[5] - box[2] < FLAT and min(box[3] - box[0], box[4] - box[1]) > GRIPPER_SPAN)


def push(priv: dict[str, Any], obj: str, target: str, start_rot: Rotation) -> list[Waypoint]:
    """Slide ``obj`` (a plate) over the table until its centre is on ``target``: the closed fingertips go
    down inside its rim on the far side from the target and push that rim from inside along the straight
    line, in short segments. Pushing from inside keeps the hand over the plate: behind it there may be a
    cabinet whose handles the hand (wide along its fingers' closing axis, turned across the push) would hit."""
    box = priv["aabb"][obj]
    p = priv["objects"][obj][:3]
    t = target_position(priv, target)
    d = np.array([t[0] - p[0], t[1] - p[1], 0.0])
    dist = float(np.linalg.norm(d))
    d = d / max(dist, 1e-9)
    radius = 0.5 * max(box[3] - box[0], box[4] - box[1])
    z = box[2] + PUSH_HEIGHT
    start = np.array([p[0], p[1], z]) - d * (radius - PUSH_INSET)
    end = np.array([t[0], t[1], z]) - d * (radius - PUSH_INSET - PUSH_OVERSHOOT)  # the plate lags the fingers

    def arrived(q: dict[str, Any]) -> bool:
        c = q["objects"][obj][:3]
        return bool(np.linalg.norm(c[:2] - t[:2]) < PUSH_TOL)

    rot = across(d, start_rot)
    n = max(1, int(np.ceil(np.linalg.norm(end - start) / 0.05)))
    plan = [
        Waypoint(start + UP * 0.06, CLOSE, rot=rot, tol=0.02),
        Waypoint(start, CLOSE, rot=rot, tol=0.01, stop_when_blocked=True),
    ]
    plan += [
        Waypoint(
            start + (end - start) * (i / n),
            CLOSE,
            rot=rot,
            tol=0.015,
            speed=PUSH_SPEED,
            timeout=30,
            done=arrived,
            tags=("until_goal",),
        )
        for i in range(1, n + 1)
    ]
    return plan + [Waypoint(end + UP * 0.10 - d * 0.03, OPEN, rot=rot, tol=0.03)]


def drawer_grasp(opening: np.ndarray, start: Rotation) -> tuple[np.ndarray, Rotation]:
    """Rim direction [3] and hand orientation next to the open drawer whose opening direction is ``opening``
    [3]: the rim facing the robot, the fingers closing along the cabinet's face (the hand is wide along that
    axis and would hit the cabinet above the drawer otherwise), the hand leaning away from the cabinet."""
    rim = np.array([-opening[1], opening[0], 0.0])
    rim = rim if rim[0] <= 0 else -rim
    return rim, leaning_away(opening, along(rim, start))


def drawer_holding(priv: dict[str, Any], obj: str) -> str | None:
    """The open drawer (articulated slide part) whose moving body's footprint holds ``obj``'s centre."""
    p = priv["objects"][obj][:3]
    for name, state in priv.get("articulations", {}).items():
        if state["type"] != "slide" or not state["is_open"]:
            continue
        lo, hi = state["geoms_min"], state["geoms_max"]
        if lo[0] <= p[0] <= hi[0] and lo[1] <= p[1] <= hi[1] and p[2] >= lo[2] - 0.02:
            return name
    return None


def put_in_drawer(priv: dict[str, Any], obj: str, target: str, start: Rotation, home: np.ndarray) -> list[Waypoint]:
    """Put ``obj`` into the drawer region ``target``: pull the drawer out just ``INSERT_OPENING`` (fully out
    it overhangs the objects in front of it), slide an object partly under it clear along the opening before
    lifting it, hold it as ``drawer_grasp`` says, and place it halfway between the drawer's front wall (just
    behind its handle) and the cabinet's face."""
    state = priv["articulations"][target]
    plan: list[Waypoint] = []
    if abs(state["qpos"]) < INSERT_OPENING - 0.01:
        plan += open_drawer(priv, target, start, home, INSERT_OPENING)
    o = np.asarray(state["opening"], dtype=np.float64)
    pulled = max(0.0, INSERT_OPENING - abs(state["qpos"]))
    out = abs(state["qpos"]) + pulled
    place = state["handle"] + o * (pulled - HANDLE_PROTRUSION - out / 2)
    opened = dict(priv)
    opened["sites"] = dict(priv["sites"])
    site = priv["sites"][target]
    opened["sites"][target] = site + o * float(np.dot(place - site, o))
    rim, lean = drawer_grasp(o, start)
    front = float(np.dot(state["handle"], o)) + pulled - HANDLE_PROTRUSION
    box = priv.get("aabb", {}).get(obj)
    slide = None
    if box is not None:
        corners = np.array([[box[i], box[j], 0.0] for i in (0, 3) for j in (1, 4)])
        near = float(np.min(corners @ o))
        lateral = np.array([-o[1], o[0], 0.0])
        span = np.array([state["geoms_min"], state["geoms_max"]]) @ lateral
        beside = corners @ lateral
        if near < front + DRAWER_CLEARANCE and beside.max() > span.min() and beside.min() < span.max():
            slide = o * (front + DRAWER_CLEARANCE - near)
    return plan + pick_place(
        opened,
        obj,
        target,
        place_height=0.07,
        rot=lean,
        carry_above=DRAWER_CARRY_ABOVE,
        rim_direction=rim,
        slide=slide,
    )
