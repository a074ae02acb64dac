"""BAKU model: FiLM-conditioned encoder -> transformer trunk -> action-chunk head."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from harness.nn.text import TEXT_DIM
from harness.nn.vision import build_image_encoder
from harness.policy.chunk_policy import encode_images
from harness.policy.sampling import add_sample_noise
from policies.baku.config import BakuConfig


class BakuModel(nn.Module):
    """Batch (see harness.policy.chunk_policy) -> MSE loss / chunks [n, Hz, Da]."""

    def __init__(self, cfg: BakuConfig, info: dict[str, Any]):
        super().__init__()
        cfg.validate()
        self.cfg = cfg
        self.action_dim = int(info["action_dim"])
        views, d = len(cfg.image_keys), cfg.d_model
        self.encoder = build_image_encoder(
            cfg.vision, cfg.vision_dim, cfg.vision_widths, film_dim=TEXT_DIM, image_size=cfg.image_size
        )
        self.image_proj = nn.Linear(cfg.vision_dim, d)
        self.proprio_proj = nn.Linear(int(info["proprio_dim"]), d)
        self.text_proj = nn.Linear(TEXT_DIM, d)
        self.view_embed = nn.Parameter(torch.zeros(views + 1, d))  # + 1: the proprio token type
        self.time_embed = nn.Parameter(torch.zeros(cfg.obs_horizon, d))
        self.action_token = nn.Parameter(torch.zeros(1, 1, d))
        nn.init.normal_(self.view_embed, std=0.02)
        nn.init.normal_(self.time_embed, std=0.02)
        nn.init.normal_(self.action_token, std=0.02)
        layer = nn.TransformerEncoderLayer(
            d, cfg.heads, 4 * d, cfg.dropout, activation="gelu", batch_first=True, norm_first=True
        )
        self.trunk = nn.TransformerEncoder(layer, cfg.layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d)
        self.head = nn.Sequential(
            nn.Linear(d, cfg.head_hidden), nn.GELU(), nn.Linear(cfg.head_hidden, cfg.action_horizon * self.action_dim)
        )

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """images [B, To, V, 3, H, W] (or cached image_features [B, To, V, F]), proprio [B, To, Dp], text [B, 384]
        -> normalised chunk [B, Hz, Da]."""
        text = batch["text"]
        b, t = batch["proprio"].shape[:2]
        v = len(self.cfg.image_keys)
        cond = text[:, None, None].expand(b, t, v, -1).flatten(0, 2)
        feats = self.image_proj(encode_images(self.encoder, batch, None, cond)).view(b, t, v, -1)
        feats = feats + self.view_embed[:v] + self.time_embed[:t, None]
        proprio = self.proprio_proj(batch["proprio"]) + self.view_embed[v] + self.time_embed[:t]
        tokens = torch.cat(
            [self.text_proj(text)[:, None], feats.flatten(1, 2), proprio, self.action_token.expand(b, -1, -1)], dim=1
        )
        out = self.norm(self.trunk(tokens))[:, -1]
        return self.head(out).view(b, self.cfg.action_horizon, self.action_dim)

    def latent_actions(self, batch: dict[str, torch.Tensor], generator: torch.Generator | None) -> torch.Tensor:
        """LAWM's latent chunk [B, Hz, Da]: the head's output (differentiable)."""
        return self(batch)

    def last_action_layer(self) -> nn.Module:
        return self.head[-1]

    def compute_loss(self, batch: dict[str, torch.Tensor], generator: torch.Generator | None) -> tuple:
        pred = self(batch)
        mask = batch["action_mask"].unsqueeze(-1).float()
        loss = ((pred - batch["actions"]) ** 2 * mask).sum() / (mask.sum() * self.action_dim).clamp(min=1)
        return loss, {}

    @torch.no_grad()
    def predict(
        self, batch: dict[str, torch.Tensor], n: int, generator: torch.Generator | None, greedy: bool = False
    ) -> torch.Tensor:
        """[n, Hz, Da]: the predicted chunk (``greedy``), else plus the declared sampling noise
        (harness.policy.sampling)."""
        chunk = self(batch).expand(n, -1, -1)
        if greedy or self.cfg.sample_noise == 0:
            return chunk.clone()
        return add_sample_noise(chunk, self.cfg.sample_noise, self.cfg.sample_noise_kind, generator)
