import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from harness.data.collect import pose7_to_matrix
from harness.data.hdf5_io import Demo
from harness.data.mimicgen import interpolate_poses, owner_of, pose_to_delta_action, segment_demo, transform_segment


def _T(xyz, yaw_deg=0.0):
    T = np.eye(4)
    T[:3, :3] = Rotation.from_euler("z", yaw_deg, degrees=True).as_matrix()
    T[:3, 3] = xyz
    return T


def test_transform_moves_eef_rigidly_with_the_object():
    obj_src, obj_new = _T([0.1, 0.0, 0.0]), _T([0.3, 0.2, 0.0], yaw_deg=90)
    eef_src = np.stack([_T([0.1, 0.0, 0.2]), _T([0.15, 0.0, 0.1])])  # above the object, then 5 cm along +x
    new = transform_segment(eef_src, obj_src, obj_new)
    assert np.allclose(new[0][:3, 3], [0.3, 0.2, 0.2])  # still right above the object
    assert np.allclose(new[1][:3, 3], [0.3, 0.25, 0.1])  # the +x offset turned into +y by the 90 deg yaw
    assert np.allclose(new[1][:3, :3], Rotation.from_euler("z", 90, degrees=True).as_matrix())
    # relative pose eef<-object is preserved
    assert np.allclose(np.linalg.inv(obj_new) @ new[1], np.linalg.inv(obj_src) @ eef_src[1])


def test_interpolation_endpoints_and_midpoint():
    a, b = _T([0, 0, 0]), _T([0.1, 0.2, 0.3], yaw_deg=60)
    path = interpolate_poses(a, b, 4)
    assert path.shape == (4, 4, 4) and np.allclose(path[-1], b)
    assert np.allclose(path[1][:3, 3], [0.05, 0.1, 0.15])
    assert Rotation.from_matrix(path[1][:3, :3]).as_euler("zyx", degrees=True)[0] == pytest.approx(30)


def test_delta_action_scaling_and_clipping():
    cur = _T([0, 0, 0])
    a = pose_to_delta_action(cur, _T([0.01, -0.02, 0.0], yaw_deg=np.degrees(0.1)))
    assert np.allclose(a, [0.2, -0.4, 0.0, 0.0, 0.0, 0.2])
    assert np.allclose(pose_to_delta_action(cur, _T([1.0, 0, 0]))[:3], [1, 0, 0])


def test_pose7_quaternion_orders_agree():
    q_xyzw = Rotation.from_euler("z", 30, degrees=True).as_quat()
    a = pose7_to_matrix(np.r_[1, 2, 3, q_xyzw], "xyzw")
    b = pose7_to_matrix(np.r_[1, 2, 3, q_xyzw[3], q_xyzw[:3]], "wxyz")
    assert np.allclose(a, b) and np.allclose(a, _T([1, 2, 3], 30))


def test_owner_of_regions():
    objs = ["basket_1", "plate_1", "basket_10"]
    assert owner_of("basket_1_contain_region", objs) == "basket_1"
    assert owner_of("plate_1", objs) == "plate_1"
    assert owner_of("flat_stove_1_cook_region", objs) is None


def test_segment_demo_from_lift_and_goal_signals():
    T = 30
    z = np.zeros(T)
    z[12:] = np.linspace(0.05, 0.2, T - 12)  # lifted from step 12
    obj = np.tile(np.eye(4), (T, 1, 1))
    obj[:, 2, 3] = z
    signal = (np.arange(T) >= 24).astype(int)
    demo = Demo(
        obs={},
        actions=np.zeros((T, 7)),
        datagen={
            "object_poses": {"soup_1": obj, "basket_1": np.tile(np.eye(4), (T, 1, 1))},
            "subtask_term_signals": {"goal_0": signal},
            "eef_pose": np.tile(np.eye(4), (T, 1, 1)),
            "gripper_action": np.zeros((T, 1)),
        },
    )
    segs = segment_demo(demo, [("in", "soup_1", "basket_1_contain_region")])
    assert [(s.start, s.end, s.ref) for s in segs] == [(0, 12, "soup_1"), (12, 25, "basket_1"), (25, 30, None)]
