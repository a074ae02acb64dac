"""Readers select groups by prefix (L9): demo_* (with actions) for policies, clip_* too for action-free use."""

import pytest

from harness.data.dataset import DemoChunkDataset
from harness.data.hdf5_io import DemoWriter, iter_demos, open_demo_file
from harness.errors import HarnessError
from tests.tiny_data import tiny_demo


def _clip(seed: int):
    clip = tiny_demo(6, seed)
    clip.actions = clip.states = None
    return clip


def test_mixed_file_serves_demos_to_policies_and_everything_to_action_free_readers(tmp_path):
    path = tmp_path / "mixed.hdf5"
    demos = DemoWriter(path, "put carrot on plate", {"suite": "simpler_bridge"})
    demos.append(tiny_demo(6, 0))
    demos.append(tiny_demo(6, 1))
    DemoWriter(path, "put carrot on plate", {"suite": "simpler_bridge"}, prefix="clip").append(_clip(2))
    assert open_demo_file(path).names == ["demo_0", "demo_1"]
    assert open_demo_file(path, require_actions=False).names == ["clip_0", "demo_0", "demo_1"]
    assert all(d.actions is not None for d in iter_demos(path))
    ds = DemoChunkDataset([path], split="all", obs_horizon=1, action_horizon=2)
    assert len(ds) == 12  # the two demos' steps; the clip is not used for policy training


def test_clip_only_file_is_refused_for_policies_with_a_clear_error(tmp_path):
    path = tmp_path / "clips.hdf5"
    DemoWriter(path, "stack", {}, prefix="clip").append(_clip(0))
    with pytest.raises(HarnessError, match=r"no demo_\* groups; its 1 clip_\* group\(s\) are missing actions"):
        open_demo_file(path)
    assert open_demo_file(path, require_actions=False).names == ["clip_0"]
