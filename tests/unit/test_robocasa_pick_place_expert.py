"""The counter -> drawer skill's geometry on a synthetic privileged observation (no simulator): the drop point lies
inside the drawer's interior, in the strip in front of the counter's edge, with the hand clear of that edge; and
the skill's phases pick the actions they should."""

import numpy as np
import pytest

from policies.expert import robocasa_pick_place as skill
from policies.expert.robocasa_motion import OPEN_WIDTH


def _observation(obj_centre, eef, finger_gap=0.08, drawer_out=0.28) -> dict:
    """A drawer opening towards -y (the robot), pulled ``drawer_out`` m out of a counter whose front edge is at
    y = -0.65 and whose top is at z = 0.92; the base faces +y."""
    back, depth = -0.06 - drawer_out, 0.51  # the interior's back wall moves with the drawer
    p0 = np.array([0.56, back, 0.67])  # corners of the interior region: p0, px (across), py (towards the robot), pz
    interior = np.stack([p0, p0 + [0.38, 0, 0], p0 + [0, -depth, 0], p0 + [0, 0, 0.19]])
    obj_centre = np.asarray(obj_centre, dtype=float)
    return {
        "eef_pos": np.asarray(eef, dtype=float), "eef_mat": np.diag([1.0, -1.0, -1.0]),
        "base_pos": np.array([0.75, -1.2, 0.7]), "base_mat": np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0, 0, 1.0]]),
        "gripper": np.array([finger_gap / 2, -finger_gap / 2]), "gripper_qvel": np.zeros(2),
        "obj:obj:center": obj_centre, "obj:obj:pos": obj_centre, "obj:obj:mat": np.eye(3),
        "obj:obj:half_size": np.array([0.126, 0.024, 0.012]),
        "fixture:counter:pos": np.array([0.75, -0.325, 0.46]), "fixture:counter:size": np.array([1.5, 0.65, 0.92]),
        "fixture:drawer:interior": interior,
        "fixture:drawer:handle:door:pos": np.array([0.75, back - depth - 0.05, 0.8]),
        "fixture:drawer:handle:door:axis": np.array([1.0, 0.0, 0.0]),
        "fixture:drawer:joint:door:axis": np.array([0.0, 1.0, 0.0]),
        "fixture:drawer:joint:door:range": np.array([-0.6, 0.0]),
        "fixture:drawer:joint:door:qpos": np.array([-drawer_out]),
    }  # fmt: skip


@pytest.mark.parametrize("drawer_out", [0.24, 0.28, 0.33])
def test_drop_point_is_in_the_exposed_strip_with_the_hand_clear_of_the_counter(drawer_out):
    p = _observation([0.9, -0.4, 0.932], [0.75, -0.7, 1.3], drawer_out=drawer_out)
    point, out, edge = skill.drop_point(p, p["obj:obj:half_size"])
    p0, px, py, _ = p["fixture:drawer:interior"]
    np.testing.assert_allclose(out, [0.0, -1.0, 0.0])
    assert edge == pytest.approx(0.65)  # the counter's front edge, along the outward direction
    along = float(np.dot(point, out))
    assert along >= edge + skill.HAND_HALF - 1e-9  # the hand (closing along `out`) stays clear of the edge
    assert along <= max(np.dot(p0, out), np.dot(py, out)) - 0.024 - 0.01 + 1e-9  # object inside the front wall
    assert p0[0] < point[0] < px[0]
    assert point[2] == pytest.approx(p0[2] + 0.012 + skill.DROP)  # resting height above the floor


def test_a_narrow_strip_keeps_the_object_inside_the_front_wall():
    p = _observation([0.9, -0.4, 0.932], [0.75, -0.7, 1.3], drawer_out=0.16)  # strip 8 cm: narrower than the hand
    point, out, edge = skill.drop_point(p, p["obj:obj:half_size"])
    _, _, py, _ = p["fixture:drawer:interior"]
    along = float(np.dot(point, out))
    assert edge < along <= float(np.dot(py, out)) - 0.024 - 0.01 + 1e-9


def test_phases_grasp_then_carry_then_release():
    # base frame: x ahead = world +y, y (left) = world -x; the drop point is at world (0.75, -0.76)
    # not holding, object on the counter: the top-down grasp (gripper open, arm moving towards the object)
    p = _observation([0.9, -0.4, 0.932], [0.75, -0.7, 1.3])
    action = skill.counter_to_drawer(p)
    assert action[6] == -1.0 and action[0] > 0.5 and action[1] < -0.5  # towards world (+x, +y)
    # holding it above the counter: carry it towards the drop point (world -x, -y), gripper closed
    held = _observation([0.9, -0.6, 1.05], [0.9, -0.6, 1.05], finger_gap=0.048)
    action = skill.counter_to_drawer(held)
    assert action[6] == 1.0 and action[0] < -0.5 and action[1] > 0.5
    # the object down in the strip in front of the counter, fingers open, hand above hover height: rise (a
    # re-grasp would descend towards it)
    dropped = _observation([0.75, -0.76, 0.69], [0.75, -0.76, 0.85], finger_gap=OPEN_WIDTH + 0.005)
    action = skill.counter_to_drawer(dropped)
    assert action[6] == -1.0 and action[2] > 0.5
