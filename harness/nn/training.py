"""The one training loop behind ``python -m harness.train``: deterministic for a seed, EMA weights,
periodic validation, resumable from its last checkpoint, jsonl log + loss plot. Batches come from a
``DataLoader`` with ``num_workers`` workers (harness.nn.batches): the same seed gives the same batches
whatever the worker count.

A component registers a ``Trainable`` (in ``harness.registry.TRAINABLES`` under "<component>/<name>"):
how to build its datasets and its model from a config dataclass. The model implements
``compute_loss(batch, generator) -> (loss, {name: float})``.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from torch.utils.data import Dataset
from tqdm import tqdm

from harness.engine.atomic_io import append_line_atomic, read_jsonl
from harness.data.normalize import NormStats
from harness.errors import HarnessError
from harness.nn.batches import TRAIN_STREAM, VAL_STREAM, StepBatches, auto_workers, iterate, step_loader
from harness.nn.checkpoint import save_checkpoint

STATE_FILE, LOG_FILE, PLOT_FILE = "train_state.pt", "train_log.jsonl", "loss.png"


@dataclass
class TrainData:
    """What a component's data builder returns.

    ``to_batch(raw, generator, device, train)`` turns collated dataset items into the model's batch.
    ``info`` (action_dim, proprio_dim, ...) is passed to the model builder and stored in the checkpoint.
    """

    train: Dataset
    val: Dataset | None
    stats: NormStats | None
    info: dict[str, Any]
    to_batch: Callable[[dict[str, Any], torch.Generator, torch.device, bool], dict[str, torch.Tensor]]


@dataclass(frozen=True)
class Trainable:
    """A trainable component: its config dataclass, data builder and model builder."""

    component: str
    name: str
    config_cls: type
    make_data: Callable[[Any, list[Path], int, float], TrainData]
    build_model: Callable[[Any, dict[str, Any]], nn.Module]


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings. The LR follows ``warmup`` linear steps then a cosine decay from ``lr`` to
    ``lr * min_lr_ratio`` over ``schedule_steps`` (0: ``steps``; the CLI records the resolved length at the first
    run and keeps it on ``--resume``, so raising ``--steps`` continues the same schedule); steps past its end
    run at the final factor ``min_lr_ratio``."""

    steps: int = 2000
    batch_size: int = 64
    lr: float = 3e-4
    weight_decay: float = 1e-4
    warmup: int = 100
    ema_decay: float = 0.995
    val_fraction: float = 0.1
    val_every: int = 250
    val_batches: int = 4
    save_every: int = 500
    log_every: int = 25
    seed: int = 0
    device: str = "cpu"
    threads: int = 0  # torch CPU threads, 0: all cores
    schedule_steps: int = 0  # length of the cosine LR schedule; 0: --steps (resolved and recorded)
    min_lr_ratio: float = 0.0  # final LR / lr: the cosine ends here, and steps past the schedule stay here
    num_workers: int = -1  # DataLoader workers assembling batches; -1: auto (0 on CPU, up to 4 with CUDA)
    grad_clip: float = 1.0  # the gradients' global L2 norm is clipped to this; 0: not clipped (the norm is logged)

    def validate(self) -> "TrainConfig":
        for name in ("steps", "batch_size", "val_every", "save_every", "log_every"):
            if getattr(self, name) < 1:
                raise HarnessError(f"--{name.replace('_', '-')} must be >= 1")
        if not 0 <= self.val_fraction < 1:
            raise HarnessError("--val-fraction must be in [0, 1)")
        if self.schedule_steps < 0 or self.warmup < 0:
            raise HarnessError("--schedule-steps and --warmup must be >= 0")
        if not 0 <= self.min_lr_ratio <= 1:
            raise HarnessError("--min-lr-ratio must be in [0, 1]")
        if not self.grad_clip >= 0:
            raise HarnessError("--grad-clip must be >= 0 (0: no clipping)")
        if self.num_workers < -1:
            raise HarnessError("--num-workers must be >= 0 (or -1: auto)")
        if self.device.startswith("cuda") and not torch.cuda.is_available():
            raise HarnessError(f"--device {self.device}: CUDA is not available on this machine")
        return self

    def resolved(self) -> "TrainConfig":
        """This config with ``schedule_steps`` fixed (0 -> ``steps``)."""
        return self if self.schedule_steps else replace(self, schedule_steps=self.steps)


def lr_factor(step: int, warmup: int, total: int, min_ratio: float = 0.0) -> float:
    """LR multiplier after ``step`` optimiser steps: linear warmup, then cosine from 1 to ``min_ratio`` at
    ``total``; constant ``min_ratio`` after it. (diffusers' ``get_cosine_schedule_with_warmup`` starts its
    warmup at 0, has no floor and, past the end, rises again; hence this function.)"""
    if step < warmup:
        return (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


def lr_schedule(cfg: TrainConfig) -> Callable[[int], float]:
    """The LambdaLR factor of ``cfg`` (schedule length ``schedule_steps``, else ``steps``)."""
    cfg = cfg.resolved()

    def factor(step: int) -> float:
        return lr_factor(step, cfg.warmup, cfg.schedule_steps, cfg.min_lr_ratio)

    return factor


def train_batches(data: TrainData, cfg: TrainConfig) -> StepBatches:
    """The run's training batches: item s = the CPU batch of optimiser step s."""
    return StepBatches(data.train, data.to_batch, cfg.batch_size, cfg.seed, TRAIN_STREAM, True)


def _validate(model: nn.Module, data: TrainData, cfg: TrainConfig, device: torch.device) -> float | None:
    if data.val is None or len(data.val) == 0:
        return None
    batches = StepBatches(data.val, data.to_batch, cfg.batch_size, cfg.seed, VAL_STREAM, False)
    gen = torch.Generator().manual_seed(cfg.seed + 1)  # same val batches and noise every time
    model.eval()
    losses = []
    with torch.no_grad():
        for batch in iterate(step_loader(batches, 0, cfg.val_batches, 0, cfg.seed, False), device):
            loss, _ = model.compute_loss(batch, gen)
            losses.append(float(loss))
    model.train()
    return float(np.mean(losses))


def plot_losses(log_path: Path, out: Path) -> None:
    """Train (and val) loss against step, from the jsonl log, to a png."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = read_jsonl(log_path)
    train = [(r["step"], r["loss"]) for r in rows if "loss" in r]
    val = [(r["step"], r["val_loss"]) for r in rows if r.get("val_loss") is not None]
    fig, ax = plt.subplots(figsize=(6, 3.5))
    if train:
        ax.plot(*zip(*train, strict=True), label="train (EMA of batches)")
    if val:
        ax.plot(*zip(*val, strict=True), "o-", label="validation (EMA weights)")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_yscale("log")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)


def _save_state(
    path: Path, parts: dict[str, Any], gen: torch.Generator, step: int, smoothed: float | None, val_loss: float | None
) -> None:
    """Atomically write everything an exact resume needs (``parts``: model, ema, optimizer, scheduler)."""
    state = {name: part.state_dict() for name, part in parts.items()}
    state.update({"generator": gen.get_state(), "torch_rng": torch.get_rng_state(), "step": step})
    state.update({"smoothed_loss": smoothed, "val_loss": val_loss})
    tmp = path.with_name(f".{path.name}.tmp")
    torch.save(state, tmp)
    tmp.replace(path)


def _restore(
    path: Path, parts: dict[str, Any], gen: torch.Generator, device: torch.device
) -> tuple[int, float | None, float | None]:
    """Load a ``_save_state`` file into ``parts`` and the RNGs -> (step, smoothed loss, last val loss)."""
    state = torch.load(path, map_location=device, weights_only=True)
    for name, part in parts.items():
        part.load_state_dict(state[name])
    gen.set_state(state["generator"])
    torch.set_rng_state(state["torch_rng"])
    return int(state["step"]), state.get("smoothed_loss"), state.get("val_loss")


def _trim_log(log_path: Path, step: int) -> None:
    """Drop log rows past ``step`` (written after the last save by an interrupted run) before appending."""
    rows = read_jsonl(log_path, repair=True)
    kept = [r for r in rows if r.get("step", 0) <= step]
    if len(kept) == len(rows):
        return
    tmp = log_path.with_name(f".{log_path.name}.tmp")
    tmp.write_text("".join(json.dumps(r, sort_keys=True, default=str) + "\n" for r in kept))
    tmp.replace(log_path)


def train(
    spec: Trainable,
    model_cfg: Any,
    data: TrainData,
    cfg: TrainConfig,
    out: Path,
    meta: dict[str, Any],
    resume: bool,
    progress: bool = True,
) -> dict[str, Any]:
    """Train ``spec``'s model; writes checkpoints (EMA weights) and logs into ``out``. Returns a summary."""
    device = torch.device(cfg.device)
    out.mkdir(parents=True, exist_ok=True)
    if cfg.threads > 0:
        torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    np.random.seed(cfg.seed % 2**32)
    model = spec.build_model(model_cfg, data.info).to(device)
    ema = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(cfg.ema_decay), use_buffers=True)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_schedule(cfg))
    gen = torch.Generator().manual_seed(cfg.seed)
    parts = {"model": model, "ema": ema, "optimizer": opt, "scheduler": sched}
    state_path = out / STATE_FILE
    step, smoothed, val_loss = 0, None, None
    if resume and state_path.exists():
        step, smoothed, val_loss = _restore(state_path, parts, gen, device)
    n_params = sum(p.numel() for p in params)
    log_path = out / LOG_FILE
    _trim_log(log_path, step)
    bar = tqdm(total=cfg.steps, initial=step, disable=not progress, desc=f"train {spec.name}", dynamic_ncols=True)
    t_start = time.perf_counter()
    samples = 0
    model.train()
    workers = auto_workers(cfg.num_workers, cfg.device)
    loader = step_loader(train_batches(data, cfg), step, cfg.steps, workers, cfg.seed, device.type == "cuda")
    for batch in iterate(loader, device):
        loss, logs = model.compute_loss(batch, gen)
        if not torch.isfinite(loss):
            raise HarnessError(f"training diverged at step {step}: loss {float(loss)} (lower --lr?)")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = float(nn.utils.clip_grad_norm_(params, cfg.grad_clip or float("inf")))
        opt.step()
        sched.step()
        ema.update_parameters(model)
        step += 1
        samples += cfg.batch_size
        value = loss.item()
        smoothed = value if smoothed is None else 0.9 * smoothed + 0.1 * value
        bar.update(1)
        bar.set_postfix(loss=f"{smoothed:.4f}", val=f"{val_loss:.4f}" if val_loss is not None else "-")
        row: dict[str, Any] | None = None
        if step % cfg.log_every == 0 or step == cfg.steps:
            elapsed = time.perf_counter() - t_start
            row = {"step": step, "loss": smoothed, "batch_loss": value, "lr": sched.get_last_lr()[0]}
            row.update({"grad_norm": grad_norm, "samples_per_s": samples / max(elapsed, 1e-9), **logs})
        if step % cfg.val_every == 0 or step == cfg.steps:
            val_loss = _validate(ema.module, data, cfg, device)
            row = row or {"step": step}
            row["val_loss"] = val_loss
        if row is not None:
            append_line_atomic(log_path, row)
        if step % cfg.save_every == 0 or step == cfg.steps:
            meta_now = {**meta, "step": step, "params": n_params, "val_loss": val_loss}
            save_checkpoint(out, meta_now, ema.module.state_dict(), data.stats)
            _save_state(state_path, parts, gen, step, smoothed, val_loss)
    bar.close()
    if log_path.exists():
        plot_losses(log_path, out / PLOT_FILE)
    rows = read_jsonl(log_path)
    vals = [r["val_loss"] for r in rows if r.get("val_loss") is not None]
    losses = [r["loss"] for r in rows if "loss" in r]
    summary = {
        "steps": step,
        "params": n_params,
        "first_loss": losses[0] if losses else None,
        "final_loss": losses[-1] if losses else None,
        "final_val_loss": vals[-1] if vals else None,
        "wall_s": round(time.perf_counter() - t_start, 1),
    }
    (out / "train_summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary

