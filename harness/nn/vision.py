"""Image encoders: a small conv net trained from scratch (optionally FiLM-conditioned) and a frozen
pretrained ViT loaded from a local Hugging Face folder (DINOv2 or similar) for users who have weights.

Inputs are float images [B, 3, H, W] in [0, 1]; outputs are feature vectors [B, out_dim].
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from harness.errors import HarnessError


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


def load_hf_backbone(path: str) -> nn.Module:
    """A frozen ``transformers.AutoModel`` from a local folder (config.json + model.safetensors), eval mode.

    Nothing is downloaded; a missing or unreadable folder is one HarnessError line.
    """
    folder = Path(path).expanduser()
    if not (folder / "config.json").is_file():
        raise HarnessError(f"pretrained vision weights: {folder} has no config.json (expected a HF model folder)")
    try:
        from transformers import AutoModel

        backbone = AutoModel.from_pretrained(str(folder), local_files_only=True, use_safetensors=True)
    except Exception as exc:  # noqa: BLE001 - any load failure is a bad user folder
        msg = f"cannot load pretrained vision weights from {folder}: {type(exc).__name__}: {exc}"
        raise HarnessError(msg) from exc
    return backbone.requires_grad_(False).eval()


class PretrainedViTEncoder(nn.Module):
    """Frozen ViT from a local Hugging Face folder (config.json + model.safetensors, e.g. facebook/dinov2-small)
    plus a trainable linear projection of its CLS token. Nothing is downloaded.

    Args:
        path: local model folder; any ``transformers.AutoModel`` vision backbone with ``pooler_output``
            or ``last_hidden_state``.
        out_dim: projected feature size.
    """

    MEAN = (0.485, 0.456, 0.406)
    STD = (0.229, 0.224, 0.225)

    def __init__(self, path: str, out_dim: int = 128):
        super().__init__()
        self.backbone = load_hf_backbone(path)
        hidden = int(self.backbone.config.hidden_size)
        self.proj = nn.Sequential(nn.Linear(hidden, out_dim), nn.LayerNorm(out_dim))
        self.register_buffer("mean", torch.tensor(self.MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(self.STD).view(1, 3, 1, 1), persistent=False)
        self.out_dim = out_dim

    def train(self, mode: bool = True) -> "PretrainedViTEncoder":
        super().train(mode)
        self.backbone.eval()  # frozen: keep dropout / norms in eval mode
        return self

    def forward(self, images: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        with torch.no_grad():
            out = self.backbone(pixel_values=(images - self.mean) / self.std)
            cls = out.last_hidden_state[:, 0]
        return self.proj(cls)


def build_image_encoder(kind: str, out_dim: int, widths: tuple[int, ...], film_dim: int | None = None) -> nn.Module:
    """``conv`` (trained here) or ``hf:/path/to/folder`` (frozen pretrained ViT + trainable projection)."""
    if kind == "conv":
        return ConvEncoder(widths, out_dim, film_dim)
    if kind.startswith("hf:"):
        return PretrainedViTEncoder(kind[3:], out_dim)
    raise HarnessError(f"unknown vision encoder {kind!r}; use 'conv' or 'hf:/path/to/model_folder'")


def random_shift(images: torch.Tensor, pad: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """DrQ-style augmentation: replicate-pad by ``pad`` pixels and crop back at a random offset per image.

    images: [B, 3, H, W] -> [B, 3, H, W].
    """
    if pad <= 0:
        return images
    b, _, h, w = images.shape
    padded = nn.functional.pad(images, (pad, pad, pad, pad), mode="replicate")
    ox = torch.randint(0, 2 * pad + 1, (b,), generator=generator)
    oy = torch.randint(0, 2 * pad + 1, (b,), generator=generator)
    rows = (oy.view(b, 1) + torch.arange(h).view(1, h)).to(images.device)
    cols = (ox.view(b, 1) + torch.arange(w).view(1, w)).to(images.device)
    idx_b = torch.arange(b, device=images.device).view(b, 1, 1)
    out = padded.permute(0, 2, 3, 1)[idx_b, rows.view(b, h, 1), cols.view(b, 1, w)]
    return out.permute(0, 3, 1, 2)
