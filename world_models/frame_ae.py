"""Frame autoencoder: the small image encoder trained here that LAC-WM / EAC-WM use frozen, plus the
image decoder (embedding -> pixels) used to look at rollouts and compute PSNR / SSIM.

Encoder: uint8-derived float images [B, 3, S, S] -> token grid [B, N, D] (N = (S / 16)^2, D = ``dim``).
Decoder: [B, N, D] -> images [B, 3, S, S] in [0, 1]. Trained with pixel MSE on demo frames of every
embodiment (trainable ``world_model/frame_ae``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from harness.data.features import resize_image
from harness.data.hdf5_io import open_demo_file, read_demo
from harness.data.splits import DemoSplit, split_files
from harness.errors import HarnessError
from harness.nn.training import Trainable, TrainData
from harness.nn.vision import random_shift
from harness.registry import TRAINABLES


@dataclass(frozen=True)
class FrameAEConfig:
    image_size: int = 64
    dim: int = 64  # token size
    widths: tuple[int, ...] = (32, 64, 64, 64)  # 4 stride-2 stages: 64 px -> 4 x 4 tokens
    image_key: str = "agentview_rgb"  # camera(s) to train on: one key or several, comma-separated
    shift_pad: int = 4
    frame_stride: int = 1  # use every n-th frame of each demo

    def validate(self) -> None:
        if self.image_size % (2 ** len(self.widths)):
            raise HarnessError(f"image_size must be divisible by {2 ** len(self.widths)}")


def _down(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 4, 2, 1), nn.GroupNorm(8, cout), nn.GELU(), nn.Conv2d(cout, cout, 3, 1, 1)
    )


def _up(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.ConvTranspose2d(cin, cout, 4, 2, 1), nn.GroupNorm(8, cout), nn.GELU(), nn.Conv2d(cout, cout, 3, 1, 1)
    )


class FrameAutoencoder(nn.Module):
    def __init__(self, cfg: FrameAEConfig, info: dict[str, Any] | None = None):
        super().__init__()
        cfg.validate()
        self.cfg = cfg
        chans = [3, *cfg.widths]
        self.enc = nn.Sequential(*[_down(a, b) for a, b in zip(chans[:-1], chans[1:], strict=True)])
        self.to_tokens = nn.Conv2d(cfg.widths[-1], cfg.dim, 1)
        self.from_tokens = nn.Conv2d(cfg.dim, cfg.widths[-1], 1)
        rev = list(reversed(cfg.widths))
        self.dec = nn.Sequential(*[_up(a, b) for a, b in zip(rev, [*rev[1:], 32], strict=True)])
        self.out = nn.Conv2d(32, 3, 3, 1, 1)
        self.grid = cfg.image_size // 2 ** len(cfg.widths)

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        """[B, 3, S, S] in [0, 1] -> tokens [B, N, D]."""
        return self.to_tokens(self.enc(images * 2 - 1)).flatten(2).transpose(1, 2)

    def decode(self, tokens: torch.Tensor) -> torch.Tensor:
        """[B, N, D] -> [B, 3, S, S] in [0, 1]."""
        b, n, d = tokens.shape
        grid = tokens.transpose(1, 2).reshape(b, d, self.grid, self.grid)
        return torch.sigmoid(self.out(self.dec(self.from_tokens(grid))))

    def compute_loss(self, batch: dict[str, torch.Tensor], generator: torch.Generator | None) -> tuple:
        images = batch["images"]
        recon = self.decode(self.encode(images))
        return F.mse_loss(recon, images), {}


def load_frames(
    paths: list[Path], key: str, size: int, stride: int = 1, split: DemoSplit | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Every ``stride``-th frame of ``key`` from all demos -> (uint8 [N, size, size, 3], bool [N] "in a
    validation demo" of ``split``; all False without one)."""
    frames, is_val = [], []
    for path in paths:
        meta = open_demo_file(Path(path), obs_keys=(key,))
        for name in meta.names:
            demo = read_demo(meta.path, name, (key,))
            chosen = [resize_image(f, size) for f in demo.obs[key][::stride]]
            frames.extend(chosen)
            is_val.extend([split is not None and split.is_val(path, name)] * len(chosen))
    if not frames:
        raise HarnessError(f"no {key} frames in {', '.join(map(str, paths))}")
    return np.stack(frames), np.asarray(is_val, dtype=bool)


class _Frames(torch.utils.data.Dataset):
    def __init__(self, frames: np.ndarray):
        self.frames = frames

    def __len__(self) -> int:
        return len(self.frames)

    def __getitem__(self, i: int) -> torch.Tensor:
        return torch.from_numpy(self.frames[i])


def to_float(images: torch.Tensor) -> torch.Tensor:
    """uint8 [B, S, S, 3] -> float [B, 3, S, S] in [0, 1]."""
    return images.permute(0, 3, 1, 2).float().div_(255.0)


def image_keys(cfg: FrameAEConfig) -> list[str]:
    """The camera keys of ``cfg.image_key`` ("agentview_rgb" or "agentview_rgb,wrist_rgb")."""
    keys = [k.strip() for k in cfg.image_key.split(",") if k.strip()]
    if not keys:
        raise HarnessError("frame_ae: image_key names no camera")
    return keys


def frame_ae_data(cfg: FrameAEConfig, paths: list[Path], seed: int, val_fraction: float) -> TrainData:
    """Frames split by demonstration (harness.data.splits), never by frame."""
    split = split_files(paths, val_fraction, seed)
    per_key = [load_frames(paths, key, cfg.image_size, cfg.frame_stride, split) for key in image_keys(cfg)]
    frames = np.concatenate([f for f, _ in per_key])
    is_val = np.concatenate([v for _, v in per_key])
    n_val = int(is_val.sum())
    train, val = _Frames(frames[~is_val]), (_Frames(frames[is_val]) if n_val else None)

    def to_batch(raw: Any, gen: torch.Generator, device: torch.device, is_train: bool) -> dict:
        images = to_float(raw)
        if is_train and cfg.shift_pad:
            images = random_shift(images, cfg.shift_pad, gen)
        return {"images": images.to(device)}

    info = {"frames": len(frames), "train_frames": len(train), "val_frames": n_val, "image_key": cfg.image_key}
    info["val_demos"] = split.count()
    return TrainData(train, val, None, info, to_batch)


@TRAINABLES.register("world_model/frame_ae")
def trainable() -> Trainable:
    return Trainable("world_model", "frame_ae", FrameAEConfig, frame_ae_data, lambda cfg, info: FrameAutoencoder(cfg))


def load_frame_autoencoder(folder: str) -> FrameAutoencoder:
    """A trained, frozen frame autoencoder from its checkpoint folder."""
    from harness.nn.checkpoint import load_checkpoint, load_state_into
    from harness.policy.chunk_policy import config_from_dict

    ckpt = load_checkpoint(folder, component="world_model", name="frame_ae")
    model = FrameAutoencoder(config_from_dict(FrameAEConfig, ckpt.meta["config"]))
    load_state_into(model, ckpt.state_dict, ckpt.folder)
    return model.eval().requires_grad_(False)
