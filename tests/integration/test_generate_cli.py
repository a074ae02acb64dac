"""Demo generation end to end on a real LIBERO task: expert demos, resume, MimicGen from them, bad inputs."""

import json

import h5py
import pytest

from harness.data.dataset import DemoChunkDataset
from harness.data.hdf5_io import open_demo_file

pytestmark = pytest.mark.sim
ARGS = ["--suite", "libero_object", "--tasks", "0", "--workers", "0", "--no-progress"]


def test_generate_resume_and_mimicgen(cli, tmp_path):
    out = tmp_path / "src.hdf5"
    first = cli("harness.data.generate", *ARGS, "--episodes", "1", "--out", str(out))
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip().splitlines()[-1] == f"demos: {out}"
    meta = open_demo_file(out)
    assert meta.names == ["demo_0"] and meta.instruction.startswith("pick up the alphabet soup")
    with h5py.File(out) as f:
        g = f["data/demo_0"]
        assert g["obs/agentview_rgb"].shape[1:] == (128, 128, 3) and g["obs/eye_in_hand_rgb"].shape[0] == len(
            g["actions"]
        )
        assert g["datagen_info/subtask_term_signals/goal_0"][-1] == 1 and g["rewards"][-1] == 1
    attempts = (tmp_path / "src.hdf5.attempts.jsonl").read_text().splitlines()
    again = cli("harness.data.generate", *ARGS, "--episodes", "1", "--out", str(out))
    assert again.returncode == 0 and (tmp_path / "src.hdf5.attempts.jsonl").read_text().splitlines() == attempts
    changed = cli("harness.data.generate", *ARGS, "--episodes", "1", "--seed", "5", "--out", str(out))
    assert changed.returncode == 2 and "different config" in changed.stderr
    ds = DemoChunkDataset([out], split="all", obs_horizon=2, action_horizon=4)
    assert len(ds) == json.loads(attempts[0])["steps"]

    mg = tmp_path / "mg.hdf5"
    proc = cli(
        "harness.data.generate",
        *ARGS,
        "--episodes",
        "1",
        "--max-attempts",
        "3",
        "--mimicgen",
        "--sources",
        str(out),
        "--seed",
        "1",
        "--first-scene",
        "1",
        "--out",
        str(mg),
    )
    assert proc.returncode == 0, proc.stderr
    log = [json.loads(x) for x in (tmp_path / "mg.hdf5.attempts.jsonl").read_text().splitlines()]
    assert log[0]["init_index"] == 1 and any(r["success"] for r in log)  # a new training scene, solved
    assert {r["scene_split"] for r in log} == {"train"}  # demonstrations never come from evaluation scenes
    assert open_demo_file(mg).names == ["demo_0"]


def test_bad_sources_give_one_line(cli, tmp_path):
    junk = tmp_path / "junk.hdf5"
    junk.write_bytes(b"nope")
    proc = cli("harness.data.generate", *ARGS, "--out", str(tmp_path / "x.hdf5"), "--mimicgen", "--sources", str(junk))
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1 and "not a readable HDF5" in proc.stderr
    proc = cli("harness.data.generate", *ARGS, "--out", str(tmp_path / "x.hdf5"), "--mimicgen")
    assert proc.returncode == 2 and "--sources" in proc.stderr


def test_simpler_action_free_clips(cli, tmp_path):
    from harness.data.hdf5_io import iter_demos

    out = tmp_path / "clips.hdf5"
    proc = cli(
        "harness.data.generate",
        "--suite",
        "simpler_bridge",
        "--tasks",
        "0",
        "--episodes",
        "1",
        "--workers",
        "0",
        "--no-progress",
        "--action-free",
        "--out",
        str(out),
    )
    assert proc.returncode == 0, proc.stderr
    with pytest.raises(Exception, match="missing actions"):
        open_demo_file(out)
    (clip,) = iter_demos(out, require_actions=False)
    assert clip.actions is None and clip.obs["agentview_rgb"].shape == (60, 128, 128, 3)
    assert open_demo_file(out, require_actions=False).instruction == "put carrot on plate"
