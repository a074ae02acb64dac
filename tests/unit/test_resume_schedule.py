"""Resume keeps the LR schedule: an interrupted run resumed equals the straight run bit for bit (weights, log,
smoothed loss) with warmup < steps, and raising ``steps`` on resume continues the recorded schedule."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

from harness.engine.atomic_io import read_jsonl
from harness.nn.checkpoint import load_checkpoint
from harness.nn.training import LOG_FILE, TrainConfig, Trainable, TrainData, lr_factor, train

TIMING = {"samples_per_s"}


class Toy(nn.Module):
    """Linear regression: batch {"x": [B, 3], "y": [B, 1]} -> MSE."""

    def __init__(self, cfg: Any = None, info: Any = None):
        super().__init__()
        self.lin = nn.Linear(3, 1)

    def compute_loss(self, batch: dict[str, torch.Tensor], generator: torch.Generator | None) -> tuple:
        return ((self.lin(batch["x"]) - batch["y"]) ** 2).mean(), {}


class Pairs(torch.utils.data.Dataset):
    def __init__(self) -> None:
        g = torch.Generator().manual_seed(0)
        self.x = torch.randn(32, 3, generator=g)
        self.y = self.x @ torch.tensor([[1.0], [-2.0], [0.5]])

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {"x": self.x[i], "y": self.y[i]}


def _data(crash_at: int | None = None) -> TrainData:
    """Toy data; with ``crash_at`` the batch builder raises on its ``crash_at``-th call (an interruption)."""
    calls = {"n": 0}

    def to_batch(raw: dict, gen: torch.Generator, device: torch.device, is_train: bool) -> dict:
        calls["n"] += 1
        if crash_at is not None and calls["n"] == crash_at:
            raise KeyboardInterrupt
        return raw

    return TrainData(Pairs(), Pairs(), None, {}, to_batch)


SPEC = Trainable("policy", "toy", dict, lambda *a: _data(), lambda cfg, info: Toy())


def _cfg(**kw: Any) -> TrainConfig:
    base = {"steps": 6, "warmup": 2, "batch_size": 4, "lr": 0.05, "save_every": 2, "val_every": 3, "log_every": 1}
    base["val_batches"] = 1
    return TrainConfig(**{**base, **kw}).resolved()


def _run(out: Path, cfg: TrainConfig, resume: bool = False, crash_at: int | None = None) -> None:
    train(SPEC, None, _data(crash_at), cfg, out, {"config": {}}, resume=resume, progress=False)


def _log(out: Path) -> list[dict]:
    return [{k: v for k, v in r.items() if k not in TIMING} for r in read_jsonl(out / LOG_FILE)]


def _weights(out: Path) -> dict[str, torch.Tensor]:
    return load_checkpoint(out).state_dict


def test_interrupted_and_resumed_equals_straight_run(tmp_path):
    _run(tmp_path / "straight", _cfg())
    with pytest.raises(KeyboardInterrupt):  # step 6's batch: steps 1-5 logged, last save at step 4
        _run(tmp_path / "resumed", _cfg(), crash_at=7)  # 7th batch: steps 1-5 and the one val batch at step 3
    assert [r["step"] for r in _log(tmp_path / "resumed")][-1] == 5
    _run(tmp_path / "resumed", _cfg(), resume=True)
    a, b = _weights(tmp_path / "straight"), _weights(tmp_path / "resumed")
    assert all(torch.equal(a[k], b[k]) for k in a), "resume diverged from the straight run"
    assert _log(tmp_path / "resumed") == _log(tmp_path / "straight")  # no duplicated rows, same smoothed loss


def test_raising_steps_on_resume_continues_the_recorded_schedule(tmp_path):
    first = _cfg(steps=4, min_lr_ratio=0.1)
    assert first.schedule_steps == 4
    _run(tmp_path / "run", first)
    _run(tmp_path / "run", TrainConfig(**{**first.__dict__, "steps": 8}), resume=True)
    lrs = [r["lr"] for r in _log(tmp_path / "run") if "lr" in r]
    expected = [0.05 * lr_factor(s, 2, 4, 0.1) for s in range(1, 9)]
    assert lrs == pytest.approx(expected, rel=1e-12)
    assert lrs[3:] == pytest.approx([0.005] * 5)  # past the schedule: the final factor, no warm restart
    assert all(b <= a + 1e-15 for a, b in zip(lrs[1:], lrs[2:], strict=False)), lrs


def test_lr_factor_warmup_cosine_and_floor():
    assert [lr_factor(s, 2, 6) for s in (0, 1)] == [0.5, 1.0]
    assert lr_factor(4, 2, 6) == pytest.approx(0.5) and lr_factor(6, 2, 6) == pytest.approx(0.0)
    assert lr_factor(100, 2, 6, 0.2) == lr_factor(6, 2, 6, 0.2) == pytest.approx(0.2)
    assert _cfg(steps=10).schedule_steps == 10 and _cfg(steps=10, schedule_steps=4).schedule_steps == 4


def test_grad_clip_bounds_the_update_and_zero_turns_it_off(tmp_path):
    """Adam is scale-invariant except for its eps: gradients clipped to 1e-9 (far below eps = 1e-8) barely train,
    while ``grad_clip=0`` (no clipping) trains; the same seed starts every run from the same weights."""
    final_loss = {}
    for clip in (0.0, 1e-9):
        _run(tmp_path / str(clip), _cfg(grad_clip=clip, steps=20))
        rows = [r for r in _log(tmp_path / str(clip)) if "loss" in r]
        final_loss[clip] = (rows[0]["loss"], rows[-1]["loss"])
    (first, unclipped), (first_clipped, clipped) = final_loss[0.0], final_loss[1e-9]
    assert first == pytest.approx(first_clipped) and unclipped < 0.85 * first, final_loss
    assert clipped > 0.95 * first_clipped, final_loss
    with pytest.raises(Exception, match="--grad-clip must be >= 0"):
        _cfg(grad_clip=-1.0).validate()
