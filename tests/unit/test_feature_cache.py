"""Frozen image features cached per demo file: reused when nothing changed, rebuilt when the data file or
the encoder weights change; a policy trained on cached features lowers its loss, round-trips its checkpoint,
and computes the same features live (evaluation) as the cache holds (training)."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import default_collate

from harness.data.feature_cache import load_or_build
from harness.data.features import resize_image
from harness.data.hdf5_io import read_demo
from harness.errors import HarnessError
from harness.nn.checkpoint import load_checkpoint, save_checkpoint
from harness.nn.frozen import TrainedEncoder
from harness.nn.training import TrainConfig, train
from harness.nn.vision import build_image_encoder, images_to_float
from harness.policy.chunk_policy import config_to_dict
from harness.registry import POLICIES, TRAINABLES
from tests.policy_configs import tiny_config, with_parents
from tests.tiny_data import write_tiny_demos, write_tiny_encoder

POLICY_KEYS = [k for k in TRAINABLES.names() if k.startswith("policy/")]
KEYS = ("agentview_rgb",)


@pytest.fixture(scope="module")
def setup(tmp_path_factory):  # type: ignore[no-untyped-def]
    tmp = tmp_path_factory.mktemp("fc")
    return write_tiny_demos(tmp / "demos.hdf5"), write_tiny_encoder(tmp / "enc")


def _encoder(folder: Path) -> TrainedEncoder:
    return build_image_encoder(f"ckpt:{folder}", 8, (8,), image_size=16)  # type: ignore[return-value]


def test_cache_is_reused_and_rebuilt_when_data_or_encoder_change(setup, tmp_path: Path):
    data, enc_dir = setup
    cache = tmp_path / "cache"
    enc = _encoder(enc_dir)
    table, file, built = load_or_build(data, KEYS, 16, enc, cache)
    assert built and file.is_file() and file.parent == cache
    assert table["demo_0"].shape == (12, 1, 128) and table["demo_0"].dtype == np.float32
    again, file2, built2 = load_or_build(data, KEYS, 16, enc, cache)
    assert not built2 and file2 == file and np.array_equal(again["demo_0"], table["demo_0"])
    # the data file changed (modification time): another key, rebuilt
    st = os.stat(data)
    os.utime(data, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    _, file3, built3 = load_or_build(data, KEYS, 16, enc, cache)
    assert built3 and file3 != file
    # the encoder's frozen weights changed: another key, rebuilt, other features
    with torch.no_grad():
        enc.model.to_tokens.weight.add_(0.5)
    changed, file4, built4 = load_or_build(data, KEYS, 16, enc, cache)
    assert built4 and file4 not in (file, file3)
    assert not np.allclose(changed["demo_0"], table["demo_0"])
    # another image size: another key
    assert load_or_build(data, KEYS, 24, enc, cache)[1] not in (file, file3, file4)


def test_cached_features_equal_live_features(setup, tmp_path: Path):
    data, enc_dir = setup
    enc = _encoder(enc_dir)
    table = load_or_build(data, KEYS, 16, enc, tmp_path)[0]
    frames = read_demo(data, "demo_1", KEYS).obs["agentview_rgb"]
    live = enc.features(images_to_float(torch.from_numpy(np.stack([resize_image(f, 16) for f in frames]))))
    assert torch.allclose(live, torch.from_numpy(table["demo_1"][:, 0]), atol=1e-6)


def test_bad_frozen_encoder_settings_are_one_line_errors(setup, tmp_path: Path):
    spec = TRAINABLES.get("policy/baku")()
    with pytest.raises(HarnessError, match="cache_features needs a frozen encoder"):
        dataclasses.replace(tiny_config(spec), cache_features=True).validate()
    with pytest.raises(HarnessError, match="no config.json"):
        build_image_encoder(f"hf:{tmp_path / 'nothing'}", 8, (8,))
    with pytest.raises(HarnessError, match="not found"):
        build_image_encoder(f"ckpt:{tmp_path / 'nothing'}", 8, (8,))
    with pytest.raises(HarnessError, match="image_size=16"):
        build_image_encoder(f"ckpt:{setup[1]}", 8, (8,), image_size=32)


@pytest.mark.parametrize("key", POLICY_KEYS)
def test_policy_trained_on_cached_features_learns_and_round_trips(key, setup, tmp_path: Path):
    data_file, enc_dir = setup
    spec = TRAINABLES.get(key)()
    cfg = with_parents(dataclasses.replace(
        tiny_config(spec), vision=f"ckpt:{enc_dir}", cache_features=True, feature_cache_dir=str(tmp_path / "c")
    ))  # fmt: skip
    data = spec.make_data(cfg, [data_file], 0, 0.2)
    assert "image_features" in data.train[0] and "images" not in data.train[0]
    steps = 40
    tcfg = TrainConfig(steps=steps, batch_size=16, lr=2e-3, warmup=2, ema_decay=0.8, val_every=steps,
                       save_every=steps, log_every=1)
    out = tmp_path / "ckpt"
    meta = {"component": "policy", "name": spec.name, "config": config_to_dict(cfg), "data": data.info}
    train(spec, cfg, data, tcfg, out, meta, resume=False, progress=False)

    cpu = torch.device("cpu")
    items = [data.train[i] for i in range(48)]
    cached = data.to_batch(default_collate(items), torch.Generator().manual_seed(0), cpu, False)

    def fixed_loss(model: torch.nn.Module) -> float:
        with torch.no_grad():
            return float(model.eval().compute_loss(cached, torch.Generator().manual_seed(1))[0])

    torch.manual_seed(0)
    before = fixed_loss(spec.build_model(cfg, data.info))
    policy = POLICIES.build(spec.name, checkpoint=str(out))  # the evaluation path
    after = fixed_loss(policy.model)
    assert after < 0.9 * before, f"loss on cached features fell only from {before:.3f} to {after:.3f}"

    # evaluation computes the cached features live from frames: the same outputs from frames and from the cache
    table = load_or_build(data_file, KEYS, 16, _encoder(enc_dir), tmp_path / "c")[0]
    assert not load_or_build(data_file, KEYS, 16, _encoder(enc_dir), tmp_path / "c")[2], "training built no cache"
    frames = np.stack([resize_image(f, 16) for f in read_demo(data_file, "demo_0", KEYS).obs["agentview_rgb"][:2]])
    common = {"proprio": cached["proprio"][:1], "text": cached["text"][:1]}
    live = {**common, "images": images_to_float(torch.from_numpy(frames))[None, :, None]}  # [1, To, V, 3, 16, 16]
    from_cache = {**common, "image_features": torch.from_numpy(table["demo_0"][:2])[None]}  # [1, To, V, F]
    a = policy.model.predict(live, 1, torch.Generator().manual_seed(0))
    b = policy.model.predict(from_cache, 1, torch.Generator().manual_seed(0))
    assert torch.allclose(a, b, atol=1e-5)
    # checkpoint round trip: a saved copy gives the same outputs
    ckpt = load_checkpoint(out)
    save_checkpoint(tmp_path / "copy", ckpt.meta, ckpt.state_dict, ckpt.stats)
    copy = POLICIES.build(spec.name, checkpoint=str(tmp_path / "copy"))
    assert torch.equal(copy.model.predict(live, 1, torch.Generator().manual_seed(0)), a)
