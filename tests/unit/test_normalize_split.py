"""One normaliser (constant dims sit at 0 with unit scale, exact inverse) and one split rule by demo, shared by
the policy dataset, the frame autoencoder and the world-model segments (statistics from training demos only)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from harness.data.dataset import DemoChunkDataset
from harness.data.hdf5_io import DemoWriter, open_demo_file, read_demo
from harness.data.normalize import NormStats, compute_stats, meanstd_normalizer, minmax_normalizer
from harness.data.splits import split_episodes, split_files
from harness.errors import HarnessError
from tests.tiny_data import INSTRUCTIONS, tiny_demo
from world_models.common import LatentWorldModel
from world_models.frame_ae import FrameAEConfig, FrameAutoencoder, frame_ae_data
from world_models.segments import build_segments, collect_segments


def _actions_with_constant_dim(seed: int = 0) -> np.ndarray:
    """[50, 3]: dims 0 and 2 vary, dim 1 is exactly 0 (like LIBERO's rotation dims)."""
    a = np.random.default_rng(seed).normal(size=(50, 3))
    a[:, 1] = 0.0
    return a


@pytest.mark.parametrize("mode", ["minmax", "meanstd"])
def test_constant_dim_sits_at_zero_with_unit_scale(mode):
    a = _actions_with_constant_dim()
    stats = compute_stats([a], [a])
    assert np.array_equal(stats.normalize_action(a, mode)[:, 1], np.zeros(50))
    tiny = np.array([[0.0, 4.3e-7, 0.0]])  # policy noise on a dim that was exactly 0 in training
    assert abs(stats.normalize_action(tiny, mode)[0, 1] - 4.3e-7) < 1e-12, "constant dim amplified"
    assert np.allclose(stats.normalize_proprio(tiny)[0, 1], 4.3e-7)


def test_minmax_maps_range_to_unit_interval_and_meanstd_standardises():
    a = _actions_with_constant_dim()
    stats = compute_stats([a], [a])
    mm = stats.normalize_action(a, "minmax")
    assert np.allclose(mm[:, [0, 2]].min(0), -1) and np.allclose(mm[:, [0, 2]].max(0), 1)
    ms = stats.normalize_action(a, "meanstd")
    assert np.allclose(ms[:, [0, 2]].mean(0), 0, atol=1e-12) and np.allclose(ms[:, [0, 2]].std(0), 1)


@pytest.mark.parametrize("mode", ["minmax", "meanstd"])
def test_unnormalize_inverts_normalize(mode):
    a = _actions_with_constant_dim()
    stats = compute_stats([a], [a])
    y = np.random.default_rng(1).uniform(-1.5, 1.5, size=(20, 3))
    assert np.allclose(stats.normalize_action(stats.unnormalize_action(y, mode), mode), y, rtol=0, atol=1e-12)
    assert np.allclose(stats.unnormalize_action(stats.normalize_action(a, mode), mode), a, rtol=0, atol=1e-12)


def test_normalizers_use_the_same_eps_rule():
    lo, hi = np.array([0.0, 1.0]), np.array([0.0, 3.0])
    mm = minmax_normalizer(lo, hi)
    assert mm.scale.tolist() == [1.0, 1.0] and mm.center.tolist() == [0.0, 2.0]
    ms = meanstd_normalizer([5.0, 1.0], [0.0, 2.0])
    assert ms.scale.tolist() == [1.0, 2.0] and ms.normalize(np.array([5.0, 3.0])).tolist() == [0.0, 1.0]


def test_stats_json_round_trip(tmp_path):
    a = _actions_with_constant_dim()
    stats = compute_stats([a], [a])
    path = tmp_path / "stats.json"
    path.write_text(json.dumps(stats.to_json()))
    loaded = NormStats.from_json(json.loads(path.read_text()))
    assert not loaded.legacy and json.loads(path.read_text())["format"] == 2
    for mode in ("minmax", "meanstd"):
        assert np.array_equal(loaded.normalize_action(a, mode), stats.normalize_action(a, mode))


def test_old_stats_files_keep_the_formulas_their_checkpoints_were_trained_with():
    """A LIBERO checkpoint's stats.json written before "format" existed (kept as a fixture: the checkpoint once
    shipped in policies/checkpoints/libero_object_diffusion) has constant rotation dims trained at -1."""
    path = Path(__file__).resolve().parents[1] / "fixtures" / "legacy_stats_libero_object.json"
    old = NormStats.from_json(json.loads(path.read_text()))
    assert old.legacy and old.to_json()["format"] == 1
    const = old.action_max == old.action_min
    assert const.sum() == 3
    assert np.allclose(old.normalize_action(old.action_min[None], "minmax")[0, const], -1)
    assert np.allclose(old.unnormalize_action(-np.ones((1, 7)), "minmax")[0, const], old.action_min[const])
    y = np.random.default_rng(0).uniform(-1, 1, (4, 7))
    assert np.allclose(old.normalize_action(old.unnormalize_action(y, "minmax"), "minmax"), y, atol=1e-9)


def _write(path: Path, suite: str, n: int, T: int = 12, grip: float | None = None, seed0: int = 0) -> Path:
    """Tiny demo file of ``suite``; ``grip`` overrides every gripper command (action dim -1)."""
    writer = DemoWriter(path, INSTRUCTIONS[0], {"suite": suite, "tasks": ["t0"], "generator": "test"})
    for i in range(n):
        demo = tiny_demo(T, seed0 + i)
        if grip is not None:
            demo.actions[:, -1] = grip
        writer.append(demo)
    return path


def _tiny_encoder() -> FrameAutoencoder:
    torch.manual_seed(0)
    return FrameAutoencoder(FrameAEConfig(image_size=16, dim=8, widths=(8, 8))).eval()


def test_split_by_demo_keeps_a_train_demo_per_file(tmp_path):
    one = _write(tmp_path / "one.hdf5", "simpler_bridge", 1)
    three = _write(tmp_path / "three.hdf5", "libero_object", 3)
    split = split_files([one, three], 0.99, 0)
    assert split.count() == 2 and not split.is_val(one, "demo_0")
    assert split == split_files([three, one], 0.99, 0), "the split depends on the other files"
    assert split_files([one, three], 0.0, 0).count() == 0
    names = [f"demo_{i}" for i in range(10)]
    train, val = split_episodes(names, 0.3, 5)
    assert len(val) == 3 and len(train) == 7 and (train, val) == split_episodes(names, 0.3, 5)


def test_policy_frame_ae_and_world_model_share_the_validation_demos(tmp_path):
    paths = [_write(tmp_path / "a.hdf5", "simpler_bridge", 5), _write(tmp_path / "b.hdf5", "libero_object", 4, seed0=7)]
    vf, seed = 0.4, 3
    demos = {(str(p), n): read_demo(p, n) for p in paths for n in open_demo_file(p).names}
    by_actions = {d.actions.tobytes(): key for key, d in demos.items()}

    policy_val = DemoChunkDataset(paths, "val", val_fraction=vf, seed=seed, image_size=16).episodes
    val_keys = [by_actions[ep["actions"].tobytes()] for ep in policy_val]
    assert len(val_keys) == 4  # 2 of 5 and 2 of 4

    ae = frame_ae_data(FrameAEConfig(image_size=16, widths=(8, 8)), paths, seed, vf)
    expected = np.concatenate([demos[k].obs["agentview_rgb"] for k in val_keys])
    assert ae.val is not None and np.array_equal(ae.val.frames, expected), "frame AE validation is not by demo"
    assert len(ae.train) + len(ae.val) == sum(len(d.actions) for d in demos.values())

    raw = collect_segments(paths, 16, 3, split_files(paths, vf, seed))
    wm_train = {a.tobytes() for chunks in raw.train_actions.values() for a in chunks}
    assert wm_train == {k for k in by_actions if by_actions[k] not in val_keys}
    assert raw.val_demos == 4 and raw.embodiments == ["widowx", "panda"]


def test_frame_ae_trains_on_every_named_camera_with_the_same_demo_split(tmp_path):
    path = tmp_path / "two_views.hdf5"
    writer = DemoWriter(path, INSTRUCTIONS[0], {"suite": "libero_object", "tasks": ["t0"], "generator": "test"})
    for i in range(5):
        writer.append(tiny_demo(6, i, views=("agentview_rgb", "eye_in_hand_rgb")))
    one = frame_ae_data(FrameAEConfig(image_size=16, widths=(8, 8)), [path], 3, 0.4)
    both = frame_ae_data(
        FrameAEConfig(image_size=16, widths=(8, 8), image_key="agentview_rgb, eye_in_hand_rgb"), [path], 3, 0.4
    )
    assert len(both.train) == 2 * len(one.train) and len(both.val) == 2 * len(one.val)
    wrist_val = both.val.frames[len(one.val) :]
    val_names = [n for n in open_demo_file(path).names if split_files([path], 0.4, 3).is_val(path, n)]
    assert np.array_equal(wrist_val, np.concatenate([read_demo(path, n).obs["eye_in_hand_rgb"] for n in val_names]))
    with pytest.raises(HarnessError, match="names no camera"):
        frame_ae_data(FrameAEConfig(image_size=16, widths=(8, 8), image_key=" , "), [path], 3, 0.4)


def test_world_model_statistics_come_from_training_demos_only(tmp_path):
    paths = [_write(tmp_path / "a.hdf5", "simpler_bridge", 5)]
    train, val, info = build_segments(paths, _tiny_encoder(), 3, 0, 0.4, None)
    assert val is not None and info["val_demos"] == 2 and len(train) + len(val) == info["segments"]
    names = split_episodes(open_demo_file(paths[0]).names, 0.4, 0)[0]
    train_actions = np.concatenate([read_demo(paths[0], n).actions for n in names])
    assert np.allclose(info["action_stats"]["widowx"]["mean"], train_actions.mean(0))
    assert np.allclose(info["action_stats"]["widowx"]["std"], train_actions.std(0))
    assert np.allclose(train.motion.std(0)[:3], 1, atol=1e-5)  # motion_std fitted on the train segments
    assert np.all(train.motion[:, 3:6] == 0)  # constant rotation stays 0 (unit scale, not 1 / 1e-6)


def test_world_model_does_not_amplify_noise_on_constant_action_dims():
    class Recorder(nn.Module):
        def forward(self, acts: torch.Tensor) -> torch.Tensor:
            self.seen = acts
            return torch.zeros(acts.shape[0], 1, 8)

    class Still(nn.Module):
        def forward(self, hist: torch.Tensor, latent: torch.Tensor) -> torch.Tensor:
            return hist[:, -1]

    recorder = Recorder()
    mean, std = np.zeros(3), np.array([1.0, 0.0, 1.0 + 1e-6])  # dim 1 exactly constant in training
    wm = LatentWorldModel(_tiny_encoder(), Still(), recorder, mean, std, segment=2, history=1)
    actions = np.zeros((1, 2, 3))
    actions[..., 1] = 4.3e-7
    wm.rollout(torch.zeros(1, 4, 8), actions)
    assert torch.allclose(recorder.seen[..., 1], torch.tensor(4.3e-7), rtol=1e-4), recorder.seen


def test_motion_label_gripper_uses_the_common_closing_convention(tmp_path):
    libero = _write(tmp_path / "libero.hdf5", "libero_object", 1, grip=1.0)  # LIBERO: +1 closes
    simpler = _write(tmp_path / "simpler.hdf5", "simpler_bridge", 1, grip=-1.0)  # SIMPLER: -1 closes
    raw = collect_segments([libero, simpler], 16, 3, split_files([libero, simpler], 0.0, 0))
    motion = np.stack(raw.motions)
    per_file = len(motion) // 2
    assert raw.embodiments == ["panda", "widowx"] and raw.robots[0] == "panda" and raw.robots[-1] == "widowx"
    assert np.array_equal(motion[:per_file], motion[per_file:]), "same motion, different labels"
    assert np.all(motion[:, 6] == 1.0)
