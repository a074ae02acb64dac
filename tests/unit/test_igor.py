"""IGOR: the VQ quantizer, clip crops, the latent action model's modules, and the three training stages through
``harness.train`` on tiny files (LAM on action-free clips -> foundation policy on the same clips -> low-level
policy on demonstrations with the foundation frozen; the no-latent baseline)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from harness.errors import HarnessError
from harness.nn.checkpoint import load_checkpoint
from harness.nn.quantizers import VectorQuantizer
from harness.nn.vision import random_resized_crop
from harness.registry import POLICIES
from harness.train import main as train_main
from tests.tiny_data import TINY_IGOR_LAM, write_tiny_clips, write_tiny_demos
from world_models.igor_lam import IgorLAM, IgorLamConfig, STBlock, window_indices

TINY_POLICY = dict(image_size=16, vision_widths=[8, 16], vision_dim=16, d_model=32, layers=1, heads=2,
                   head_hidden=32, text_encoder="hash", shift_pad=1)  # fmt: skip


def test_vq_straight_through_commitment_and_codebook_gradient():
    torch.manual_seed(0)
    vq = VectorQuantizer(8, 4, beta=0.25)
    x = torch.randn(5, 4, requires_grad=True)
    zq, idx, loss = vq(x)
    e = vq.codebook[idx].detach()
    assert torch.allclose(zq, e, atol=1e-6)  # forward value: the code
    assert torch.isclose(loss, 1.25 * (x.detach() - e).pow(2).mean())  # commitment (beta) + codebook terms
    zq.sum().backward(retain_graph=True)
    assert torch.equal(x.grad, torch.ones_like(x))  # straight-through: d zq / d x = identity
    x.grad = None
    loss.backward()
    grad_rows = vq.codebook.grad.abs().sum(1) > 0
    assert torch.equal(grad_rows, torch.isin(torch.arange(8), idx))  # only the selected codes learn
    assert torch.allclose(x.grad, 2 * 0.25 * (x.detach() - e) / x.numel())  # commitment pulls x to its code


def test_dead_code_restart_revives_idle_codes_as_distinct_batch_vectors():
    torch.manual_seed(0)
    vq = VectorQuantizer(8, 4, dead_after=3)
    x = torch.randn(64, 4) * 5
    for _ in range(3):
        vq(x[:2])  # the batch selects at most 2 codes; the others idle
    used = set(vq.nearest(x[:2]).tolist())
    restarted = vq.restart_dead(x, torch.Generator().manual_seed(0))
    assert restarted == 8 - len(used)
    codes = vq.codebook.detach()
    assert len(torch.unique(codes, dim=0)) == 8  # no duplicates
    assert len(torch.unique(vq.nearest(x))) > len(used)  # the restarted codes now win some batch vectors
    assert vq.restart_dead(x) == 0  # counters reset


def test_clip_crops_are_shared_by_a_clips_frames_and_independent_between_calls():
    g = torch.Generator().manual_seed(0)
    frame = torch.rand(1, 1, 3, 32, 32)
    clip = frame.expand(2, 3, -1, -1, -1).contiguous()  # 2 clips, 3 identical frames each
    a = random_resized_crop(clip, (0.5, 0.6), generator=g)
    b = random_resized_crop(clip, (0.5, 0.6), generator=g)
    assert a.shape == clip.shape
    assert torch.equal(a[:, 0], a[:, 1]) and torch.equal(a[:, 1], a[:, 2])  # one crop per clip (all its frames)
    assert not torch.allclose(a[0], a[1])  # per clip
    assert not torch.allclose(a, b)  # c1 and c2: independent draws
    same = random_resized_crop(clip, (1.0, 1.0), (1.0, 1.0), generator=g)
    assert torch.allclose(same, clip, atol=1e-5)  # full-frame crop: the identity


def test_lam_shapes_causal_idm_and_single_frame_fdm():
    cfg = IgorLamConfig(**{**TINY_IGOR_LAM, "dead_after": 0})
    torch.manual_seed(0)
    lam = IgorLAM(cfg)
    frames = torch.rand(3, cfg.frames, 3, 32, 32)
    z = lam.idm(frames)
    assert z.shape == (3, cfg.latent_tokens, cfg.latent_dim)
    zq, codes = lam.label(frames)
    assert zq.shape == z.shape and codes.shape == (3, cfg.latent_tokens) and codes.max() < cfg.codebook_size
    assert lam.apply_latent(frames[:, -2], zq).shape == (3, 3, 32, 32)
    block = STBlock(cfg.dim, cfg.heads).eval()
    causal = torch.tril(torch.ones(3, 3, dtype=torch.bool))
    x = torch.randn(2, 3, 16, cfg.dim)
    y = x.clone()
    y[:, 2] += 1.0  # change the last frame only
    assert torch.allclose(block(x, causal)[:, :2], block(y, causal)[:, :2], atol=1e-5)  # earlier frames blind to it
    assert not torch.allclose(block(x, causal)[:, 2], block(y, causal)[:, 2])
    seen = []
    lam.fdm.register_forward_pre_hook(lambda module, args: seen.append(args[0].shape))
    lam.train()
    loss, logs = lam.compute_loss({"frames": frames}, torch.Generator().manual_seed(0))
    assert seen == [torch.Size([3, 3, 32, 32])]  # the FDM is given one frame, o_t, and the latent
    assert torch.isfinite(loss) and {"recon", "vq", "unique_codes", "perplexity"} <= set(logs)


def test_windows_repeat_the_first_frame_before_the_start():
    idx = window_indices(7, context=2, gap=3)
    assert idx.tolist() == [[0, 0, 3], [0, 1, 4], [0, 2, 5], [0, 3, 6]]


def _sets(values: dict) -> list[str]:
    return [a for k, v in values.items() for a in ("--set", f"{k}={json.dumps(v)}")]


@pytest.fixture(scope="module")
def stages(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("igor")
    clips = write_tiny_clips(tmp / "clips.hdf5", n=6, T=12)
    demos = write_tiny_demos(tmp / "demos.hdf5")
    common = ["--steps", "4", "--batch-size", "8", "--no-progress", "--val-fraction", "0.2"]
    lam = tmp / "lam"
    assert train_main(["--component", "world_model", "--name", "igor_lam", "--data", str(clips), "--out", str(lam),
                       *_sets(TINY_IGOR_LAM), *common]) == 0  # fmt: skip
    foundation = tmp / "foundation"
    assert train_main(["--component", "policy", "--name", "igor", "--data", str(clips), "--out", str(foundation),
                       "--set", "stage=foundation", "--set", f"lam={lam}", *_sets(TINY_POLICY), *common]) == 0
    low = tmp / "low"
    assert train_main(["--component", "policy", "--name", "igor", "--data", str(demos), "--out", str(low),
                       "--set", f"foundation={foundation}", *_sets(TINY_POLICY), *common, "--lr", "1e-2"]) == 0
    base = tmp / "nolatent"
    assert train_main(["--component", "policy", "--name", "igor_nolatent", "--data", str(demos), "--out", str(base),
                       *_sets(TINY_POLICY), *common]) == 0  # fmt: skip
    return {"tmp": tmp, "lam": lam, "foundation": foundation, "low": low, "base": base, "demos": demos}


def test_foundation_regresses_the_lams_latent_and_inherits_its_scenes(stages):
    meta = load_checkpoint(stages["foundation"]).meta
    assert meta["data"]["stage"] == "foundation" and meta["data"]["latent_shape"] == [4, 8]
    assert set(load_checkpoint(stages["lam"]).meta["data"]["scenes"]) <= set(meta["data"]["scenes"])
    with pytest.raises(HarnessError, match="foundation-stage checkpoint"):
        POLICIES.build("igor", checkpoint=str(stages["foundation"]))


def test_low_level_training_never_updates_the_frozen_foundation(stages):
    foundation = load_checkpoint(stages["foundation"]).state_dict
    low = load_checkpoint(stages["low"])
    for key, value in foundation.items():
        assert torch.equal(low.state_dict[f"foundation.{key}"], value), key
    assert set(load_checkpoint(stages["foundation"]).meta["data"]["scenes"]) <= set(low.meta["data"]["scenes"])
    assert "latent_proj.weight" in low.state_dict
    assert not any(k.startswith(("foundation.", "latent_proj.")) for k in load_checkpoint(stages["base"]).state_dict)


def test_sample_perturbs_the_latent_and_both_policies_act(stages):
    from harness.engine.episodes import make_episodes
    from harness.protocols import TaskSpec

    task = TaskSpec("simpler_bridge", 0, "t0", "put carrot on plate", 20, 1, (-1.0,) * 7, (1.0,) * 7)
    rng = np.random.default_rng(0)
    obs = {"agentview_rgb": rng.integers(0, 255, (24, 24, 3), dtype=np.uint8), "instruction": task.instruction,
           "proprio": np.array([0.1, 0.0, 0.2, 1.0, 0.0, 0.0, 0.0, 0.02, -0.02], dtype=np.float32)}  # fmt: skip
    for name in ("low", "base"):
        policy = POLICIES.build("igor" if name == "low" else "igor_nolatent", checkpoint=str(stages[name]))
        policy.reset(make_episodes([task], 1, 0)[0])
        assert policy.act(obs).shape == (3, 7) and policy.execute_steps == 3  # tau = 3 actions per latent
        samples = policy.sample(obs, 4, np.random.default_rng(1))
        assert samples.shape == (4, 3, 7) and len(np.unique(samples.reshape(4, -1), axis=0)) == 4


def test_bad_stage_settings_give_one_line_errors(stages, capsys):
    out, demos = stages["tmp"], str(stages["demos"])
    args = ["--component", "policy", "--name", "igor", "--data", demos, "--steps", "1", "--no-progress"]
    assert train_main([*args, "--out", str(out / "x1"), *_sets(TINY_POLICY)]) == 2  # no foundation
    assert "needs --set foundation" in capsys.readouterr().err
    assert train_main([*args, "--out", str(out / "x2"), "--set", "stage=foundation", *_sets(TINY_POLICY)]) == 2
    assert "needs --set lam" in capsys.readouterr().err
    assert train_main([*args, "--out", str(out / "x3"), "--set", f"foundation={stages['low']}",
                       *_sets(TINY_POLICY)]) == 2  # fmt: skip
    assert "lowlevel-stage checkpoint" in capsys.readouterr().err
    assert train_main([*args, "--out", str(out / "x4"), "--set", f"foundation={stages['foundation']}",
                       *_sets({**TINY_POLICY, "image_size": 32})]) == 2  # fmt: skip
    assert "reads other inputs (image_size)" in capsys.readouterr().err
    assert train_main([*args, "--out", str(out / "x6"), "--set", f"foundation={stages['foundation']}",
                       *_sets({**TINY_POLICY, "action_horizon": 4})]) == 2  # fmt: skip
    assert "frame_gap" in capsys.readouterr().err
    base = ["--component", "policy", "--name", "igor_nolatent", "--data", demos, "--steps", "1", "--no-progress"]
    assert train_main([*base, "--out", str(out / "x5"), "--set", f"foundation={stages['foundation']}",
                       *_sets(TINY_POLICY)]) == 2  # fmt: skip
    assert "a low-level policy only" in capsys.readouterr().err


def test_latent_transfer_picture_applies_a_sources_latent_to_other_clips(stages, capsys):
    import imageio.v3 as iio

    from world_models.latent_transfer import main as transfer_main

    out = stages["tmp"] / "transfer"
    clips = stages["tmp"] / "clips.hdf5"
    assert transfer_main(["--checkpoint", str(stages["lam"]), "--data", str(clips), "--sources", "2", "--targets", "2",
                          "--out", str(out)]) == 0  # fmt: skip
    picture = iio.imread(out / "transfer.png")
    size = TINY_IGOR_LAM["image_size"]
    assert picture.shape == (2 * (size + 2) + 2, 7 * (size + 2) + 2, 3)  # 2 rows x (3 + 2 x 2) tiles
    report = json.loads((out / "transfer.json").read_text())
    for row in report["rows"]:
        assert row["group"] not in row["target_groups"] and len(row["target_groups"]) == 2
        assert len(row["codes"]) == TINY_IGOR_LAM.get("latent_tokens", 4) and row["fdm_change_own"] >= 0.0
    assert transfer_main(["--checkpoint", str(out / "nope"), "--data", str(clips)]) == 2
    assert "folder not found" in capsys.readouterr().err


def test_idle_counters_are_saved_and_old_checkpoints_load_with_zeros():
    vq = VectorQuantizer(8, 4, dead_after=3)
    vq.train()
    vq(torch.randn(2, 4))
    assert "idle" in vq.state_dict() and int(vq.idle.max()) == 1
    restored = VectorQuantizer(8, 4, dead_after=3)
    restored.load_state_dict(vq.state_dict())
    assert torch.equal(restored.idle, vq.idle)
    old = {k: v for k, v in vq.state_dict().items() if k != "idle"}  # saved before idle was a buffer
    restored.load_state_dict(old)
    assert torch.equal(restored.idle, torch.zeros(8, dtype=torch.long))
