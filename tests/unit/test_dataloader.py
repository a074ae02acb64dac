"""Training batches through the DataLoader: the same seed gives the same batches (and the same trained
weights) with 0 and 2 workers; other seeds and other steps give other batches."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from harness.errors import HarnessError
from harness.nn.batches import auto_workers, step_loader
from harness.nn.checkpoint import load_checkpoint
from harness.nn.training import TrainConfig, train, train_batches
from harness.policy.chunk_policy import config_to_dict
from harness.registry import TRAINABLES
from tests.policy_configs import tiny_config
from tests.tiny_data import write_tiny_demos


@pytest.fixture(scope="module")
def baku_data(tmp_path_factory):  # type: ignore[no-untyped-def]
    spec = TRAINABLES.get("policy/baku")()
    cfg = tiny_config(spec)
    path = write_tiny_demos(tmp_path_factory.mktemp("dl") / "demos.hdf5")
    return spec, cfg, spec.make_data(cfg, [path], 0, 0.2)


def _batches(data, seed: int, workers: int, start: int = 0, stop: int = 4) -> list[dict]:  # type: ignore[no-untyped-def]
    tcfg = TrainConfig(batch_size=8, seed=seed)
    return list(step_loader(train_batches(data, tcfg), start, stop, workers, seed, False))


def _equal(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_same_seed_same_batches_with_0_and_2_workers(baku_data):
    data = baku_data[2]
    serial, parallel = _batches(data, 0, 0), _batches(data, 0, 2)
    assert len(serial) == len(parallel) == 4
    assert all(_equal(a, b) for a, b in zip(serial, parallel, strict=True))
    assert not _equal(serial[0], serial[1]), "consecutive steps drew the same batch"
    assert not _equal(serial[0], _batches(data, 1, 0)[0]), "another seed drew the same batch"
    # a resumed run starting at step 2 sees the batches of steps 2 and 3
    assert all(_equal(a, b) for a, b in zip(serial[2:], _batches(data, 0, 2, start=2), strict=True))


def test_training_with_0_and_2_workers_gives_identical_weights(baku_data, tmp_path: Path):
    spec, cfg, data = baku_data
    states = []
    for workers in (0, 2):
        tcfg = TrainConfig(steps=3, batch_size=8, warmup=1, val_every=3, save_every=3, log_every=1, num_workers=workers)
        out = tmp_path / f"w{workers}"
        meta = {"component": "policy", "name": spec.name, "config": config_to_dict(cfg), "data": data.info}
        train(spec, cfg, data, tcfg, out, meta, resume=False, progress=False)
        states.append(load_checkpoint(out).state_dict)
    a, b = states
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_worker_count_option():
    assert auto_workers(3, "cpu") == 3 and auto_workers(-1, "cpu") == 0
    assert auto_workers(-1, "cuda") >= 0
    with pytest.raises(HarnessError, match="num-workers"):
        TrainConfig(num_workers=-2).validate()
