"""LAPA: quantile action bins, and the three training stages through ``harness.train`` on tiny files
(quantizer on action-free clips -> latent policy on the same clips -> action finetuning from it)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from harness.errors import HarnessError
from harness.nn.action_bins import fit_quantile_bins
from harness.nn.checkpoint import load_checkpoint
from harness.registry import POLICIES
from harness.train import main as train_main
from tests.tiny_data import TINY_LAQ as TINY_LAQ_BASE
from tests.tiny_data import write_tiny_clips, write_tiny_demos

TINY_LAQ = {**TINY_LAQ_BASE, "frame_gap": 3}
TINY_LAPA = dict(image_size=16, vision_widths=[8, 16], vision_dim=16, d_model=32, layers=1, heads=2, bins=8,
                 text_encoder="hash", shift_pad=1)  # fmt: skip


def test_quantile_bins_round_trip_equal_counts_and_binary_gripper():
    rng = np.random.default_rng(0)
    actions = np.concatenate([rng.normal(size=(1000, 2)), rng.choice([-1.0, 1.0], size=(1000, 1))], axis=1)
    bins = fit_quantile_bins(actions, 16, binary_dims=(2,))
    assert bins.counts == [16, 16, 2]
    idx = bins.encode(actions)
    counts = np.bincount(idx[:, 0], minlength=16)
    assert counts.min() >= 55 and counts.max() <= 70  # equal-count bins (1000 / 16 = 62.5)
    decoded = bins.decode(idx)
    widths = np.diff(np.asarray(bins.edges[0]))
    assert np.all(np.abs(decoded[:, 0] - actions[:, 0]) <= widths[idx[:, 0]] / 2 + 1e-9)  # midpoint of own bin
    assert set(np.round(decoded[:, 2], 6)) == {-1.0, 1.0}  # binary gripper decodes to its two values
    assert np.array_equal(bins.encode(np.array([[-99.0, 99.0, 0.3]])), [[0, 15, 1]])  # out of range: clamped
    few = fit_quantile_bins(np.repeat(np.array([[0.0], [1.0], [2.0]]), 10, axis=0), 16)
    assert few.counts[0] < 16  # duplicate edges dropped (LAPA: qcut duplicates='drop')


def _sets(values: dict) -> list[str]:
    return [a for k, v in values.items() for a in ("--set", f"{k}={json.dumps(v)}")]


@pytest.fixture(scope="module")
def stages(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("lapa")
    clips = write_tiny_clips(tmp / "clips.hdf5", n=6, T=12)
    demos = write_tiny_demos(tmp / "demos.hdf5")
    common = ["--steps", "3", "--batch-size", "8", "--no-progress", "--val-fraction", "0.2"]
    laq = tmp / "laq"
    assert train_main(["--component", "world_model", "--name", "laq", "--data", str(clips), "--out", str(laq),
                       *_sets(TINY_LAQ), *common]) == 0  # fmt: skip
    latent = tmp / "latent"
    assert train_main(["--component", "policy", "--name", "lapa", "--data", str(clips), "--out", str(latent),
                       "--set", "stage=latent", "--set", f"laq={laq}", *_sets(TINY_LAPA), *common]) == 0  # fmt: skip
    action = tmp / "action"
    assert train_main(["--component", "policy", "--name", "lapa", "--data", str(demos), "--out", str(action),
                       "--set", "stage=action", "--set", f"init={latent}", *_sets(TINY_LAPA), *common]) == 0
    return {"tmp": tmp, "laq": laq, "latent": latent, "action": action, "clips": clips, "demos": demos}


def test_latent_stage_learns_codes_from_the_quantizer_and_records_its_lineage(stages):
    meta = load_checkpoint(stages["latent"]).meta
    assert meta["data"]["stage"] == "latent" and meta["data"]["num_codes"] == 4 and meta["data"]["codebook_size"] == 8
    assert meta["data"]["train_samples"] > 0
    laq_scenes = load_checkpoint(stages["laq"]).meta["data"]["scenes"]
    assert set(laq_scenes) <= set(meta["data"]["scenes"])  # the labelling quantizer's scenes are inherited


def test_latent_checkpoint_is_refused_as_a_policy_with_one_line(stages):
    with pytest.raises(HarnessError, match="latent-stage LAPA checkpoint"):
        POLICIES.build("lapa", checkpoint=str(stages["latent"]))


def test_action_stage_starts_from_the_latent_weights_with_a_fresh_action_head(stages):
    from policies.lapa import build_for_training
    from policies.lapa.config import LapaConfig
    from harness.policy.chunk_policy import config_from_dict

    action_meta = load_checkpoint(stages["action"]).meta
    cfg = config_from_dict(LapaConfig, action_meta["config"])
    latent_state = load_checkpoint(stages["latent"]).state_dict
    torch.manual_seed(123)
    model = build_for_training(cfg, action_meta["data"])
    state = model.state_dict()
    for key in ("trunk.layers.0.linear1.weight", "latent_head.weight", "text_proj.weight", "encoder.proj.weight"):
        if key in latent_state:
            assert torch.equal(state[key], latent_state[key]), key
    assert not torch.equal(state["action_head.weight"], latent_state["action_head.weight"])
    assert action_meta["data"]["bin_counts"][-1] == 2  # the gripper: binary
    policy = POLICIES.build("lapa", checkpoint=str(stages["action"]))
    from harness.engine.episodes import make_episodes
    from harness.protocols import TaskSpec

    task = TaskSpec("simpler_bridge", 0, "t0", "put carrot on plate", 20, 1, (-1.0,) * 7, (1.0,) * 7)
    policy.reset(make_episodes([task], 1, 0)[0])
    rng = np.random.default_rng(0)
    obs = {"agentview_rgb": rng.integers(0, 255, (24, 24, 3), dtype=np.uint8), "instruction": task.instruction,
           "proprio": np.array([0.1, 0.0, 0.2, 1.0, 0.0, 0.0, 0.0, 0.02, -0.02], dtype=np.float32)}  # fmt: skip
    assert policy.act(obs).shape == (1, 7)


def test_bad_stage_settings_give_one_line_errors(stages, capsys):
    out = stages["tmp"]
    args = ["--component", "policy", "--name", "lapa", "--data", str(stages["demos"]), "--steps", "1", "--no-progress"]
    assert train_main([*args, "--out", str(out / "x1"), "--set", "stage=latent"]) == 2  # no laq
    assert "needs --set laq" in capsys.readouterr().err
    assert train_main([*args, "--out", str(out / "x2"), "--set", f"init={stages['action']}", *_sets(TINY_LAPA)]) == 2
    assert "not a latent-stage one" in capsys.readouterr().err
    assert train_main([*args, "--out", str(out / "x3"), "--set", f"init={stages['latent']}",
                       *_sets({**TINY_LAPA, "d_model": 64})]) == 2  # fmt: skip
    assert "different architecture" in capsys.readouterr().err


def test_latent_stage_on_cached_frozen_features_matches_live_images(stages):
    """cache_features: the latent stage trains on a frozen encoder's cached features of the action-free clips,
    and the model computes the same features live from the clip's images (as at evaluation)."""
    from safetensors.numpy import load_file

    from harness.data.features import resize_image
    from harness.data.hdf5_io import read_demo
    from harness.nn.vision import images_to_float
    from harness.policy.chunk_policy import config_from_dict
    from policies.lapa import build_model
    from policies.lapa.config import LapaConfig
    from tests.tiny_data import write_tiny_encoder

    tmp = stages["tmp"]
    enc = write_tiny_encoder(tmp / "enc")
    out, cache = tmp / "latent_cached", tmp / "cache"
    settings = {**TINY_LAPA, "vision": f"ckpt:{enc}", "vision_dim": 8, "cache_features": True,
                "feature_cache_dir": str(cache)}  # fmt: skip
    assert train_main(["--component", "policy", "--name", "lapa", "--data", str(stages["clips"]), "--out", str(out),
                       "--set", "stage=latent", "--set", f"laq={stages['laq']}", *_sets(settings), "--steps", "3",
                       "--batch-size", "8", "--no-progress", "--val-fraction", "0.2"]) == 0  # fmt: skip
    assert len(list(cache.glob("clips.hdf5.*.features.safetensors"))) == 1  # the clip_* groups were cached
    ckpt = load_checkpoint(out)
    cfg = config_from_dict(LapaConfig, ckpt.meta["config"])
    model = build_model(cfg, ckpt.meta["data"])
    model.load_state_dict(ckpt.state_dict)
    model.eval()
    table = load_file(str(next(cache.glob("*.features.safetensors"))))
    frames = read_demo(stages["clips"], "clip_0", ("agentview_rgb",)).obs["agentview_rgb"][:4]
    images = images_to_float(torch.from_numpy(np.stack([resize_image(f, cfg.image_size) for f in frames])))
    text = torch.zeros(4, model.text_proj.in_features)
    live = model.predict_codes({"images": images[:, None, None], "text": text})
    cached = model.predict_codes({"image_features": torch.from_numpy(table["clip_0"][:4])[:, None], "text": text})
    assert torch.equal(live, cached)
    feats_live = model.encoder(images)
    assert torch.allclose(feats_live, model.encoder.project(torch.from_numpy(table["clip_0"][:4, 0])), atol=1e-5)
