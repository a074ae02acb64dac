"""Frozen image encoders for world models: our frame autoencoder (a checkpoint folder) or a pretrained
ViT from a local Hugging Face folder (``hf:/path``, e.g. DINOv2; V-JEPA-style image backbones that
``transformers.AutoModel`` loads work the same way). Nothing is downloaded.

Both expose ``encode(images [B, 3, S, S] in [0, 1]) -> tokens [B, N, D]``, ``cfg.image_size``, ``grid``
(N = grid^2) and ``decode`` (the pretrained ViT has no decoder and says so).
"""

from __future__ import annotations

from types import SimpleNamespace

import torch
from torch import nn

from harness.errors import HarnessError
from harness.nn.vision import load_hf_backbone


class HFTokenEncoder(nn.Module):
    """Patch tokens of a frozen local ViT (CLS and register tokens dropped)."""

    MEAN = (0.485, 0.456, 0.406)
    STD = (0.229, 0.224, 0.225)

    def __init__(self, path: str):
        super().__init__()
        self.backbone = load_hf_backbone(path)
        conf = self.backbone.config
        size, patch = int(conf.image_size), int(conf.patch_size)
        self.cfg = SimpleNamespace(image_size=size, dim=int(conf.hidden_size))
        self.grid = size // patch
        self.register_buffer("mean", torch.tensor(self.MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(self.STD).view(1, 3, 1, 1), persistent=False)

    @torch.no_grad()
    def encode(self, images: torch.Tensor) -> torch.Tensor:
        hidden = self.backbone(pixel_values=(images - self.mean) / self.std).last_hidden_state
        return hidden[:, -self.grid * self.grid :]

    def decode(self, tokens: torch.Tensor) -> torch.Tensor:
        raise HarnessError("this world model's encoder is a pretrained ViT without an image decoder")


def load_token_encoder(spec: str):  # type: ignore[no-untyped-def]
    """``hf:/path`` -> HFTokenEncoder; anything else is a frame_ae checkpoint folder (a relative one is taken
    from the working directory, else from the project root, so a shipped world model finds its shipped encoder)."""
    if spec.startswith("hf:"):
        return HFTokenEncoder(spec[3:])
    from harness.nn.frozen import resolve_folder
    from world_models.frame_ae import load_frame_autoencoder

    return load_frame_autoencoder(resolve_folder(spec))
