"""Transformer blocks with separate q / k / v / o projections (so LoRA can target them by name).

Token tensors are [B, N, D]; masks follow ``scaled_dot_product_attention`` (True = may attend).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class Attention(nn.Module):
    def __init__(self, dim: int, heads: int):
        super().__init__()
        if dim % heads:
            raise ValueError(f"dim {dim} not divisible by heads {heads}")
        self.heads = heads
        self.q, self.k, self.v, self.o = (nn.Linear(dim, dim) for _ in range(4))

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None, mask: torch.Tensor | None = None):
        """x [B, N, D] attends to context [B, M, D] (itself when None) -> [B, N, D]."""
        ctx = x if context is None else context
        b, n, d = x.shape
        h = self.heads

        def split(t: torch.Tensor) -> torch.Tensor:
            return t.view(b, -1, h, d // h).transpose(1, 2)

        out = F.scaled_dot_product_attention(split(self.q(x)), split(self.k(ctx)), split(self.v(ctx)), attn_mask=mask)
        return self.o(out.transpose(1, 2).reshape(b, n, d))


class Block(nn.Module):
    """Pre-norm block: self-attention, optional cross-attention to a context, MLP."""

    def __init__(self, dim: int, heads: int, cross: bool = False, mlp_ratio: int = 4):
        super().__init__()
        self.norm1, self.attn = nn.LayerNorm(dim), Attention(dim, heads)
        self.cross = Attention(dim, heads) if cross else None
        self.norm_x = nn.LayerNorm(dim) if cross else None
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, mlp_ratio * dim), nn.GELU(), nn.Linear(mlp_ratio * dim, dim))

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None, mask: torch.Tensor | None = None):
        h = self.norm1(x)
        x = x + self.attn(h, mask=mask)
        if self.cross is not None and context is not None:
            x = x + self.cross(self.norm_x(x), context)
        return x + self.mlp(self.norm2(x))
