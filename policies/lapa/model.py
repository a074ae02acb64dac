"""LAPA model: image + instruction prefix -> causal transformer -> 4 latent-action codes (latent stage) or
7 action-bin tokens (action stage), each predicted autoregressively under cross-entropy.

Sequence: [instruction token, image token, start token, emb(y_1), ..., emb(y_{K-1})]; the outputs at the
start token and the K-1 embedded targets predict y_1..y_K (teacher forcing in training; sampling or argmax at
inference). Latent codes use their own embedding (LAPA's ``dte``) and head (LAPA's ``delta_head``, one linear
layer); actions a new embedding (``ate``, one table per action dimension) and head (``action_head``) over
``max_bins`` classes, invalid bins of a dimension masked out. Both heads exist in both stages, so an action-stage
model loads every latent-stage weight and only its action embedding / head start fresh (as LAPA's finetuning).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from harness.errors import HarnessError
from harness.nn.action_bins import ActionBins
from harness.nn.text import TEXT_DIM
from harness.nn.vision import build_image_encoder
from harness.policy.chunk_policy import encode_images
from policies.lapa.config import LapaConfig

NUM_CODES, CODEBOOK = 4, 8  # LAPA's latent action space: 4 codes of 8 (the quantizer's own values are checked)


class LapaModel(nn.Module):
    def __init__(self, cfg: LapaConfig, info: dict[str, Any]):
        super().__init__()
        cfg.validate()
        self.cfg, d = cfg, cfg.d_model
        self.num_codes = int(info.get("num_codes", NUM_CODES))
        self.codebook_size = int(info.get("codebook_size", CODEBOOK))
        self.encoder = build_image_encoder(cfg.vision, cfg.vision_dim, cfg.vision_widths, image_size=cfg.image_size)
        self.image_proj = nn.Linear(cfg.vision_dim * len(cfg.image_keys), d)
        self.text_proj = nn.Linear(TEXT_DIM, d)
        self.start = nn.Parameter(0.02 * torch.randn(2, d))  # start token: 0 latent, 1 action
        self.max_len = 3 + max(self.num_codes, 16)
        self.pos = nn.Parameter(0.02 * torch.randn(self.max_len, d))
        layer = nn.TransformerEncoderLayer(d, cfg.heads, 4 * d, cfg.dropout, "gelu", batch_first=True, norm_first=True)
        self.trunk = nn.TransformerEncoder(layer, cfg.layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d)
        self.latent_embed = nn.Embedding(self.codebook_size, d)  # LAPA's dte
        self.latent_head = nn.Linear(d, self.codebook_size, bias=False)  # LAPA's delta_head
        edges = info.get("action_bins")
        self.action_dim = int(info.get("action_dim", 7))
        if edges is not None:
            bins = ActionBins(tuple(tuple(e) for e in edges))
            centres, valid = bins.midpoints(cfg.bins)
            self.bins: ActionBins | None = bins
        else:  # latent stage: no action data yet
            centres = np.zeros((self.action_dim, cfg.bins), np.float32)
            valid = np.ones((self.action_dim, cfg.bins), bool)
            self.bins = None
        self.register_buffer("bin_centres", torch.from_numpy(centres), persistent=False)
        self.register_buffer("bin_valid", torch.from_numpy(valid), persistent=False)
        self.action_embed = nn.Embedding(self.action_dim * cfg.bins, d)  # LAPA's ate (offset per dimension)
        self.action_head = nn.Linear(d, cfg.bins)  # LAPA's action_head

    # -- sequence ------------------------------------------------------------------------------------------
    def _prefix(self, batch: dict[str, torch.Tensor], kind: int) -> torch.Tensor:
        """[B, 3, D]: instruction, image (the latest frame of the batch's history), start token."""
        b = batch["text"].shape[0]
        v = len(self.cfg.image_keys)
        key = "image_features" if "image_features" in batch else "images"
        feats = encode_images(self.encoder, {key: batch[key][:, -1:]}, None).view(b, v * self.cfg.vision_dim)
        return torch.stack(
            [self.text_proj(batch["text"]), self.image_proj(feats), self.start[kind].expand(b, -1)], dim=1
        )

    def _run(self, tokens: torch.Tensor) -> torch.Tensor:
        """[B, L, D] -> causal trunk outputs [B, L, D]."""
        n = tokens.shape[1]
        mask = torch.triu(torch.full((n, n), float("-inf"), device=tokens.device), diagonal=1)
        return self.norm(self.trunk(tokens + self.pos[:n], mask=mask, is_causal=True))

    def _embed_actions(self, bins: torch.Tensor) -> torch.Tensor:
        """bin indices [B, k] of dimensions 0..k-1 -> [B, k, D]."""
        offsets = torch.arange(bins.shape[1], device=bins.device) * self.cfg.bins
        return self.action_embed(bins + offsets)

    def _action_logits(self, out: torch.Tensor, dims: slice) -> torch.Tensor:
        """Trunk outputs [B, k, D] for action dimensions ``dims`` -> logits [B, k, bins], invalid bins -inf."""
        logits = self.action_head(out)
        return logits.masked_fill(~self.bin_valid[dims], float("-inf"))

    # -- training ------------------------------------------------------------------------------------------
    def compute_loss(self, batch: dict[str, torch.Tensor], generator: torch.Generator | None) -> tuple:
        if self.cfg.stage == "latent":
            codes = batch["codes"]  # [B, 4]
            tokens = torch.cat([self._prefix(batch, 0), self.latent_embed(codes[:, :-1])], dim=1)
            logits = self.latent_head(self._run(tokens)[:, 2:])  # [B, 4, 8]
            loss = F.cross_entropy(logits.flatten(0, 1), codes.flatten())
            acc = (logits.argmax(-1) == codes).float().mean()
            return loss, {"token_accuracy": float(acc)}
        if self.bins is None:
            raise HarnessError("lapa: the action stage needs action bins (train with action demonstrations)")
        targets = self.encode_actions(batch["actions"][:, 0])  # [B, Da]
        tokens = torch.cat([self._prefix(batch, 1), self._embed_actions(targets[:, :-1])], dim=1)
        logits = self._action_logits(self._run(tokens)[:, 2:], slice(0, self.action_dim))
        loss = F.cross_entropy(logits.flatten(0, 1), targets.flatten())
        acc = (logits.argmax(-1) == targets).float().mean()
        return loss, {"token_accuracy": float(acc)}

    def encode_actions(self, actions: torch.Tensor) -> torch.Tensor:
        """Normalised actions [B, Da] -> bin indices int64 [B, Da]."""
        assert self.bins is not None
        return torch.from_numpy(self.bins.encode(actions.detach().cpu().numpy())).to(actions.device)

    # -- inference -----------------------------------------------------------------------------------------
    @torch.no_grad()
    def predict_codes(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """Greedy latent codes [B, 4] (LAPA's generation: greedy decoding)."""
        tokens = self._prefix(batch, 0)
        codes: list[torch.Tensor] = []
        for _ in range(self.num_codes):
            nxt = self.latent_head(self._run(tokens)[:, -1]).argmax(-1)
            codes.append(nxt)
            tokens = torch.cat([tokens, self.latent_embed(nxt)[:, None]], dim=1)
        return torch.stack(codes, dim=1)

    @torch.no_grad()
    def predict(
        self, batch: dict[str, torch.Tensor], n: int, generator: torch.Generator | None, greedy: bool = False
    ) -> torch.Tensor:
        """Normalised actions [n, 1, Da] for a batch of one observation: ``greedy`` (argmax bins), else n samples
        of the bin distributions at ``temperature`` (declared sampling)."""
        if self.cfg.stage != "action" or self.bins is None:
            raise HarnessError("lapa: this checkpoint is a latent-stage model; finetune it with stage=action first")
        batch = {k: v.expand(n, *v.shape[1:]) for k, v in batch.items()}
        tokens = self._prefix(batch, 1)
        chosen: list[torch.Tensor] = []
        for dim in range(self.action_dim):
            logits = self._action_logits(self._run(tokens)[:, -1:], slice(dim, dim + 1))[:, 0]
            if greedy:
                nxt = logits.argmax(-1)
            else:
                probs = torch.softmax(logits / self.cfg.temperature, -1).cpu()
                nxt = torch.multinomial(probs, 1, generator=generator)[:, 0].to(logits.device)
            chosen.append(nxt)
            emb = self.action_embed(nxt + dim * self.cfg.bins)[:, None]
            tokens = torch.cat([tokens, emb], dim=1)
        idx = torch.stack(chosen, dim=1)  # [n, Da]
        values = self.bin_centres[torch.arange(self.action_dim, device=idx.device), idx]
        return values[:, None].float()
