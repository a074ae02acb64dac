"""LAPA's latent action quantizer: NSVQ (L9 of the LAPA issue), the LAQ model's contracts, learning on a toy
dataset of 4 distinct motions, and the training CLI on an action-free clip file."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from harness.nn.quantizers import NSVQ, lapa_replacement_due, perplexity
from world_models.laq import LAQConfig, LatentActionQuantizer, frame_pairs, load_laq

from tests.tiny_data import TINY_LAQ as TINY
from tests.tiny_data import write_tiny_demos


def test_nsvq_substituted_vector_is_exactly_quantization_error_away_from_x():
    torch.manual_seed(0)
    vq = NSVQ(8, 16).train()
    x = torch.randn(64, 16)
    out, idx = vq(x, torch.Generator().manual_seed(1))
    assert torch.allclose((out - x).norm(dim=1), vq.quantization_error(x), rtol=1e-4, atol=1e-6)
    assert torch.equal(idx, vq.nearest(x))
    vq.eval()
    hard, idx2 = vq(x)
    assert torch.equal(hard, vq.codebook[idx2])  # labelling: the hard code, no noise


def test_nsvq_only_selected_codes_get_gradient():
    torch.manual_seed(0)
    vq = NSVQ(8, 4).train()
    x = vq.codebook.detach()[:2] + 0.1 * torch.randn(2, 4)  # near codes 0 and 1 only
    out, idx = vq(x, torch.Generator().manual_seed(0))
    out.pow(2).sum().backward()
    has_grad = vq.codebook.grad.abs().sum(dim=1) > 0
    assert set(idx.tolist()) == {0, 1}
    assert has_grad.tolist() == [i in (0, 1) for i in range(8)]


def test_replacement_leaves_no_duplicate_codes_and_moves_dead_ones_near_live_ones():
    torch.manual_seed(0)
    vq = NSVQ(8, 4, discard_threshold=0.1, jitter=1e-2).train()
    x = vq.codebook.detach()[3].repeat(32, 1)  # every vector on code 3: 7 dead codes
    vq(x)
    assert vq.replace_dead(batch_size=32, generator=torch.Generator().manual_seed(0)) == 7
    book = vq.codebook.detach()
    dists = torch.cdist(book, book) + torch.eye(8) * 1e9
    assert float(dists.min()) > 1e-4  # LAPA's 1e-12 jitter would leave exact duplicates
    assert float((book - book[3]).norm(dim=1).max()) < 0.2  # all moved onto the live code, jittered
    assert float(vq.usage.sum()) == 0  # counters reset


def test_replacement_from_batch_latents_restarts_dead_codes_where_the_data_is():
    torch.manual_seed(0)
    vq = NSVQ(8, 4, discard_threshold=0.1, jitter=1e-2).train()
    x = vq.codebook.detach()[3].repeat(32, 1)
    vq(x)
    data = 5.0 + torch.randn(64, 4)  # latents far from every code
    assert vq.replace_dead(batch_size=32, generator=torch.Generator().manual_seed(0), candidates=data) == 7
    book = vq.codebook.detach()
    nearest = torch.cdist(book, data).min(dim=1).values
    assert float(nearest[[i for i in range(8) if i != 3]].max()) < 0.2  # the 7 dead codes sit on data points
    assert float((book[3] - x[0]).norm()) == 0.0  # the live code is kept
    assert float((torch.cdist(book, book) + torch.eye(8) * 1e9).min()) > 1e-4


def test_laq_decoder_options_copy_baseline_and_patch_brightness():
    base = dict(TINY)
    torch.manual_seed(0)
    first, last = torch.rand(2, 3, 32, 32), torch.rand(2, 3, 32, 32)
    residual = LatentActionQuantizer(LAQConfig(**{**base, "residual_decoder": True})).eval()
    recon, _ = residual.reconstruct(first, last)
    assert torch.allclose(recon, first)  # untrained: exactly the copy-x_t baseline
    # two flat frames of different brightness: LAPA's pixel LayerNorm embeds them identically, raw pixels do not
    dark, bright = torch.full((1, 3, 32, 32), 0.2), torch.full((1, 3, 32, 32), 0.8)
    for pixel_norm, same in ((True, True), (False, False)):
        model = LatentActionQuantizer(LAQConfig(**{**base, "pixel_layernorm": pixel_norm}))
        a, b = (model.patch_emb(model.patchify(img)) for img in (dark, bright))
        assert torch.allclose(a, b, atol=1e-5) == same, pixel_norm
    with pytest.raises(Exception, match="replace_from"):
        LAQConfig(**{**base, "replace_from": "nowhere"}).validate()


def test_lapa_replacement_schedule_and_perplexity():
    due = [s for s in range(0, 6000) if lapa_replacement_due(s)]
    assert due[:3] == [10, 20, 30] and 100 in due and 900 in due and 1500 in due and due[-1] == 4500
    assert 0 not in due and 150 not in due and 5000 not in due
    assert perplexity(torch.zeros(10, dtype=torch.long), 8) == pytest.approx(1.0)
    assert perplexity(torch.arange(8), 8) == pytest.approx(8.0, rel=1e-5)


def test_laq_shapes_stop_gradient_queries_and_codes():
    torch.manual_seed(0)
    model = LatentActionQuantizer(LAQConfig(**TINY))
    first, last = torch.rand(3, 3, 32, 32), torch.rand(3, 3, 32, 32)
    recon, codes = model.reconstruct(first, last, torch.Generator().manual_seed(0))
    assert recon.shape == (3, 3, 32, 32) and codes.shape == (3, 4)
    assert model.latent_delta(first, last).shape == (3, 4, 32)
    labels = model.label(first, last)
    assert labels.shape == (3, 4) and int(labels.max()) < 8
    assert torch.equal(model.unpatchify(model.patchify(first)), first)
    # the decoder's queries are stop-gradient patch embeddings of x_t: decoding alone trains no patch embedding
    model.zero_grad()
    model.decode_codes(first, labels).sum().backward()
    assert all(p.grad is None or float(p.grad.abs().sum()) == 0 for p in model.patch_emb.parameters())
    assert model.to_pixels.weight.grad is not None


def _motion_pairs(n: int, rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor, np.ndarray]:
    """A 6 px white square on black moved 5 px in one of 4 directions: (x_t, x_{t+H}, direction)."""
    moves = np.array([(0, 5), (0, -5), (5, 0), (-5, 0)])
    first, last = np.zeros((n, 3, 32, 32), np.float32), np.zeros((n, 3, 32, 32), np.float32)
    label = rng.integers(0, 4, n)
    for i in range(n):
        r, c = rng.integers(6, 20, 2)
        dr, dc = moves[label[i]]
        first[i, :, r : r + 6, c : c + 6] = 1.0
        last[i, :, r + dr : r + dr + 6, c + dc : c + dc + 6] = 1.0
    return torch.from_numpy(first), torch.from_numpy(last), label


def test_laq_learns_distinct_codes_for_distinct_motions():
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    model = LatentActionQuantizer(LAQConfig(**TINY)).train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.9, 0.99))
    gen = torch.Generator().manual_seed(0)
    losses = []
    for _ in range(300):
        first, last, _ = _motion_pairs(32, rng)
        loss, logs = model.compute_loss({"first": first, "last": last}, gen)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 0.5)
        opt.step()
        losses.append(loss.item())
    assert np.mean(losses[-20:]) < 0.5 * np.mean(losses[:20])
    model.eval()
    first, last, label = _motion_pairs(400, rng)
    codes = model.label(first, last).numpy()
    assert len(np.unique(codes)) > 1
    # latent -> action probe: nearest centroid of one-hot codes, fitted on half, scored on the other half
    onehot = np.eye(8)[codes].reshape(len(codes), -1)
    fit, test = slice(0, 200), slice(200, 400)
    centroids = np.stack([onehot[fit][label[fit] == k].mean(0) for k in range(4)])
    guess = ((onehot[test][:, None] - centroids[None]) ** 2).sum(-1).argmin(1)
    assert (guess == label[test]).mean() > 0.35  # chance 0.25; 200 test pairs: 0.35 is over 3 sd above it


def test_frame_pairs_stay_inside_each_clip():
    pairs = frame_pairs([5, 2, 8], gap=3)
    assert pairs.tolist() == [[0, 0], [0, 1], [2, 0], [2, 1], [2, 2], [2, 3], [2, 4]]


def test_train_cli_on_action_free_clips_and_load(tmp_path):
    from harness.train import main
    from tests.tiny_data import write_tiny_clips

    path = write_tiny_clips(tmp_path / "clips.hdf5", n=4, T=10)
    out = tmp_path / "laq"
    sets = [a for k, v in TINY.items() for a in ("--set", f"{k}={v}")]
    args = ["--component", "world_model", "--name", "laq", "--data", str(path), "--out", str(out), *sets,
            "--set", "frame_gap=3", "--steps", "3", "--batch-size", "4", "--no-progress", "--val-fraction", "0.25"]
    assert main(args) == 0
    model = load_laq(out)
    assert not model.training
    x = torch.rand(2, 3, 32, 32)
    assert model.label(x, x).shape == (2, 4)
    from world_models.laq_report import main as report_main

    demos = write_tiny_demos(tmp_path / "held_out.hdf5", n=3, T=10, size=32)
    report_dir = tmp_path / "report"
    assert report_main(["--checkpoint", str(out), "--data", str(demos), "--pairs", "8", "--out", str(report_dir)]) == 0
    report = json.loads((report_dir / "laq_report.json").read_text())
    assert report["pairs"] == 8 and len(report["codes_per_position"]) == 4
    mses = [report[k] for k in ("mse_recon_vs_next", "mse_recon_vs_current", "mse_copy_current_vs_next")]
    assert all(np.isfinite(m) and m > 0 for m in mses)  # the tiny clips move: x_t != x_{t+H}
    assert 1 <= report["distinct_code_tuples"] <= 8 and 1.0 <= report["perplexity"] <= 8.0
    assert [row["step"] for row in report["training_usage"]][-1] == 3 and "unique_codes" in report["training_usage"][0]
    assert (report_dir / "laq_codes.png").stat().st_size > 1000
    assert report_main(["--checkpoint", str(tmp_path / "nope"), "--data", str(demos)]) == 2
