"""Forced goal states (child side), for tests of the success logic: each puts the scene of one RoboCasa task
into a state its own ``_check_success`` should accept (doors / drawers through RoboCasa's fixture API, objects
teleported into a fixture's interior region or onto a counter's top region, away from the gripper)."""

from __future__ import annotations

from typing import Any

import numpy as np


def _region_points(fixture: Any) -> list[tuple[np.ndarray, np.ndarray]]:
    """(centre of the bottom face, half extents) of each interior / top region of ``fixture``, world frame."""
    out = []
    for p0, px, py, pz in fixture.get_int_sites(relative=False).values():
        p0, px, py, pz = (np.asarray(p, dtype=np.float64) for p in (p0, px, py, pz))
        centre = p0 + (px - p0) / 2 + (py - p0) / 2
        out.append((centre, np.array([np.linalg.norm(px - p0), np.linalg.norm(py - p0), pz[2] - p0[2]]) / 2))
    return out


def _teleport(env: Any, name: str, pos: np.ndarray) -> None:
    obj = env.objects[name]
    quat = np.array([1.0, 0.0, 0.0, 0.0])  # upright (MuJoCo wxyz)
    env.sim.data.set_joint_qpos(obj.joints[0], np.concatenate([pos, quat]))
    env.sim.data.set_joint_qvel(obj.joints[0], np.zeros(6))
    env.sim.forward()


def _eef(env: Any) -> np.ndarray:
    return np.array(env.sim.data.site_xpos[env.robots[0].eef_site_id["right"]])


def _place_in(env: Any, name: str, fixture: Any, far_from_gripper: bool) -> None:
    """Object resting inside ``fixture``'s interior region; with ``far_from_gripper``
    the candidate point (centre or inset corners of every region) farthest from the gripper."""
    obj = env.objects[name]
    lift = -float(obj.bottom_offset[2]) + 0.005
    candidates = []
    for centre, half in _region_points(fixture):
        inset = np.maximum(half[:2] - 0.08, 0.0)
        for sx, sy in ((0, 0), (1, 1), (1, -1), (-1, 1), (-1, -1)):
            candidates.append(centre + np.array([sx * inset[0], sy * inset[1], lift]))
    if far_from_gripper:
        eef = _eef(env)
        candidates.sort(key=lambda p: -float(np.linalg.norm(p - eef)))
    _teleport(env, name, candidates[0])


def _place_on_top(env: Any, name: str, fixture: Any) -> None:
    """Object resting on ``fixture``'s top surface (its box: ``pos`` +- ``size`` / 2, yawed by ``rot``), at the
    inset corner or centre farthest from the gripper."""
    obj = env.objects[name]
    pos, size = np.asarray(fixture.pos, dtype=np.float64), np.asarray(fixture.size, dtype=np.float64)
    yaw = float(getattr(fixture, "rot", 0.0))
    rot = np.array([[np.cos(yaw), -np.sin(yaw)], [np.sin(yaw), np.cos(yaw)]])
    inset = np.maximum(size[:2] / 2 - 0.15, 0.0)
    top = pos[2] + size[2] / 2 - float(obj.bottom_offset[2]) + 0.005
    corners = ((0, 0), (1, 1), (1, -1), (-1, 1), (-1, -1))
    candidates = [np.append(pos[:2] + rot @ (inset * np.array(c)), top) for c in corners]
    eef = _eef(env)
    _teleport(env, name, max(candidates, key=lambda p: float(np.linalg.norm(p - eef))))


def _counter(env: Any) -> Any:
    from robocasa.models.fixtures import Counter

    counter = getattr(env, "counter", None)
    if counter is not None:
        return counter
    eef = _eef(env)
    counters = [f for f in env.fixtures.values() if isinstance(f, Counter)]
    return min(counters, key=lambda f: float(np.linalg.norm(np.asarray(f.pos)[:2] - eef[:2])))


def force_goal(env: Any, task: str) -> None:
    if task in ("OpenCabinet", "CloseCabinet", "OpenDrawer", "CloseDrawer"):
        fixture = env.drawer if "Drawer" in task else env.fxtr if hasattr(env, "fxtr") else env.cab
        if task.startswith("Open"):
            kwargs = {"partial_open": False} if "Drawer" in task else {}
            fixture.open_door(env=env, min=1.0, max=1.0, **kwargs)
        else:
            fixture.close_door(env=env)
    elif task == "PickPlaceCounterToCabinet":
        _place_in(env, "obj", env.cab, far_from_gripper=True)
    elif task == "PickPlaceCounterToDrawer":
        _place_in(env, "obj", env.drawer, far_from_gripper=True)
    elif task in ("PickPlaceCabinetToCounter", "PickPlaceDrawerToCounter"):
        _place_on_top(env, "obj", _counter(env))
    elif task == "CounterPickLift":
        start = np.array(env.start_pos)
        _teleport(env, "obj", start + np.array([0.0, 0.0, 0.15]))
        env.pick_lift_metrics()  # the lift latches (S.R.L.)
        sideways = (start + np.array([0.2, 0.0, 0.005]), start + np.array([-0.2, 0.0, 0.005]))
        _teleport(env, "obj", max(sideways, key=lambda p: float(np.linalg.norm(p - _eef(env)))))
    else:
        from harness.errors import HarnessError

        raise HarnessError(f"no forced goal state for RoboCasa task {task}")


def force_contact(env: Any) -> None:
    """The task object overlapping the left finger pad (tests of S.R.C.: a gripper-object contact)."""
    gripper = env.robots[0].gripper["right"]
    geom = gripper.important_geoms["left_fingerpad"][0]
    _teleport(env, "obj", np.array(env.sim.data.geom_xpos[env.sim.model.geom_name2id(geom)]))
