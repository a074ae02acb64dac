"""Conditional 1-D U-Net over action sequences (the Diffusion Policy denoiser, Chi et al. 2023).

Input x [B, T, Da], diffusion step k [B], conditioning c [B, Dc] -> prediction [B, T, Da].
T must be divisible by 2 ** (len(down_dims) - 1).
"""

from __future__ import annotations

import math

import torch
from torch import nn


class SinusoidalEmbedding(nn.Module):
    """Integer / float steps [B] -> [B, dim]."""

    def __init__(self, dim: int):
        super().__init__()
        self.dim = dim

    def forward(self, k: torch.Tensor) -> torch.Tensor:
        half = self.dim // 2
        freqs = torch.exp(-math.log(10000) * torch.arange(half, device=k.device, dtype=torch.float32) / (half - 1))
        args = k.float()[:, None] * freqs[None]
        return torch.cat([args.sin(), args.cos()], dim=-1)


def _conv_block(cin: int, cout: int, kernel: int) -> nn.Sequential:
    groups = 8 if cout % 8 == 0 else 1
    return nn.Sequential(nn.Conv1d(cin, cout, kernel, padding=kernel // 2), nn.GroupNorm(groups, cout), nn.Mish())


class CondResBlock(nn.Module):
    """Two conv blocks; FiLM (scale, bias) from the conditioning after the first; 1x1 residual."""

    def __init__(self, cin: int, cout: int, cond_dim: int, kernel: int):
        super().__init__()
        self.block1, self.block2 = _conv_block(cin, cout, kernel), _conv_block(cout, cout, kernel)
        self.film = nn.Sequential(nn.Mish(), nn.Linear(cond_dim, 2 * cout))
        self.residual = nn.Conv1d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        h = self.block1(x)
        scale, bias = self.film(cond).unsqueeze(-1).chunk(2, dim=1)
        h = self.block2(h * (1 + scale) + bias)
        return h + self.residual(x)


class ConditionalUnet1D(nn.Module):
    """Args: action_dim, cond_dim, down_dims (channels per level), kernel size, step-embedding size."""

    def __init__(
        self,
        action_dim: int,
        cond_dim: int,
        down_dims: tuple[int, ...] = (64, 128, 256),
        kernel: int = 5,
        step_dim: int = 64,
    ):
        super().__init__()
        self.step_embed = nn.Sequential(
            SinusoidalEmbedding(step_dim),
            nn.Linear(step_dim, 4 * step_dim),
            nn.Mish(),
            nn.Linear(4 * step_dim, step_dim),
        )
        c = cond_dim + step_dim
        dims = [action_dim, *down_dims]
        self.down = nn.ModuleList()
        for i, (cin, cout) in enumerate(zip(dims[:-1], dims[1:], strict=True)):
            last = i == len(down_dims) - 1
            sample = nn.Conv1d(cout, cout, 3, stride=2, padding=1) if not last else nn.Identity()
            self.down.append(
                nn.ModuleList([CondResBlock(cin, cout, c, kernel), CondResBlock(cout, cout, c, kernel), sample])
            )
        mid = down_dims[-1]
        self.mid = nn.ModuleList([CondResBlock(mid, mid, c, kernel), CondResBlock(mid, mid, c, kernel)])
        self.up = nn.ModuleList()
        for cout, cin in zip(reversed(down_dims[:-1]), reversed(down_dims[1:]), strict=True):
            self.up.append(
                nn.ModuleList(
                    [
                        CondResBlock(2 * cin, cout, c, kernel),
                        CondResBlock(cout, cout, c, kernel),
                        nn.ConvTranspose1d(cout, cout, 4, stride=2, padding=1),
                    ]
                )
            )
        self.final = nn.Sequential(
            _conv_block(down_dims[0], down_dims[0], kernel), nn.Conv1d(down_dims[0], action_dim, 1)
        )
        self.levels = len(down_dims)

    def forward(self, x: torch.Tensor, k: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        c = torch.cat([cond, self.step_embed(k)], dim=-1)
        h = x.transpose(1, 2)  # [B, Da, T]
        skips = []
        for res1, res2, down in self.down:
            h = res2(res1(h, c), c)
            skips.append(h)
            h = down(h)
        for block in self.mid:
            h = block(h, c)
        for res1, res2, up in self.up:
            h = torch.cat([h, skips.pop()], dim=1)
            h = up(res2(res1(h, c), c))
        return self.final(h).transpose(1, 2)
