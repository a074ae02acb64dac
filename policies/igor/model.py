"""IGOR's foundation policy and low-level policy (paper 000 §2.3) at CPU scale.

Both read the same observation tokens: [instruction, per-step per-view image tokens, readout token] through a
transformer trunk (IGOR: an ST-transformer over frozen DINOv2 patches; here one token per view and step from
the project's image encoder, so the latent is concatenated at token level, not patch level: a departure).
- ``FoundationModel``: readout -> Linear -> the latent action [N, Dl] (L2 regression onto the LAM's quantized
  embedding, not a classification over codes).
- ``LowLevelModel``: its own trunk with one more token, Linear(N * Dl -> d) of the latent the *frozen*
  foundation model predicts (never the LAM's label, paper Eq. 5), -> MLP -> tau x Da normalised actions, L2.
  Without ``LATENT_INPUT`` (``igor_nolatent``) the token and the foundation are absent.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from harness.nn.text import TEXT_DIM
from harness.nn.vision import build_image_encoder
from harness.policy.chunk_policy import config_from_dict, encode_images
from harness.policy.sampling import add_sample_noise
from policies.igor.config import IgorConfig


class ObservationTrunk(nn.Module):
    """Batch (images [B, To, V, 3, S, S] or cached image_features [B, To, V, F], text [B, 384]) plus optional
    extra tokens [B, K, d] -> readout [B, d]."""

    def __init__(self, cfg: IgorConfig):
        super().__init__()
        d, views = cfg.d_model, len(cfg.image_keys)
        self.cfg = cfg
        self.encoder = build_image_encoder(cfg.vision, cfg.vision_dim, cfg.vision_widths, image_size=cfg.image_size)
        self.image_proj = nn.Linear(cfg.vision_dim, d)
        self.text_proj = nn.Linear(TEXT_DIM, d)
        self.view_embed = nn.Parameter(0.02 * torch.randn(views, d))
        self.time_embed = nn.Parameter(0.02 * torch.randn(cfg.obs_horizon, d))
        self.readout = nn.Parameter(0.02 * torch.randn(1, 1, d))
        layer = nn.TransformerEncoderLayer(d, cfg.heads, 4 * d, cfg.dropout, "gelu", batch_first=True, norm_first=True)
        self.trunk = nn.TransformerEncoder(layer, cfg.layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d)

    def forward(self, batch: dict[str, torch.Tensor], extra: torch.Tensor | None = None) -> torch.Tensor:
        key = "image_features" if "image_features" in batch else "images"
        b, t, v = batch[key].shape[:3]
        feats = self.image_proj(encode_images(self.encoder, batch, None)).view(b, t, v, -1)
        feats = feats + self.view_embed[:v] + self.time_embed[-t:, None]
        tokens = [self.text_proj(batch["text"])[:, None], feats.flatten(1, 2)]
        if extra is not None:
            tokens.append(extra)
        tokens.append(self.readout.expand(b, -1, -1))
        return self.norm(self.trunk(torch.cat(tokens, dim=1)))[:, -1]


class FoundationModel(nn.Module):
    """Observation history + instruction -> latent action [B, N, Dl]."""

    def __init__(self, cfg: IgorConfig, info: dict[str, Any]):
        super().__init__()
        cfg.validate()
        self.cfg = cfg
        self.latent_shape = tuple(int(x) for x in info["latent_shape"])  # (N, Dl)
        self.trunk = ObservationTrunk(cfg)
        self.head = nn.Linear(cfg.d_model, self.latent_shape[0] * self.latent_shape[1])

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.head(self.trunk(batch)).view(-1, *self.latent_shape)

    def compute_loss(self, batch: dict[str, torch.Tensor], generator: torch.Generator | None) -> tuple:
        pred = self(batch)
        loss = (pred - batch["latent"]).pow(2).mean()
        rel = loss / batch["latent"].pow(2).mean().clamp(min=1e-12)
        return loss, {"relative_error": float(rel.detach())}


class LowLevelModel(nn.Module):
    """Batch (see harness.policy.chunk_policy) -> MSE loss / chunks [n, tau, Da]; info["foundation"] holds the
    frozen foundation model's config and data info (its weights are part of this model's state)."""

    def __init__(self, cfg: IgorConfig, info: dict[str, Any]):
        super().__init__()
        cfg.validate()
        self.cfg = cfg
        self.action_dim = int(info["action_dim"])
        d = cfg.d_model
        self.trunk = ObservationTrunk(cfg)
        self.foundation: FoundationModel | None = None
        if cfg.LATENT_INPUT:
            parent = info["foundation"]
            self.foundation = FoundationModel(config_from_dict(IgorConfig, parent["config"]), parent["data"])
            self.foundation.requires_grad_(False).eval()
            n, dl = self.foundation.latent_shape
            self.latent_proj = nn.Linear(n * dl, d)
        self.head = nn.Sequential(
            nn.Linear(d, cfg.head_hidden), nn.GELU(), nn.Linear(cfg.head_hidden, cfg.action_horizon * self.action_dim)
        )

    def train(self, mode: bool = True) -> LowLevelModel:
        super().train(mode)
        if self.foundation is not None:
            self.foundation.eval()  # frozen: no dropout, whatever the trainer asks
        return self

    @torch.no_grad()
    def foundation_latent(self, batch: dict[str, torch.Tensor]) -> torch.Tensor | None:
        """The frozen foundation model's predicted latent [B, N, Dl] (None without latent input)."""
        return None if self.foundation is None else self.foundation(batch)

    def forward(self, batch: dict[str, torch.Tensor], latent: torch.Tensor | None) -> torch.Tensor:
        """-> normalised chunk [B, tau, Da]."""
        extra = None if latent is None else self.latent_proj(latent.flatten(1))[:, None]
        return self.head(self.trunk(batch, extra)).view(-1, self.cfg.action_horizon, self.action_dim)

    def compute_loss(self, batch: dict[str, torch.Tensor], generator: torch.Generator | None) -> tuple:
        pred = self(batch, self.foundation_latent(batch))
        mask = batch["action_mask"].unsqueeze(-1).float()
        loss = ((pred - batch["actions"]) ** 2 * mask).sum() / (mask.sum() * self.action_dim).clamp(min=1)
        return loss, {}

    @torch.no_grad()
    def predict(
        self, batch: dict[str, torch.Tensor], n: int, generator: torch.Generator | None, greedy: bool = False
    ) -> torch.Tensor:
        """[n, tau, Da] for a batch of one observation. Not ``greedy``: IGOR adds N(0, (sample_noise x RMS)^2) to
        the foundation's latent per sample; the baseline adds N(0, sample_noise^2) to the actions."""
        latent = self.foundation_latent(batch)
        noisy = not greedy and self.cfg.sample_noise > 0
        if latent is None:
            chunk = self(batch, None).expand(n, -1, -1).clone()
            if noisy:
                chunk = add_sample_noise(chunk, self.cfg.sample_noise, "step", generator)
            return chunk
        latent = latent.expand(n, -1, -1).clone()
        if noisy:
            scale = self.cfg.sample_noise * latent.pow(2).mean().sqrt()
            latent = latent + torch.randn(latent.shape, generator=generator).to(latent) * scale
        batch = {k: v.expand(n, *v.shape[1:]) for k, v in batch.items()}
        return self(batch, latent)
