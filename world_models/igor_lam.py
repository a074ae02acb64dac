"""IGOR's latent action model (LAM), at a scale this machine trains (trainable ``world_model/igor_lam``).

No IGOR training code is public; this follows paper 000 §2.1 and villa-X's ``IgorModel`` (the closest public
code), as summarised in ``../shared/docs/reference/latent-actions.md`` §3:

- **IDM**: a window of ``context`` frames o_{t-(c-1)H} .. o_t plus o_{t+H} (H = ``frame_gap``), all under one
  random resized crop c1 -> patch embedding -> spatio-temporal blocks (spatial attention per frame, **causal**
  temporal attention per patch) -> the last two frames' features averaged (one feature map for the transition
  t -> t+H, as villa-X's ``(x[1:] + x[:-1]) / 2``) -> a MAP readout: ``latent_tokens`` learned queries
  cross-attend to it -> N = 4 latent tokens of ``latent_dim``.
- **VQ**: one shared codebook of 32 entries per token (``harness.nn.quantizers.VectorQuantizer``: straight-through,
  commitment beta 0.25), plus dead-code restart from batch vectors (a deviation, flagged: villa-X has none).
- **FDM**: a *single-frame* transformer: the patches of c2[o_t] (an independent crop c2, the same for o_t and
  its target) with one prepended action token (Linear of the 4 quantized tokens) -> the pixels of c2[o_{t+H}].
  Seeing one frame only, it cannot predict o_{t+H} from history and bypass the latent (paper 000 §2.1).
- Loss: pixel MSE + the VQ loss (weight 1; the paper: "plus the commitment loss").

Shapes (defaults): frames [B, T = context + 1, 3, 64, 64] in [0, 1]; patch 8 -> N = 64 tokens of D = 128;
latents [B, 4, 32]; codes [B, 4] in {0..31}.

Departures (CPU scale, chosen deliberately): learned patch embedding and position embeddings (IGOR: frozen
DINOv2; villa-X: fixed sin-cos), plain pre-norm blocks (villa-X: adaLN modulation, qk-norm), pixels in [0, 1]
(villa-X: ImageNet-normalised), 2 + 2 blocks of width 128, 2 context frames (villa-X: 8).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from harness.data.splits import split_files
from harness.errors import HarnessError
from harness.nn.attention import Block
from harness.nn.quantizers import VectorQuantizer, perplexity
from harness.nn.training import Trainable, TrainData
from harness.nn.vision import images_to_float, random_resized_crop
from harness.registry import TRAINABLES
from world_models.laq import load_clip_frames


@dataclass(frozen=True)
class IgorLamConfig:
    image_size: int = 64
    patch_size: int = 8
    dim: int = 128
    heads: int = 4
    idm_depth: int = 2
    fdm_depth: int = 2
    context: int = 2  # frames up to o_t the IDM sees (plus o_{t+H})
    latent_tokens: int = 4  # N
    latent_dim: int = 32  # D of each latent token (IGOR: 128)
    codebook_size: int = 32
    beta: float = 0.25
    frame_gap: int = 3  # H (IGOR: 3 on robot data, = tau of the low-level policy)
    crop_scale_min: float = 0.8  # RandomResizedCrop scale (min, 1.0), ratio (3/4, 4/3) for c1 and c2
    dead_after: int = 100  # restart a code no batch selected for this many steps (0: never)
    image_key: str = "agentview_rgb"

    def validate(self) -> None:
        if self.image_size % self.patch_size:
            raise HarnessError(f"igor_lam: image_size {self.image_size} is not a multiple of patch_size")
        if self.dim % self.heads:
            raise HarnessError(f"igor_lam: dim {self.dim} is not divisible by heads {self.heads}")
        if self.context < 1 or self.frame_gap < 1 or self.latent_tokens < 1 or self.codebook_size < 2:
            raise HarnessError("igor_lam: context, frame_gap, latent_tokens >= 1 and codebook_size >= 2")
        if not 0 < self.crop_scale_min <= 1:
            raise HarnessError("igor_lam: crop_scale_min must be in (0, 1]")

    @property
    def frames(self) -> int:
        return self.context + 1


class PatchEmbed(nn.Module):
    """images [B, 3, S, S] -> tokens [B, N, D] (learned position embedding)."""

    def __init__(self, size: int, patch: int, dim: int):
        super().__init__()
        self.proj = nn.Conv2d(3, dim, patch, stride=patch)
        self.pos = nn.Parameter(0.02 * torch.randn(1, (size // patch) ** 2, dim))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.proj(images).flatten(2).transpose(1, 2) + self.pos


class STBlock(nn.Module):
    """Spatial attention within each frame, then causal temporal attention per patch: x [B, T, N, D]."""

    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.spatial, self.temporal = Block(dim, heads), Block(dim, heads)

    def forward(self, x: torch.Tensor, causal: torch.Tensor) -> torch.Tensor:
        b, t, n, d = x.shape
        x = self.spatial(x.reshape(b * t, n, d)).view(b, t, n, d)
        x = self.temporal(x.transpose(1, 2).reshape(b * n, t, d), mask=causal)
        return x.view(b, n, t, d).transpose(1, 2)


class IgorIDM(nn.Module):
    """frames [B, T, 3, S, S] -> continuous latent [B, N, Dl] of the last transition."""

    def __init__(self, cfg: IgorLamConfig):
        super().__init__()
        d = cfg.dim
        self.embed = PatchEmbed(cfg.image_size, cfg.patch_size, d)
        self.time = nn.Parameter(0.02 * torch.randn(1, cfg.frames, 1, d))
        self.blocks = nn.ModuleList(STBlock(d, cfg.heads) for _ in range(cfg.idm_depth))
        self.norm = nn.LayerNorm(d)
        self.queries = nn.Parameter(0.02 * torch.randn(1, cfg.latent_tokens, d))
        self.readout = Block(d, cfg.heads, cross=True)  # MAP: learned queries attend to the transition's tokens
        self.out = nn.Linear(d, cfg.latent_dim)
        causal = torch.tril(torch.ones(cfg.frames, cfg.frames, dtype=torch.bool))  # True: may attend
        self.register_buffer("causal", causal, persistent=False)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        b, t = frames.shape[:2]
        x = self.embed(frames.flatten(0, 1)).view(b, t, -1, self.time.shape[-1]) + self.time[:, :t]
        for block in self.blocks:
            x = block(x, self.causal[:t, :t])
        x = self.norm(x)
        transition = (x[:, -1] + x[:, -2]) / 2  # [B, N, D]
        return self.out(self.readout(self.queries.expand(b, -1, -1), context=transition))


class IgorFDM(nn.Module):
    """(o_t [B, 3, S, S], quantized latent [B, N, Dl]) -> predicted o_{t+H} [B, 3, S, S]: a single-frame
    transformer with one prepended action token."""

    def __init__(self, cfg: IgorLamConfig):
        super().__init__()
        d, p = cfg.dim, cfg.patch_size
        self.patch, self.grid = p, cfg.image_size // p
        self.embed = PatchEmbed(cfg.image_size, p, d)
        self.action = nn.Linear(cfg.latent_tokens * cfg.latent_dim, d)
        self.blocks = nn.ModuleList(Block(d, cfg.heads) for _ in range(cfg.fdm_depth))
        self.norm = nn.LayerNorm(d)
        self.head = nn.Linear(d, 3 * p * p)

    def forward(self, frame: torch.Tensor, latent: torch.Tensor) -> torch.Tensor:
        b = frame.shape[0]
        x = torch.cat([self.action(latent.flatten(1))[:, None], self.embed(frame)], dim=1)
        for block in self.blocks:
            x = block(x)
        patches = self.head(self.norm(x[:, 1:]))  # drop the action token: [B, N, 3 p p]
        g, p = self.grid, self.patch
        return patches.view(b, g, g, 3, p, p).permute(0, 3, 1, 4, 2, 5).reshape(b, 3, g * p, g * p)


class IgorLAM(nn.Module):
    def __init__(self, cfg: IgorLamConfig, info: dict[str, Any] | None = None):
        super().__init__()
        cfg.validate()
        self.cfg = cfg
        self.idm, self.fdm = IgorIDM(cfg), IgorFDM(cfg)
        self.vq = VectorQuantizer(cfg.codebook_size, cfg.latent_dim, cfg.beta, cfg.dead_after)

    def quantize(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """z [B, N, Dl] -> (quantized [B, N, Dl], codes [B, N], VQ loss)."""
        zq, idx, loss = self.vq(z.reshape(-1, z.shape[-1]))
        return zq.view(z.shape), idx.view(z.shape[:2]), loss

    @torch.no_grad()
    def label(self, frames: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Uncropped frames [B, T, 3, S, S] -> (quantized latent [B, N, Dl], codes [B, N]) of the last transition."""
        zq, codes, _ = self.quantize(self.idm(frames))
        return zq, codes

    @torch.no_grad()
    def apply_latent(self, frame: torch.Tensor, latent: torch.Tensor) -> torch.Tensor:
        """The FDM: frame [B, 3, S, S] moved by latent [B, N, Dl] -> [B, 3, S, S] (latent-action transfer)."""
        return self.fdm(frame, latent)

    def compute_loss(self, batch: dict[str, torch.Tensor], generator: torch.Generator | None) -> tuple:
        frames = batch["frames"]  # [B, T, 3, S, S]
        scale = (self.cfg.crop_scale_min, 1.0)
        c1 = random_resized_crop(frames, scale, generator=generator) if self.training else frames
        c2 = random_resized_crop(frames[:, -2:], scale, generator=generator) if self.training else frames[:, -2:]
        z = self.idm(c1)
        zq, codes, vq_loss = self.quantize(z)
        recon = F.mse_loss(self.fdm(c2[:, 0], zq), c2[:, 1])
        logs = {
            "recon": recon.item(),
            "vq": vq_loss.item(),
            "unique_codes": int(codes.unique().numel()),
            "perplexity": perplexity(codes, self.cfg.codebook_size),
        }
        if self.training and self.cfg.dead_after > 0:
            restarted = self.vq.restart_dead(z.detach().reshape(-1, z.shape[-1]), generator)
            if restarted:
                logs["codes_restarted"] = restarted
        return recon + vq_loss, logs


# -- data ----------------------------------------------------------------------------------------------------
def window_indices(length: int, context: int, gap: int) -> np.ndarray:
    """Frame indices [M, context + 1] of every window o_{t-(c-1)H} .. o_t, o_{t+H} inside a group of ``length``
    frames; frames before the start repeat the first one (so every t with t + H < length has a window)."""
    ts = np.arange(max(length - gap, 0))
    offsets = np.arange(-(context - 1), 1) * gap
    return np.concatenate([np.clip(ts[:, None] + offsets, 0, None), ts[:, None] + gap], axis=1).astype(np.int64)


class FrameWindows(torch.utils.data.Dataset):
    """Items {"frames": uint8 [T, S, S, 3]}."""

    def __init__(self, groups: list[np.ndarray], rows: list[tuple[int, np.ndarray]]):
        self.groups, self.rows = groups, rows

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        g, idx = self.rows[i]
        return {"frames": torch.from_numpy(self.groups[g][idx])}


def igor_lam_data(cfg: IgorLamConfig, paths: list[Path], seed: int, val_fraction: float) -> TrainData:
    """Frame windows from demonstrations or action-free clips, split by group (harness.data.splits)."""
    cfg.validate()
    split = split_files(paths, val_fraction, seed, require_actions=False)
    groups, is_val = load_clip_frames(paths, cfg.image_key, cfg.image_size, split)
    train_rows, val_rows = [], []
    for g, frames in enumerate(groups):
        for idx in window_indices(len(frames), cfg.context, cfg.frame_gap):
            (val_rows if is_val[g] else train_rows).append((g, idx))
    if not train_rows:
        raise HarnessError(f"igor_lam: no training clip is longer than frame_gap {cfg.frame_gap} steps")

    def to_batch(raw: Any, gen: torch.Generator, device: torch.device, is_train: bool) -> dict:
        return {"frames": images_to_float(raw["frames"]).to(device)}

    info = {"groups": len(groups), "windows": len(train_rows) + len(val_rows), "val_windows": len(val_rows),
            "image_key": cfg.image_key}  # fmt: skip
    val = FrameWindows(groups, val_rows) if val_rows else None
    return TrainData(FrameWindows(groups, train_rows), val, None, info, to_batch)


@TRAINABLES.register("world_model/igor_lam")
def trainable() -> Trainable:
    return Trainable("world_model", "igor_lam", IgorLamConfig, igor_lam_data, lambda cfg, info: IgorLAM(cfg))


def load_igor_lam(folder: str | Path) -> IgorLAM:
    """A trained LAM from its checkpoint folder, in eval mode with frozen weights."""
    from world_models.common import load_frozen

    return load_frozen(folder, "igor_lam", IgorLamConfig, IgorLAM)  # type: ignore[return-value]


@torch.no_grad()
def label_group(model: IgorLAM, frames: np.ndarray, batch: int = 128) -> tuple[np.ndarray, np.ndarray]:
    """Resized uint8 frames [T, S, S, 3] of one group -> (quantized latents float32 [T - H, N, Dl], codes int64
    [T - H, N]) of every transition (t, t + H), with the window's earlier frames as context."""
    idx = window_indices(len(frames), model.cfg.context, model.cfg.frame_gap)
    x = images_to_float(torch.from_numpy(frames))  # [T, 3, S, S]
    lat, codes = [], []
    for start in range(0, len(idx), batch):
        zq, c = model.label(x[torch.from_numpy(idx[start : start + batch])])
        lat.append(zq.numpy())
        codes.append(c.numpy())
    n, dl = model.cfg.latent_tokens, model.cfg.latent_dim
    if not lat:
        return np.zeros((0, n, dl), np.float32), np.zeros((0, n), np.int64)
    return np.concatenate(lat).astype(np.float32), np.concatenate(codes)
