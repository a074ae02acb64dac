"""The Google Robot expert's phase logic on synthetic observations (no simulator: the real runs are in
tests/integration/test_simpler_google_sim.py)."""

from __future__ import annotations

import numpy as np
import pytest

from harness.errors import HarnessError
from harness.protocols import EpisodeSpec, TaskSpec
from policies.expert import simpler_google as google
from policies.expert.simpler_google import GoogleRobotExpert

FRONT = np.array([0.63, -0.16, 0.61])  # top drawer's front-face centre, base frame
EDGE_Z = FRONT[2] + google.PLATE_HALF_HEIGHT + google.HOOK_ABOVE


def _task(name: str) -> TaskSpec:
    return TaskSpec("simpler_google", 0, name, "", 113, 9, (-1.0,) * 7, (1.0,) * 7)


def _hook_quat() -> np.ndarray:
    x, y, z, w = google._hook_frame(google.HOOK_PITCH).as_quat()
    return np.array([w, x, y, z])


def _obs(tcp: list[float], fingers: float, qpos: float = 0.0, apple: list[float] | None = None) -> dict:
    privileged = {"drawer_front": FRONT + [-qpos, 0.0, 0.0], "drawer_qpos": qpos}  # the face moves toward the robot
    if apple is not None:
        privileged["object"] = np.array([*apple, 1.0, 0.0, 0.0, 0.0])
    proprio = np.concatenate([tcp, _hook_quat(), [fingers, fingers]]).astype(np.float32)
    return {"proprio": proprio, "privileged": privileged}


def _expert(task: str) -> GoogleRobotExpert:
    expert = GoogleRobotExpert()
    expert.task = task
    return expert


def test_every_simpler_google_family_has_a_scripted_expert_and_others_are_refused_in_one_line():
    from tasks.simpler_google.grids import FAMILIES

    assert all(GoogleRobotExpert.unsupported(_task(f.name)) is None for f in FAMILIES)
    reason = GoogleRobotExpert.unsupported(_task("wipe_table"))
    assert reason is not None and "no scripted expert for wipe_table" in reason and "\n" not in reason


def test_open_drawer_slides_in_shut_then_opens_the_fingers_then_pulls_back():
    expert = _expert("open_top_drawer")
    at_standoff = [FRONT[0] - google.HOOK_STANDOFF, FRONT[1], EDGE_Z]
    slide = expert.act(_obs(at_standoff, fingers=1.07))[0]
    assert slide[0] > 0.0 and slide[6] == 1.0  # in, fingers shut
    inside = [FRONT[0] + google.HOOK_DEPTH, FRONT[1], EDGE_Z]
    release = expert.act(_obs(inside, fingers=1.07))[0]
    assert np.allclose(release[:3], 0.0, atol=1e-6) and release[6] == -1.0  # open in place
    pull = expert.act(_obs(inside, fingers=0.6))[0]
    assert pull[0] < 0.0 and pull[6] == -1.0  # hooked: pull toward the robot
    done = expert.act(_obs(inside, fingers=0.0, qpos=google.OPEN_QPOS))[0]
    assert np.allclose(done[:6], 0.0, atol=1e-6)  # open far enough: hold


def test_open_drawer_does_not_slide_in_with_open_fingers_or_off_the_line():
    expert = _expert("open_middle_drawer")
    at_standoff = [FRONT[0] - google.HOOK_STANDOFF, FRONT[1], EDGE_Z]
    assert expert.act(_obs(at_standoff, fingers=0.0))[0][6] == 1.0  # shut first
    low = [FRONT[0] - google.HOOK_STANDOFF, FRONT[1], EDGE_Z - 0.08]
    assert expert.act(_obs(low, fingers=1.07))[0][2] > 0.0  # climb to the edge's height, not into the plate


def test_place_apple_opens_the_drawer_then_unhooks_then_grasps_and_lets_go_over_the_drawer():
    expert = _expert("place_apple_in_closed_top_drawer")
    top_z = FRONT[2] + google.CABINET_TOP_DZ
    apple = [FRONT[0] + 0.08, FRONT[1], top_z + 0.026]  # on the cabinet top, 8 cm behind its front edge
    inside = [FRONT[0] + google.HOOK_DEPTH, FRONT[1], EDGE_Z]
    assert expert.act(_obs(inside, fingers=1.07, apple=apple))[0][6] == -1.0  # drawer shut: hooking as open-drawer
    opened = google.APPLE_OPEN_QPOS + 0.01
    hooked = [FRONT[0] - opened + google.HOOK_DEPTH, FRONT[1], EDGE_Z]
    unhook = expert.act(_obs(hooked, fingers=0.2, qpos=opened, apple=apple))[0]
    assert unhook[6] == 1.0 and np.allclose(unhook[:3], 0.0, atol=1e-6)  # shut the fingers before backing out
    backed_out = expert.act(_obs(hooked, fingers=1.07, qpos=opened, apple=apple))[0]
    assert backed_out[0] < 0.0  # then back out toward the robot
    over_drawer = [FRONT[0] - opened + google.APPLE_DROP_DX, FRONT[1], FRONT[2] + google.APPLE_DROP_DZ - 0.005]
    low_apple = list(over_drawer)
    let_go = expert.act(_obs(over_drawer, fingers=0.7, qpos=opened, apple=low_apple))[0]
    assert let_go[6] == -1.0  # held, over the drawer, low enough: let go
    high = [over_drawer[0], over_drawer[1], top_z + 0.06]
    lower = expert.act(_obs(high, fingers=0.7, qpos=opened, apple=high))[0]
    assert lower[2] < 0.0 and lower[6] == 1.0  # held over the drawer but high: lower it, still holding
    in_drawer = [over_drawer[0], over_drawer[1], FRONT[2] - 0.02]
    assert np.allclose(expert.act(_obs(high, fingers=0.0, qpos=opened, apple=in_drawer))[0][:6], 0.0)  # done: hold


def test_unscripted_task_is_refused_at_reset():
    episode = EpisodeSpec(index=0, task=_task("wipe_table"), episode=0, init_index=0, seed=0)
    with pytest.raises(HarnessError, match="no scripted expert for wipe_table"):
        GoogleRobotExpert().reset(episode)


def _can_obs(tcp: list[float], tcp_quat_wxyz: np.ndarray, fingers: float, can: list[float], axis: str) -> dict:
    """A coke can lying along base ``axis`` ("x" or "y"): its model +y (long axis) turned onto that axis."""
    can_rot = google.Rotation.from_rotvec([0.0, 0.0, -np.pi / 2 if axis == "x" else 0.0])
    x, y, z, w = can_rot.as_quat()
    proprio = np.concatenate([tcp, tcp_quat_wxyz, [fingers, fingers]]).astype(np.float32)
    return {"proprio": proprio, "privileged": {"object": np.array([*can, w, x, y, z])}}


def test_far_can_lying_along_x_is_grasped_from_the_front_and_near_ones_from_above():
    expert = _expert("pick_coke_can_vertical")
    down = np.array([0.0, 1.0, 0.0, 0.0])  # wxyz: tcp z axis (approach) pointing down
    far = [google.FRONT_MIN_X + 0.1, 0.2, 0.835]
    start = expert.act(_can_obs([0.45, -0.2, 0.96], down, 0.0, far, "x"))[0]
    assert np.linalg.norm(start[3:6]) > 0.2 and abs(start[3]) + abs(start[4]) > 0.1  # tilts, not only a yaw
    front = google._hook_frame(google.FRONT_PITCH, np.pi / 2)
    x, y, z, w = front.as_quat()
    approach = front.apply([0.0, 0.0, 1.0])
    grasp = np.array(far) + [google.FRONT_DEPTH - google.CAN_HALF_LENGTH, 0.0, 0.0]
    standoff = grasp - google.FRONT_STANDOFF * approach
    slide = expert.act(_can_obs(list(standoff), np.array([w, x, y, z]), 0.0, far, "x"))[0]
    assert slide[0] > 0.0 and slide[2] < 0.0 and abs(slide[1]) < 1e-6 and slide[6] == -1.0  # in along the approach
    close = expert.act(_can_obs(list(grasp), np.array([w, x, y, z]), 0.0, far, "x"))[0]
    assert close[6] == 1.0
    lift = expert.act(_can_obs(list(grasp), np.array([w, x, y, z]), 0.75, far, "x"))[0]
    assert lift[2] > 0.0 and lift[6] == 1.0
    near = [google.FRONT_MIN_X - 0.05, 0.2, 0.835]
    above = expert.act(_can_obs([0.45, -0.2, 0.96], down, 0.0, near, "x"))[0]
    assert np.allclose(above[3:5], 0.0) and abs(above[5]) > 0.0  # top-down: yaw only
