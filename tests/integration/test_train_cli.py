"""``python -m harness.train`` end to end: checkpoint folder, exact resume, one-line errors."""

from __future__ import annotations

import json

import torch
from safetensors.torch import load_file

from tests.conftest import run_cli
from tests.tiny_data import write_tiny_demos

TINY = [
    "--set", "image_size=16", "--set", "vision_widths=[8,16]", "--set", "vision_dim=16",
    "--set", "action_horizon=4", "--set", "n_action_steps=2", "--set", "text_encoder=hash",
    "--set", "down_dims=[16,32]", "--set", "train_timesteps=20", "--set", "inference_steps=2",
]  # fmt: skip
COMMON = [
    "--name", "diffusion", "--batch-size", "8", "--save-every", "2", "--val-every", "2", "--warmup", "2",
    "--no-progress",
]  # fmt: skip


def _weights(folder):
    return load_file(str(folder / "model.safetensors"))


def test_resume_continues_exactly_and_errors_are_one_line(tmp_path):
    data = write_tiny_demos(tmp_path / "demos.hdf5")
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    proc = run_cli("harness.train", "--data", str(data), "--out", str(straight), "--steps", "6", *COMMON, *TINY)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip().splitlines()[-1] == f"checkpoint: {straight}"
    # stopped at the step-4 save of a 6-step schedule, then resumed (warmup 2 < steps: the schedule matters)
    first = ["--data", str(data), "--out", str(resumed), "--steps", "4", "--schedule-steps", "6", *COMMON, *TINY]
    proc = run_cli("harness.train", *first)
    assert proc.returncode == 0, proc.stderr[-2000:]
    proc = run_cli("harness.train", "--out", str(resumed), "--steps", "6", "--resume", *COMMON)
    assert proc.returncode == 0, proc.stderr[-2000:]
    a, b = _weights(straight), _weights(resumed)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), "resume diverged from a straight run"
    meta = json.loads((resumed / "config.json").read_text())
    assert meta["step"] == 6 and meta["config"]["text_encoder"] == "hash" and meta["data"]["suite"] == "simpler_bridge"
    assert meta["train"]["schedule_steps"] == 6 and meta["train"]["warmup"] == 2
    log = [json.loads(line) for line in (resumed / "train_log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log if "val_loss" in r] == [2, 4, 6]
    manifest = json.loads((resumed / "train_manifest.json").read_text())
    assert {"git", "packages", "train", "config"} <= set(manifest)
    for recorded in (meta, manifest):  # the first command is kept, the resume is appended
        assert recorded["command"][3:] == first
        assert recorded["resumes"] == [["python", "-m", "harness.train", "--out", str(resumed), "--steps", "6",
                                        "--resume", *COMMON]]  # fmt: skip
    longer = ["--out", str(resumed), "--steps", "7", "--resume", "--name", "diffusion", "--no-progress"]
    proc = run_cli("harness.train", *longer)
    assert proc.returncode == 0 and "runs past the recorded LR schedule (6 steps)" in proc.stderr, proc.stderr[-2000:]
    log = [json.loads(line) for line in (resumed / "train_log.jsonl").read_text().splitlines()]
    assert [r["lr"] for r in log if r["step"] >= 6] == [0.0, 0.0]  # the schedule's end, no warm restart
    assert len(json.loads((resumed / "config.json").read_text())["resumes"]) == 2

    before = (straight / "model.safetensors").read_bytes()
    for args, needle in (
        (["--data", str(data), "--out", str(straight), *COMMON], "already holds a checkpoint"),
        (["--data", str(tmp_path / "nope.hdf5"), "--out", str(tmp_path / "x"), *COMMON], "file not found"),
        (["--data", str(data), "--out", str(tmp_path / "y"), "--set", "bogus=1", *COMMON], "unknown field"),
        (["--data", str(data), "--out", str(tmp_path / "z"), "--steps", "0", *COMMON], "--steps must be >= 1"),
        (["--data", str(data), "--out", str(tmp_path / "c"), "--grad-clip", "-1", *COMMON], "--grad-clip must be >= 0"),
    ):
        proc = run_cli("harness.train", *args)
        assert proc.returncode == 2, (args, proc.stderr[-1500:])
        lines = [line for line in proc.stderr.strip().splitlines() if line.startswith("error")]
        assert len(lines) == 1 and needle in lines[0], proc.stderr[-1500:]
        assert "Traceback" not in proc.stderr
    assert (straight / "model.safetensors").read_bytes() == before, "a refused run touched an existing checkpoint"
