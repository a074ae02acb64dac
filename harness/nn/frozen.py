"""Frozen image encoders: a fixed feature extractor plus a trainable projection.

``FrozenEncoder.features`` (float images [B, 3, H, W] in [0, 1] -> [B, F], no gradient) is the ONE function
that computes the frozen features: the per-dataset feature cache (harness.data.feature_cache) calls it once
per frame, and a policy calls it on live observations, so cached training inputs and evaluation inputs
cannot drift apart. ``project`` ([B, F] -> [B, out_dim]) is trained; ``forward = project(features(x))``.

Kinds (the ``vision`` field of a chunk policy):
    ``hf:/path/to/folder``  a Hugging Face vision backbone (DINOv2 or similar) from a LOCAL folder; its CLS token.
    ``ckpt:/path/to/dir``   a checkpoint folder of a model trained here that has ``encode(images)``
                            (``world_model/frame_ae``, trained on every suite's frames): its output, flattened.
Nothing is downloaded; a missing or unreadable source is one HarnessError line.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import torch
from torch import nn

from harness.errors import HarnessError


def load_hf_backbone(path: str) -> nn.Module:
    """A frozen ``transformers.AutoModel`` from a local folder (config.json + model.safetensors), eval mode.

    Nothing is downloaded; a missing or unreadable folder is one HarnessError line.
    """
    folder = Path(path).expanduser()
    if not (folder / "config.json").is_file():
        raise HarnessError(
            f"pretrained vision weights: {folder} has no config.json (expected a local Hugging Face model folder; "
            "nothing is downloaded)"
        )
    try:
        from transformers import AutoModel

        backbone = AutoModel.from_pretrained(str(folder), local_files_only=True, use_safetensors=True)
    except Exception as exc:  # noqa: BLE001 - any load failure is a bad user folder
        msg = f"cannot load pretrained vision weights from {folder}: {type(exc).__name__}: {exc}"
        raise HarnessError(msg) from exc
    return backbone.requires_grad_(False).eval()


def weights_fingerprint(module: nn.Module) -> str:
    """sha256 over the names, dtypes, shapes and bytes of ``module``'s state dict (its weights' identity)."""
    digest = hashlib.sha256(type(module).__name__.encode())
    for name, tensor in sorted(module.state_dict().items()):
        t = tensor.detach().to("cpu").contiguous().reshape(-1)
        digest.update(f"{name}|{t.dtype}|{tuple(tensor.shape)}".encode())
        digest.update(t.view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


class FrozenEncoder(nn.Module):
    """Base: subclasses implement ``frozen`` (the fixed extractor module) and ``_extract``.

    Args:
        feature_dim: F, the size of the frozen features.
        out_dim: projected feature size.
    """

    def __init__(self, feature_dim: int, out_dim: int):
        super().__init__()
        self.feature_dim, self.out_dim = feature_dim, out_dim
        self.proj = nn.Sequential(nn.Linear(feature_dim, out_dim), nn.LayerNorm(out_dim))

    @property
    def frozen(self) -> nn.Module:
        raise NotImplementedError

    def _extract(self, images: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    @torch.no_grad()
    def features(self, images: torch.Tensor) -> torch.Tensor:
        """Frozen features: [B, 3, H, W] in [0, 1] -> float32 [B, F] (no gradient, extractor in eval mode)."""
        return self._extract(images).float().flatten(1)

    def project(self, feats: torch.Tensor) -> torch.Tensor:
        """[B, F] -> [B, out_dim] (trainable)."""
        return self.proj(feats)

    def forward(self, images: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        """[B, 3, H, W] -> [B, out_dim]; ``cond`` is ignored (a frozen extractor is not FiLM-conditioned)."""
        return self.project(self.features(images))

    def train(self, mode: bool = True) -> "FrozenEncoder":
        super().train(mode)
        self.frozen.eval()  # frozen: keep dropout / norms in eval mode
        return self

    def fingerprint(self) -> str:
        """Identity of the frozen weights (part of the feature-cache key)."""
        return weights_fingerprint(self.frozen)


class PretrainedViTEncoder(FrozenEncoder):
    """``hf:/path``: a frozen ViT from a local Hugging Face folder (e.g. facebook/dinov2-small); features = the
    CLS token of ``last_hidden_state`` [B, hidden] after ImageNet normalisation."""

    MEAN = (0.485, 0.456, 0.406)
    STD = (0.229, 0.224, 0.225)

    def __init__(self, path: str, out_dim: int = 128):
        backbone = load_hf_backbone(path)
        super().__init__(int(backbone.config.hidden_size), out_dim)
        self.backbone = backbone
        self.register_buffer("mean", torch.tensor(self.MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(self.STD).view(1, 3, 1, 1), persistent=False)

    @property
    def frozen(self) -> nn.Module:
        return self.backbone

    def _extract(self, images: torch.Tensor) -> torch.Tensor:
        out = self.backbone(pixel_values=(images - self.mean) / self.std)
        return out.last_hidden_state[:, 0]


def load_trained_encoder(folder: str, image_size: int) -> nn.Module:
    """The model of a checkpoint folder written here (any trainable with ``encode``), frozen, eval mode."""
    from harness.nn.checkpoint import load_checkpoint, load_state_into
    from harness.policy.chunk_policy import config_from_dict
    from harness.registry import TRAINABLES

    ckpt = load_checkpoint(folder)
    key = f"{ckpt.meta.get('component')}/{ckpt.meta.get('name')}"
    if key not in TRAINABLES:
        raise HarnessError(f"vision ckpt:{folder}: {key!r} is not a registered trainable")
    spec = TRAINABLES.get(key)()
    cfg = config_from_dict(spec.config_cls, ckpt.meta["config"])
    trained_size = getattr(cfg, "image_size", image_size)
    if trained_size != image_size:
        raise HarnessError(f"vision ckpt:{folder} encodes {trained_size}px frames; set image_size={trained_size}")
    model = spec.build_model(cfg, ckpt.meta.get("data", {}))
    load_state_into(model, ckpt.state_dict, ckpt.folder)
    if not callable(getattr(model, "encode", None)):
        raise HarnessError(f"vision ckpt:{folder}: a {key} model has no encode(images) method")
    return model.requires_grad_(False).eval()


class TrainedEncoder(FrozenEncoder):
    """``ckpt:/dir``: the ``encode`` of a model trained here (e.g. the frame autoencoder), output flattened."""

    def __init__(self, folder: str, out_dim: int, image_size: int):
        model = load_trained_encoder(folder, image_size)
        with torch.no_grad():
            dim = int(model.encode(torch.zeros(1, 3, image_size, image_size)).flatten(1).shape[1])
        super().__init__(dim, out_dim)
        self.model = model

    @property
    def frozen(self) -> nn.Module:
        return self.model

    def _extract(self, images: torch.Tensor) -> torch.Tensor:
        return self.model.encode(images)


def resolve_folder(folder: str) -> str:
    """A relative ``ckpt:`` folder is taken from the working directory, else from the project root (so a shipped
    checkpoint naming ``policies/checkpoints/...`` loads from anywhere)."""
    from harness.engine.manifest import PROJECT_ROOT

    path = Path(folder)
    if path.is_absolute() or path.exists() or not (PROJECT_ROOT / path).exists():
        return folder
    return str(PROJECT_ROOT / path)


def build_frozen_encoder(kind: str, out_dim: int, image_size: int) -> FrozenEncoder:
    """``hf:/folder`` or ``ckpt:/folder`` -> a FrozenEncoder (one HarnessError line when unavailable)."""
    if kind.startswith("hf:"):
        return PretrainedViTEncoder(kind[3:], out_dim)
    if kind.startswith("ckpt:"):
        return TrainedEncoder(resolve_folder(kind[5:]), out_dim, image_size)
    raise HarnessError(f"unknown frozen vision encoder {kind!r}; use 'hf:/path/to/folder' or 'ckpt:/path/to/dir'")


def is_frozen_kind(kind: str) -> bool:
    return kind.startswith(("hf:", "ckpt:"))
