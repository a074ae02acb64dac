"""Image encoders: a small conv net trained from scratch (optionally FiLM-conditioned), or a frozen
extractor + trainable projection (harness.nn.frozen: ``hf:/folder`` for a local Hugging Face ViT such as
DINOv2, ``ckpt:/dir`` for an encoder trained here).

Inputs are float images [B, 3, H, W] in [0, 1]; outputs are feature vectors [B, out_dim].
"""

from __future__ import annotations

import torch
from torch import nn

from harness.errors import HarnessError
from harness.nn.frozen import PretrainedViTEncoder, build_frozen_encoder, is_frozen_kind, load_hf_backbone

__all__ = [
    "ConvEncoder",
    "PretrainedViTEncoder",
    "build_image_encoder",
    "load_hf_backbone",
    "random_shift",
    "shift_images",
]


def images_to_float(images: torch.Tensor) -> torch.Tensor:
    """uint8 [..., H, W, 3] -> float32 [..., 3, H, W] in [0, 1] (training batches, live observations and the
    feature cache all convert frames with this function)."""
    return images.movedim(-1, -3).float().div_(255.0)


class FiLM(nn.Module):
    """Feature-wise affine modulation: x [B, C, ...] * (1 + gamma(c)) + beta(c), c [B, Dc]."""

    def __init__(self, cond_dim: int, channels: int):
        super().__init__()
        self.proj = nn.Linear(cond_dim, 2 * channels)
        nn.init.zeros_(self.proj.weight)
        nn.init.zeros_(self.proj.bias)

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        gamma, beta = self.proj(cond).chunk(2, dim=-1)
        shape = (*gamma.shape, *([1] * (x.dim() - 2)))
        return x * (1 + gamma.view(shape)) + beta.view(shape)


class SpatialSoftmax(nn.Module):
    """Feature maps [B, C, H, W] -> expected (x, y) keypoint per channel [B, 2C]."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        attn = torch.softmax(x.flatten(2), dim=-1).view(b, c, h, w)
        ys = torch.linspace(-1, 1, h, device=x.device, dtype=x.dtype)
        xs = torch.linspace(-1, 1, w, device=x.device, dtype=x.dtype)
        ex = (attn.sum(2) * xs).sum(-1)
        ey = (attn.sum(3) * ys).sum(-1)
        return torch.cat([ex, ey], dim=-1)


class ConvEncoder(nn.Module):
    """Stride-2 conv blocks (GroupNorm, Mish), optional FiLM per block, spatial-softmax + pooled head.

    Args:
        widths: channels of the conv blocks (each halves the resolution).
        out_dim: output feature size.
        film_dim: size of the conditioning vector for FiLM (None: unconditioned).
    """

    def __init__(self, widths: tuple[int, ...] = (32, 64, 128), out_dim: int = 128, film_dim: int | None = None):
        super().__init__()
        self.blocks = nn.ModuleList()
        self.films = nn.ModuleList()
        ch = 3
        for w in widths:
            self.blocks.append(
                nn.Sequential(
                    nn.Conv2d(ch, w, 3, stride=2, padding=1),
                    nn.GroupNorm(8, w),
                    nn.Mish(),
                    nn.Conv2d(w, w, 3, padding=1),
                    nn.GroupNorm(8, w),
                    nn.Mish(),
                )
            )
            if film_dim is not None:
                self.films.append(FiLM(film_dim, w))
            ch = w
        self.keypoints = nn.Conv2d(ch, 32, 1)
        self.softmax = SpatialSoftmax()
        self.head = nn.Sequential(nn.Linear(64 + ch, out_dim), nn.LayerNorm(out_dim))
        self.out_dim = out_dim

    def feature_map(self, images: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        """[B, 3, H, W] -> [B, C, H/2^n, W/2^n]."""
        x = images * 2 - 1
        for i, block in enumerate(self.blocks):
            x = block(x)
            if len(self.films):
                if cond is None:
                    raise ValueError("FiLM encoder needs a conditioning vector")
                x = self.films[i](x, cond)
        return x

    def forward(self, images: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        x = self.feature_map(images, cond)
        feats = torch.cat([self.softmax(self.keypoints(x)), x.mean(dim=(2, 3))], dim=-1)
        return self.head(feats)


def build_image_encoder(
    kind: str, out_dim: int, widths: tuple[int, ...], film_dim: int | None = None, image_size: int = 64
) -> nn.Module:
    """``conv`` (trained here, end to end) or a frozen extractor + trainable projection: ``hf:/path/to/folder``
    (pretrained ViT) or ``ckpt:/path/to/dir`` (an encoder trained here, for ``image_size`` frames)."""
    if kind == "conv":
        return ConvEncoder(widths, out_dim, film_dim)
    if is_frozen_kind(kind):
        return build_frozen_encoder(kind, out_dim, image_size)
    raise HarnessError(f"unknown vision encoder {kind!r}; use 'conv', 'hf:/path/to/model_folder' or 'ckpt:/dir'")


def random_shift(images: torch.Tensor, pad: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """DrQ-style augmentation: replicate-pad by ``pad`` pixels and crop back at a random offset per image.

    images: [B, 3, H, W] -> [B, 3, H, W].
    """
    if pad <= 0:
        return images
    b = images.shape[0]
    ox = torch.randint(0, 2 * pad + 1, (b,), generator=generator)
    oy = torch.randint(0, 2 * pad + 1, (b,), generator=generator)
    return shift_images(images, pad, ox, oy)


def shift_images(images: torch.Tensor, pad: int, ox: torch.Tensor, oy: torch.Tensor) -> torch.Tensor:
    """Replicate-pad by ``pad`` and crop back at the given offsets (int [B] each, in 0..2 * pad):
    images [B, 3, H, W] -> [B, 3, H, W]; offset (pad, pad) is the identity."""
    b, _, h, w = images.shape
    padded = nn.functional.pad(images, (pad, pad, pad, pad), mode="replicate")
    rows = (oy.view(b, 1) + torch.arange(h).view(1, h)).to(images.device)
    cols = (ox.view(b, 1) + torch.arange(w).view(1, w)).to(images.device)
    idx_b = torch.arange(b, device=images.device).view(b, 1, 1)
    out = padded.permute(0, 2, 3, 1)[idx_b, rows.view(b, h, 1), cols.view(b, 1, w)]
    return out.permute(0, 3, 1, 2)


def random_resized_crop(
    clips: torch.Tensor,
    scale: tuple[float, float] = (0.8, 1.0),
    ratio: tuple[float, float] = (3 / 4, 4 / 3),
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """torchvision's RandomResizedCrop, one crop per clip applied to all its frames (villa-X's
    ``augment_level="clip"``), batched with ``affine_grid``: clips [B, T, C, H, W] -> [B, T, C, H, W].
    Area fraction ~ U(scale), log aspect ratio ~ U(log ratio), clamped to the frame, position uniform."""
    b, t, c, h, w = clips.shape
    u = torch.rand(b, 4, generator=generator)
    area = scale[0] + (scale[1] - scale[0]) * u[:, 0]
    log_r = torch.log(torch.tensor(ratio[0])) + (torch.log(torch.tensor(ratio[1] / ratio[0]))) * u[:, 1]
    aspect = torch.exp(log_r)  # width / height of the crop, in units of the frame's own width / height
    cw = torch.sqrt(area * aspect).clamp(max=1.0)  # fraction of the frame's width
    ch = torch.sqrt(area / aspect).clamp(max=1.0)
    cx = (u[:, 2] * 2 - 1) * (1 - cw)  # centre in [-1, 1] normalised coordinates, crop inside the frame
    cy = (u[:, 3] * 2 - 1) * (1 - ch)
    theta = torch.zeros(b, 2, 3)
    theta[:, 0, 0], theta[:, 0, 2], theta[:, 1, 1], theta[:, 1, 2] = cw, cx, ch, cy
    theta = theta.to(clips).repeat_interleave(t, dim=0)
    frames = clips.reshape(b * t, c, h, w)
    grid = nn.functional.affine_grid(theta, [b * t, c, h, w], align_corners=False)
    out = nn.functional.grid_sample(frames, grid, mode="bilinear", padding_mode="border", align_corners=False)
    return out.view(b, t, c, h, w)
