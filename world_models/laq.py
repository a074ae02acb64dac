"""LAPA's latent action quantizer (LAQ), at a scale this machine trains (trainable ``world_model/laq``).

A frame pair (x_t, x_{t+H}) -> shared patch embedding -> spatial transformer (per frame) -> temporal
transformer (per patch, over the 2 frames, not causal: LAPA issue #20) -> each frame's tokens projected to
``quant_dim`` and reduced to a 2 x 2 grid by LAPA's 2-conv head -> the **difference** last - first
[B * 4, quant_dim] -> NSVQ (codebook 8, 4 codes per transition; noise substitution in training, hard codes
when labelling; no VQ loss) -> 4 action tokens -> a decoder whose queries are the **stop-gradient patch
embeddings of x_t**, cross-attending to the action tokens -> pixels of x_{t+H}; loss: pixel MSE only.

Shapes (defaults): images [B, 3, 64, 64] in [0, 1] (no mean/std normalisation, as LAPA), patch 8 -> N = 64
tokens of D = 128; codes [B, 4] in {0..7}.

Departures from the released code (``LAPA:laq``), chosen deliberately:
- learned absolute position embeddings instead of PEG convolutions / continuous position bias, plain
  softmax attention instead of cosine attention, 64 px / patch 8 instead of 256 / 32 (same 8 x 8 grid);
- one action token per code (the released ``NSVQ.decode`` interleaves channels of all 4 codes);
- replaced dead codes get visible jitter so they can split a crowded code (``harness.nn.quantizers``);
- the replacement schedule counts this process's training steps: a ``--resume`` after step 5000 is unaffected,
  one before it restarts the early schedule.
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
from harness.nn.attention import Block
from harness.nn.quantizers import NSVQ, lapa_replacement_due, perplexity
from harness.nn.training import Trainable, TrainData
from harness.nn.vision import images_to_float
from harness.registry import TRAINABLES

GRID = 8  # tokens per side the 2-conv code head expects (LAPA: 256 / 32)
CODE_GRID = 2  # that head's output side: 2 x 2 = 4 codes


@dataclass(frozen=True)
class LAQConfig:
    image_size: int = 64
    patch_size: int = 8
    dim: int = 128
    heads: int = 4
    spatial_depth: int = 2
    temporal_depth: int = 2
    decoder_depth: int = 2
    quant_dim: int = 32
    codebook_size: int = 8
    frame_gap: int = 6  # H: steps between x_t and x_{t+H} (LAPA: about 0.6 s of robot time)
    discard_threshold: float = 0.1  # LAPA: a code is dead below 0.1 x batch size uses since the last replacement
    replace_jitter: float = 1e-2  # x the codebook's RMS (LAPA: 1e-12, which duplicates codes exactly)
    image_key: str = "agentview_rgb"
    # LAPA's patch embedding starts with a LayerNorm over each patch's raw pixels, which removes the patch's
    # brightness (a flat patch embeds to the bias alone), so the decoder's stop-gradient queries cannot say what
    # x_t looks like; False embeds the raw pixels (Linear, then LayerNorm over the embedding)
    pixel_layernorm: bool = True
    # the decoder predicts x_{t+H} - x_t, added to x_t, from a zero-initialised output layer: untrained, it is the
    # copy-x_t baseline, and the loss left is the motion the codes must carry (LAPA: pixels of x_{t+H} directly)
    residual_decoder: bool = False
    # where a dead code restarts: "codes" (LAPA: a jittered copy of a used code) or "batch" (a random latent of
    # the current batch, jittered: codes go where the data is)
    replace_from: str = "codes"

    @property
    def num_codes(self) -> int:
        return CODE_GRID * CODE_GRID

    def validate(self) -> None:
        if self.image_size % self.patch_size or self.image_size // self.patch_size != GRID:
            raise HarnessError(f"laq: image_size / patch_size must be {GRID} (LAPA's code head), got "
                               f"{self.image_size} / {self.patch_size}")  # fmt: skip
        if self.dim % self.heads:
            raise HarnessError(f"laq: dim {self.dim} is not divisible by heads {self.heads}")
        if self.frame_gap < 1:
            raise HarnessError("laq: frame_gap must be >= 1")
        if self.codebook_size < 2:
            raise HarnessError("laq: codebook_size must be >= 2")
        if self.replace_from not in ("codes", "batch"):
            raise HarnessError(f"laq: replace_from must be codes or batch, got {self.replace_from!r}")


class LatentActionQuantizer(nn.Module):
    def __init__(self, cfg: LAQConfig, info: dict[str, Any] | None = None):
        super().__init__()
        cfg.validate()
        self.cfg = cfg
        p, d, n = cfg.patch_size, cfg.dim, GRID * GRID
        pixel_norm = [nn.LayerNorm(3 * p * p)] if cfg.pixel_layernorm else []
        self.patch_emb = nn.Sequential(*pixel_norm, nn.Linear(3 * p * p, d), nn.LayerNorm(d))
        self.spatial_pos = nn.Parameter(0.02 * torch.randn(1, n, d))
        self.temporal_pos = nn.Parameter(0.02 * torch.randn(1, 2, d))
        self.spatial = nn.ModuleList(Block(d, cfg.heads) for _ in range(cfg.spatial_depth))
        self.temporal = nn.ModuleList(Block(d, cfg.heads) for _ in range(cfg.temporal_depth))
        self.enc_norm = nn.LayerNorm(d)
        q = cfg.quant_dim
        self.project_in = nn.Linear(d, q)
        self.code_head = nn.Sequential(nn.Conv2d(q, q, 3, 2, 1), nn.ReLU(), nn.Conv2d(q, q, 3, 1, 0))
        self.quantizer = NSVQ(cfg.codebook_size, q, cfg.discard_threshold, cfg.replace_jitter)
        self.project_out = nn.Linear(q, d)
        self.decoder = nn.ModuleList(Block(d, cfg.heads, cross=True) for _ in range(cfg.decoder_depth))
        self.dec_norm = nn.LayerNorm(d)
        self.to_pixels = nn.Linear(d, 3 * p * p)
        if cfg.residual_decoder:
            nn.init.zeros_(self.to_pixels.weight)
            nn.init.zeros_(self.to_pixels.bias)
        self.train_steps = 0

    # -- patches -------------------------------------------------------------------------------------------
    def patchify(self, images: torch.Tensor) -> torch.Tensor:
        """[B, 3, S, S] -> [B, N, 3 * p * p]."""
        b, p = images.shape[0], self.cfg.patch_size
        x = images.reshape(b, 3, GRID, p, GRID, p).permute(0, 2, 4, 1, 3, 5)
        return x.reshape(b, GRID * GRID, 3 * p * p)

    def unpatchify(self, patches: torch.Tensor) -> torch.Tensor:
        """[B, N, 3 * p * p] -> [B, 3, S, S]."""
        b, p = patches.shape[0], self.cfg.patch_size
        x = patches.reshape(b, GRID, GRID, 3, p, p).permute(0, 3, 1, 4, 2, 5)
        return x.reshape(b, 3, GRID * p, GRID * p)

    # -- encoder -------------------------------------------------------------------------------------------
    def encode(self, first: torch.Tensor, last: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Two frames [B, 3, S, S] -> their encoder tokens, each [B, N, D]."""
        b, n, d = first.shape[0], GRID * GRID, self.cfg.dim
        x = self.patch_emb(self.patchify(torch.cat([first, last]))) + self.spatial_pos  # [2B, N, D]
        for block in self.spatial:
            x = block(x)
        x = x.view(2, b, n, d).permute(1, 2, 0, 3).reshape(b * n, 2, d) + self.temporal_pos
        for block in self.temporal:
            x = block(x)
        x = self.enc_norm(x).view(b, n, 2, d)
        return x[:, :, 0], x[:, :, 1]

    def _code_vectors(self, tokens: torch.Tensor) -> torch.Tensor:
        """[B, N, D] -> [B, 4, quant_dim] (LAPA's projection + 2-conv head)."""
        b, q = tokens.shape[0], self.cfg.quant_dim
        grid = self.project_in(tokens).transpose(1, 2).reshape(b, q, GRID, GRID)
        return self.code_head(grid).flatten(2).transpose(1, 2)

    def latent_delta(self, first: torch.Tensor, last: torch.Tensor) -> torch.Tensor:
        """The continuous latent action: [B, 4, quant_dim] = code vectors of x_{t+H} minus those of x_t."""
        f, l_ = self.encode(first, last)
        return self._code_vectors(l_) - self._code_vectors(f)

    # -- decoder -------------------------------------------------------------------------------------------
    def decode(self, first: torch.Tensor, action_tokens: torch.Tensor) -> torch.Tensor:
        """x_t [B, 3, S, S] + action tokens [B, 4, D] -> predicted x_{t+H} [B, 3, S, S]."""
        x = self.patch_emb(self.patchify(first)).detach() + self.spatial_pos  # stop-gradient queries
        for block in self.decoder:
            x = block(x, context=action_tokens)
        pixels = self.unpatchify(self.to_pixels(self.dec_norm(x)))
        return first + pixels if self.cfg.residual_decoder else pixels

    def decode_codes(self, first: torch.Tensor, codes: torch.Tensor) -> torch.Tensor:
        """x_t [B, 3, S, S] + codes [B, 4] -> predicted x_{t+H} [B, 3, S, S]."""
        return self.decode(first, self.project_out(self.quantizer.codebook[codes]))

    def reconstruct(
        self, first: torch.Tensor, last: torch.Tensor, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """-> (predicted x_{t+H} [B, 3, S, S], codes [B, 4]); noise substitution in training mode."""
        delta = self.latent_delta(first, last)
        b, k, q = delta.shape
        quantized, codes = self.quantizer(delta.reshape(b * k, q), generator)
        return self.decode(first, self.project_out(quantized.view(b, k, q))), codes.view(b, k)

    @torch.no_grad()
    def label(self, first: torch.Tensor, last: torch.Tensor) -> torch.Tensor:
        """Hard latent-action codes [B, 4] of frame pairs (deterministic: nearest codes, no noise)."""
        delta = self.latent_delta(first, last)
        return self.quantizer.nearest(delta.reshape(-1, self.cfg.quant_dim)).view(delta.shape[0], -1)

    def compute_loss(self, batch: dict[str, torch.Tensor], generator: torch.Generator | None) -> tuple:
        first, last = batch["first"], batch["last"]
        replaced = 0
        if self.training:
            self.train_steps += 1
            if lapa_replacement_due(self.train_steps):
                candidates = None
                if self.cfg.replace_from == "batch":
                    with torch.no_grad():
                        candidates = self.latent_delta(first, last).reshape(-1, self.cfg.quant_dim)
                replaced = self.quantizer.replace_dead(first.shape[0], generator, candidates)
        recon, codes = self.reconstruct(first, last, generator)
        loss = F.mse_loss(recon, last)
        logs = {
            "unique_codes": int(codes.unique().numel()),
            "unique_code_tuples": int(codes.unique(dim=0).shape[0]),
            "perplexity": perplexity(codes, self.cfg.codebook_size),
        }
        if replaced:
            logs["codes_replaced"] = replaced
        return loss, logs


# -- data ----------------------------------------------------------------------------------------------------
def load_clip_frames(
    paths: list[Path], key: str, size: int, split: DemoSplit | None = None
) -> tuple[list[np.ndarray], list[bool]]:
    """Frames of ``key`` of every demo_* and clip_* group -> (per group uint8 [T, size, size, 3], is_val)."""
    groups, is_val = [], []
    for path in paths:
        meta = open_demo_file(Path(path), require_actions=False, obs_keys=(key,))
        for name in meta.names:
            demo = read_demo(meta.path, name, (key,))
            groups.append(np.stack([resize_image(f, size) for f in demo.obs[key]]))
            is_val.append(split is not None and split.is_val(path, name))
    if not groups:
        raise HarnessError(f"no {key} frames in {', '.join(map(str, paths))}")
    return groups, is_val


def frame_pairs(lengths: list[int], gap: int) -> np.ndarray:
    """(group, t) of every pair (x_t, x_{t+gap}) inside a group: int [M, 2] (groups shorter than gap + 1: none)."""
    rows = [(g, t) for g, n in enumerate(lengths) for t in range(max(n - gap, 0))]
    return np.asarray(rows, dtype=np.int64).reshape(-1, 2)


class FramePairs(torch.utils.data.Dataset):
    """Items {"first": uint8 [S, S, 3], "last": uint8 [S, S, 3]}."""

    def __init__(self, groups: list[np.ndarray], pairs: np.ndarray, gap: int):
        self.groups, self.pairs, self.gap = groups, pairs, gap

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        g, t = self.pairs[i]
        frames = self.groups[g]
        return {"first": torch.from_numpy(frames[t]), "last": torch.from_numpy(frames[t + self.gap])}


def laq_data(cfg: LAQConfig, paths: list[Path], seed: int, val_fraction: float) -> TrainData:
    """Frame pairs from demonstrations or action-free clips, split by group (harness.data.splits)."""
    cfg.validate()
    split = split_files(paths, val_fraction, seed, require_actions=False)
    groups, is_val = load_clip_frames(paths, cfg.image_key, cfg.image_size, split)
    pairs = frame_pairs([len(g) for g in groups], cfg.frame_gap)
    if not len(pairs):
        raise HarnessError(f"laq: no clip is longer than frame_gap {cfg.frame_gap} steps")
    val_rows = np.asarray([is_val[g] for g in pairs[:, 0]], dtype=bool)
    train = FramePairs(groups, pairs[~val_rows], cfg.frame_gap)
    val = FramePairs(groups, pairs[val_rows], cfg.frame_gap) if val_rows.any() else None

    def to_batch(raw: Any, gen: torch.Generator, device: torch.device, is_train: bool) -> dict:
        return {"first": images_to_float(raw["first"]).to(device), "last": images_to_float(raw["last"]).to(device)}

    info = {"groups": len(groups), "pairs": len(pairs), "val_pairs": int(val_rows.sum()), "image_key": cfg.image_key}
    return TrainData(train, val, None, info, to_batch)


@TRAINABLES.register("world_model/laq")
def trainable() -> Trainable:
    return Trainable("world_model", "laq", LAQConfig, laq_data, lambda cfg, info: LatentActionQuantizer(cfg))


def load_laq(folder: str | Path) -> LatentActionQuantizer:
    """A trained quantizer from its checkpoint folder, in eval mode with frozen weights."""
    from world_models.common import load_frozen

    return load_frozen(folder, "laq", LAQConfig, LatentActionQuantizer)  # type: ignore[return-value]
