"""Latent-action dynamics modules shared by LAC-WM and EAC-WM (LAC-WM paper, section 3).

Frame embeddings x are token grids [B, N, D]; latent actions z are [B, M, D] (M tokens).
    IDM(x_t, x_t+1) -> z_t        causal attention over the two frames, then M learned queries cross-attend
    FDM(x_hist, z_t) -> x_t+1     self-attention over the frame tokens (temporal over the history window),
                                  self-attention over z, cross-attention frame -> z; predicts the next frame
    MotionDecoder(x_t, z_t) -> a  z queries conv-downsampled current-frame tokens -> MLP -> explicit motion
    ActionMLP(a chunk) -> z       the action projector (LAC-WM) / explicit action encoder (EAC-WM): 2-layer MLP
"""

from __future__ import annotations

import torch
from torch import nn

from harness.nn.attention import Block


class IDM(nn.Module):
    def __init__(self, dim: int, tokens: int, latent_tokens: int, depth: int, heads: int):
        super().__init__()
        self.frame_embed = nn.Parameter(torch.zeros(2, 1, dim))
        self.pos = nn.Parameter(torch.randn(1, tokens, dim) * 0.02)
        self.blocks = nn.ModuleList([Block(dim, heads) for _ in range(depth)])
        self.queries = nn.Parameter(torch.randn(1, latent_tokens, dim) * 0.02)
        self.readout = Block(dim, heads, cross=True)
        self.norm = nn.LayerNorm(dim)
        n = tokens
        causal = torch.ones(2 * n, 2 * n, dtype=torch.bool)
        causal[:n, n:] = False  # frame t cannot look at frame t+1
        self.register_buffer("mask", causal, persistent=False)

    def forward(self, x_t: torch.Tensor, x_next: torch.Tensor) -> torch.Tensor:
        h = torch.cat([x_t + self.pos + self.frame_embed[0], x_next + self.pos + self.frame_embed[1]], dim=1)
        for block in self.blocks:
            h = block(h, mask=self.mask)
        q = self.queries.expand(x_t.shape[0], -1, -1)
        return self.norm(self.readout(q, context=h))


class FDM(nn.Module):
    """Predicts x_t+1 [B, N, D] from a history window x [B, T, N, D] (T <= history) and z [B, M, D]."""

    def __init__(self, dim: int, tokens: int, depth: int, heads: int, history: int):
        super().__init__()
        self.history = history
        self.pos = nn.Parameter(torch.randn(1, 1, tokens, dim) * 0.02)
        self.time = nn.Parameter(torch.zeros(1, history, 1, dim))
        self.z_blocks = nn.ModuleList([Block(dim, heads) for _ in range(depth // 2 or 1)])
        self.blocks = nn.ModuleList([Block(dim, heads, cross=True) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, dim)
        nn.init.zeros_(self.head.weight)  # starts as copy-last-frame: the residual is learned from zero
        nn.init.zeros_(self.head.bias)

    def forward(self, x_hist: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        b, t, n, d = x_hist.shape
        h = (x_hist + self.pos + self.time[:, self.history - t :]).reshape(b, t * n, d)
        for block in self.z_blocks:
            z = block(z)
        for block in self.blocks:
            h = block(h, context=z)
        last = h[:, -n:]
        return x_hist[:, -1] + self.head(self.norm(last))  # residual prediction of the next frame


class MotionDecoder(nn.Module):
    def __init__(self, dim: int, grid: int, latent_tokens: int, motion_dim: int, heads: int):
        super().__init__()
        self.grid = grid
        self.down = nn.Conv2d(dim, dim, 2, stride=2) if grid >= 2 else nn.Identity()
        self.cross = Block(dim, heads, cross=True)
        self.mlp = nn.Sequential(nn.Linear(latent_tokens * dim, 256), nn.GELU(), nn.Linear(256, motion_dim))

    def forward(self, x_t: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        b, n, d = x_t.shape
        grid = x_t.transpose(1, 2).reshape(b, d, self.grid, self.grid)
        tokens = self.down(grid).flatten(2).transpose(1, 2)
        return self.mlp(self.cross(z, context=tokens).flatten(1))


class ActionMLP(nn.Module):
    """Action chunk [B, S, Da] -> latent action [B, M, D] (two-layer MLP)."""

    def __init__(self, steps: int, action_dim: int, latent_tokens: int, dim: int, hidden: int = 256):
        super().__init__()
        self.latent_tokens, self.dim = latent_tokens, dim
        self.net = nn.Sequential(
            nn.Linear(steps * action_dim, hidden), nn.GELU(), nn.Linear(hidden, latent_tokens * dim)
        )

    def forward(self, actions: torch.Tensor) -> torch.Tensor:
        return self.net(actions.flatten(1)).view(-1, self.latent_tokens, self.dim)
