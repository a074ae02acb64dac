"""HDF5 demo I/O (our writer and an official-LIBERO-style file made here) and the chunking dataset."""

import json

import h5py
import numpy as np
import pytest

from harness.data.dataset import DemoChunkDataset, compute_stats, split_episodes
from harness.data.hdf5_io import Demo, DemoWriter, iter_demos, open_demo_file, read_demo
from harness.errors import HarnessError


def _demo(T, seed, with_datagen=True):
    rng = np.random.default_rng(seed)
    obs = {
        "agentview_rgb": rng.integers(0, 255, (T, 8, 8, 3), dtype=np.uint8),
        "eye_in_hand_rgb": rng.integers(0, 255, (T, 8, 8, 3), dtype=np.uint8),
        "ee_states": rng.normal(size=(T, 6)),
        "gripper_states": rng.normal(size=(T, 2)),
        "joint_states": rng.normal(size=(T, 7)),
    }
    datagen = (
        {
            "eef_pose": np.tile(np.eye(4), (T, 1, 1)),
            "object_poses": {"soup_1": np.tile(np.eye(4), (T, 1, 1))},
            "subtask_term_signals": {"grasp": (np.arange(T) > T // 2).astype(np.int64)},
        }
        if with_datagen
        else {}
    )
    return Demo(
        obs=obs,
        actions=rng.uniform(-1, 1, (T, 7)),
        states=rng.normal(size=(T, 12)),
        rewards=np.zeros(T, np.uint8),
        dones=(np.arange(T) == T - 1).astype(np.uint8),
        datagen=datagen,
        attrs={"init_index": seed, "seed": seed},
    )


def test_roundtrip_same_arrays(tmp_path):
    path = tmp_path / "demos.hdf5"
    writer = DemoWriter(path, "put the soup in the basket", {"suite": "libero_object", "task": "t0"}, "x.bddl")
    demos = [_demo(5, 0), _demo(7, 1)]
    for d in demos:
        writer.append(d)
    assert writer.existing() == ["demo_0", "demo_1"]
    meta = open_demo_file(path)
    assert meta.instruction == "put the soup in the basket" and meta.env_args["suite"] == "libero_object"
    for original, loaded in zip(demos, iter_demos(path), strict=True):
        assert np.array_equal(original.actions, loaded.actions) and np.array_equal(original.states, loaded.states)
        for k in original.obs:
            assert np.array_equal(original.obs[k], loaded.obs[k])
        assert np.array_equal(loaded.datagen["object_poses"]["soup_1"], original.datagen["object_poses"]["soup_1"])
        assert loaded.attrs["num_samples"] == original.length and loaded.attrs["init_index"] == original.attrs["seed"]
    with h5py.File(path) as f:
        assert f["data"].attrs["num_demos"] == 2 and f["data"].attrs["total"] == 12


def test_file_laid_out_like_official_libero_demos_loads(tmp_path):
    """Mimics the official LIBERO HDF5: attrs written by LIBERO's collection script, no datagen_info."""
    path = tmp_path / "KITCHEN_SCENE3_turn_on_the_stove_demo.hdf5"
    with h5py.File(path, "w") as f:
        data = f.create_group("data")
        data.attrs["problem_info"] = json.dumps(
            {
                "problem_name": "libero_kitchen_tabletop_manipulation",
                "domain_name": "robosuite",
                "language_instruction": "turn on the stove",
            }
        )
        data.attrs["env_args"] = json.dumps(
            {
                "type": 1,
                "env_name": "Libero_Kitchen_Tabletop_Manipulation",
                "env_kwargs": {"controller_configs": {"type": "OSC_POSE"}},
            }
        )
        data.attrs["bddl_file_name"] = "chiliocosm/bddl_files/KITCHEN_SCENE3_turn_on_the_stove.bddl"
        data.attrs["macros_image_convention"] = "opengl"
        for i in range(3):
            g = data.create_group(f"demo_{i}")
            T = 4 + i
            g.attrs["num_samples"] = T
            g.attrs["model_file"] = "<mujoco/>"
            g.attrs["init_state"] = np.zeros(10)
            g.create_dataset("actions", data=np.zeros((T, 7)))
            g.create_dataset("states", data=np.zeros((T, 10)))
            g.create_dataset("rewards", data=np.zeros(T, np.uint8))
            g.create_dataset("dones", data=np.zeros(T, np.uint8))
            g.create_dataset("robot_states", data=np.zeros((T, 9)))
            obs = g.create_group("obs")
            for key, shape in (
                ("agentview_rgb", (128, 128, 3)),
                ("eye_in_hand_rgb", (128, 128, 3)),
                ("ee_ori", (3,)),
                ("ee_pos", (3,)),
                ("ee_states", (6,)),
                ("gripper_states", (2,)),
                ("joint_states", (7,)),
            ):
                obs.create_dataset(key, data=np.zeros((T, *shape), np.uint8 if key.endswith("rgb") else np.float64))
    meta = open_demo_file(path)
    assert meta.instruction == "turn on the stove" and meta.names == ["demo_0", "demo_1", "demo_2"]
    demo = read_demo(path, "demo_2")
    assert demo.actions.shape == (6, 7) and demo.obs["eye_in_hand_rgb"].shape == (6, 128, 128, 3)
    ds = DemoChunkDataset(
        [path], split="all", obs_horizon=2, action_horizon=4, image_keys=("agentview_rgb", "eye_in_hand_rgb")
    )
    assert len(ds) == 4 + 5 + 6 and ds[0]["images"].shape == (2, 2, 128, 128, 3)


@pytest.mark.parametrize(
    "make,message",
    [
        (lambda f: f.create_group("other"), "missing group 'data'"),
        (lambda f: f.create_group("data"), "holds no demos"),
        (lambda f: f.create_group("data/demo_0/obs"), "data/demo_0 is missing actions, obs/agentview_rgb"),
    ],
)
def test_foreign_files_give_one_clear_error(tmp_path, make, message):
    path = tmp_path / "x.hdf5"
    with h5py.File(path, "w") as f:
        make(f)
    with pytest.raises(HarnessError, match=message):
        open_demo_file(path)


def test_corrupt_and_missing_files(tmp_path):
    bad = tmp_path / "bad.hdf5"
    bad.write_bytes(b"\x89HDF\r\n garbage")
    with pytest.raises(HarnessError, match="not a readable HDF5"):
        open_demo_file(bad)
    with pytest.raises(HarnessError, match="not found"):
        open_demo_file(tmp_path / "none.hdf5")


def test_action_free_clips(tmp_path):
    path = tmp_path / "clips.hdf5"
    writer = DemoWriter(path, "stack blocks", {}, prefix="clip")
    clip = _demo(6, 3, with_datagen=False)
    clip.actions = None
    writer.append(clip)
    with pytest.raises(HarnessError, match="missing actions"):
        open_demo_file(path)
    (loaded,) = iter_demos(path, require_actions=False)
    assert loaded.actions is None and loaded.obs["agentview_rgb"].shape == (6, 8, 8, 3)


def test_chunking_shapes_padding_and_normalisation(tmp_path):
    path = tmp_path / "demos.hdf5"
    writer = DemoWriter(path, "task", {})
    for i in range(10):
        writer.append(_demo(6, i))
    train = DemoChunkDataset([path], "train", obs_horizon=2, action_horizon=4, val_fraction=0.2, seed=0)
    val = DemoChunkDataset([path], "val", obs_horizon=2, action_horizon=4, val_fraction=0.2, seed=0, stats=train.stats)
    assert len(train) == 8 * 6 and len(val) == 2 * 6
    item = train[5]  # last step of the first episode: 3 padded future actions
    assert item["images"].shape == (2, 1, 8, 8, 3) and item["proprio"].shape == (2, 6)
    assert item["actions"].shape == (4, 7) and item["action_mask"].tolist() == [True, False, False, False]
    assert np.allclose(item["actions"][1:].numpy(), item["actions"][0].numpy())
    first = train[0]
    assert np.array_equal(first["images"][0].numpy(), first["images"][1].numpy())  # history padded with frame 0
    all_actions = np.concatenate([train.stats.normalize_action(ep["actions"]) for ep in train.episodes])
    assert np.allclose(all_actions.mean(0), 0, atol=1e-6) and np.allclose(all_actions.std(0), 1, atol=1e-3)


def test_split_is_deterministic_and_disjoint():
    names = [f"demo_{i}" for i in range(20)]
    tr, va = split_episodes(names, 0.25, 3)
    assert (tr, va) == split_episodes(names, 0.25, 3) and len(va) == 5 and not set(tr) & set(va)
    assert split_episodes(["demo_0"], 0.5, 0) == (["demo_0"], [])
    s = compute_stats([np.ones((3, 2))], [np.zeros((3, 4))])
    assert np.allclose(s.action_mean, 1) and np.array_equal(s.normalize_action(np.ones((3, 2))), np.zeros((3, 2)))
