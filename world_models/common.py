"""Pieces LAC-WM and EAC-WM share: base config fields, data building, stage initialisation, the runtime."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, ClassVar

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from harness.data.features import resize_image
from harness.data.normalize import meanstd_normalizer
from harness.errors import HarnessError
from harness.nn.checkpoint import load_checkpoint, load_state_into
from harness.policy.chunk_policy import config_from_dict
from harness.nn.lora import merge_lora
from harness.nn.training import TrainData
from world_models.frame_ae import FrameAutoencoder, to_float
from world_models.token_encoders import load_token_encoder
from world_models.segments import build_segments


@dataclass(frozen=True)
class WorldModelConfig:
    """Fields every latent world model shares (model configs extend it)."""

    encoder: str = ""  # frozen image encoder: a frame_ae checkpoint folder, or hf:/local/vit/folder
    segment: int = 5  # env steps per world-model step (actions chunked into 5-step segments)
    latent_tokens: int = 2  # M: tokens of a latent action
    fdm_depth: int = 4
    heads: int = 4
    history: int = 2  # frames of temporal attention in the FDM (A.5: short horizon)
    stage: str = "pretrain"
    init: str = ""  # checkpoint the stage starts from (every stage but pretrain)
    lora_rank: int = 2
    rename: str = ""  # embodiment name given to this run's data (adaptation to a held-out task / robot)
    augment_draw: str = "clip"  # cross-augmentation: one shift / brightness per demo ("frame": one per frame, ablation)
    recon_normalise: bool = True  # divide L_recon by the training data's copy-last-frame error (False: plain MSE)

    STAGES: ClassVar[tuple[str, ...]] = ()

    def validate(self) -> None:
        if not self.encoder:
            raise HarnessError("world models need --set encoder=DIR (a frame_ae checkpoint or hf:/path)")
        if self.stage not in self.STAGES:
            raise HarnessError(f"stage must be one of {', '.join(self.STAGES)}, got {self.stage!r}")
        if self.stage != "pretrain" and not self.init:
            raise HarnessError(f"stage {self.stage} starts from a checkpoint: --set init=DIR")
        if self.augment_draw not in ("clip", "frame"):
            raise HarnessError(f"augment_draw must be clip or frame, got {self.augment_draw!r}")
        if self.segment < 1 or self.history < 1:
            raise HarnessError("segment and history must be >= 1")


def init_info(cfg: WorldModelConfig, name: str) -> dict[str, Any]:
    """The data section of the stage's starting checkpoint (empty for pretraining)."""
    if cfg.stage == "pretrain":
        return {}
    return load_checkpoint(cfg.init, component="world_model", name=name).meta.get("data", {})


def world_model_data(cfg: WorldModelConfig, paths: list[Path], seed: int, val_fraction: float, name: str) -> TrainData:
    """Segments embedded by the frozen encoder; adaptation stages keep the embodiment order and motion
    scaling of their starting checkpoint and compute action statistics for the new data (training demos)."""
    cfg.validate()
    encoder = load_token_encoder(cfg.encoder)
    prior = init_info(cfg, name)
    train, val, info = build_segments(
        paths,
        encoder,
        cfg.segment,
        seed,
        val_fraction,
        embodiments=prior.get("embodiments"),
        motion_std=prior.get("motion_std"),
        rename=cfg.rename,
        augment_draw=cfg.augment_draw,
    )
    # adaptation keeps earlier embodiments' statistics next to the new ones (prior is empty for pretraining)
    info["action_stats"] = {**prior.get("action_stats", {}), **info["action_stats"]}
    info.update({"tokens": int(train.emb["clean"].shape[1]), "dim": int(train.emb["clean"].shape[2])})
    info["grid"] = encoder.grid
    # L_recon is divided by this (the copy-last-frame error of the training segments in the version the FDM
    # predicts, kept from the starting checkpoint when adapting): the loss reads 1.0 for "nothing moves"
    # whatever the encoder's scale, and the paper's lambda_recon = lambda_motion = 1 balance holds for a
    # small-scale embedding too
    target = "b" if getattr(cfg, "cross_augment", False) else "clean"
    scale = (prior.get("recon_scale") or copy_last_frame_mse(train, target)) if cfg.recon_normalise else 1.0
    info["recon_scale"] = float(scale)
    info["robot_of"] = {**prior.get("robot_of", {}), **info["robot_of"]}
    # the embodiment a planner drives: the adaptation target; a pretraining checkpoint of several robots has
    # none (the runtime then takes the suite's robot, or refuses) - never silently the last one
    info["target_embodiment"] = cfg.rename or (info["embodiments"][0] if len(info["embodiments"]) == 1 else None)

    def to_batch(raw: dict[str, Any], gen: torch.Generator, device: torch.device, is_train: bool) -> dict:
        return {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in raw.items()}

    return TrainData(train, val, None, info, to_batch)


def copy_last_frame_mse(segments: Any, version: str = "clean") -> float:
    """Mean squared difference between the embeddings (``version``: clean, a or b) of frames t + S and t over
    the segments."""
    emb, rows = segments.emb[version], torch.as_tensor(segments.rows)
    total, count = 0.0, 0
    for i in range(0, len(rows), 4096):
        chunk = rows[i : i + 4096]
        diff = emb[chunk[:, 2]].float() - emb[chunk[:, 1]].float()
        total, count = total + float(diff.pow(2).sum()), count + diff.numel()
    return max(total / max(count, 1), 1e-12)


def recon_loss(pred: torch.Tensor, target: torch.Tensor, info: dict[str, Any]) -> torch.Tensor:
    """MSE of a predicted next embedding relative to the copy-last-frame error of the training data
    (``info["recon_scale"]``; 1.0 for checkpoints made before it was recorded)."""
    return F.mse_loss(pred, target) / float(info.get("recon_scale", 1.0))


def start_from(model: nn.Module, cfg: WorldModelConfig, build: Callable[[Any, dict], nn.Module], name: str) -> None:
    """Load the stage's starting checkpoint into ``model`` (its adapters merged into plain weights)."""
    ckpt = load_checkpoint(cfg.init, component="world_model", name=name)
    prior = build(config_from_dict(type(cfg), ckpt.meta["config"]), ckpt.meta.get("data", {}))
    load_state_into(prior, ckpt.state_dict, ckpt.folder)
    merge_lora(prior)
    missing, unexpected = model.load_state_dict(prior.state_dict(), strict=False)
    if unexpected:
        raise HarnessError(f"checkpoint {cfg.init} has weights this model lacks: {unexpected[:3]}")


def freeze_all_but(model: nn.Module, keep: Callable[[str], bool]) -> None:
    for param_name, param in model.named_parameters():
        param.requires_grad_(keep(param_name))


class LatentWorldModel:
    """A trained FDM + action module as the planners' ``WorldModel``: encode / rollout / distance / decode.

    Embeddings are float32 tensors [B, N, D] (token grids of the frozen frame encoder). Actions [B, T, Da]
    are normalised with the embodiment's raw ``action_mean`` / ``action_std`` [Da] by harness.data.normalize
    (dims constant in training get unit scale, so tiny policy noise on them stays tiny).
    """

    def __init__(
        self,
        encoder: FrameAutoencoder,
        fdm: nn.Module,
        action_module: nn.Module,
        action_mean: np.ndarray,
        action_std: np.ndarray,
        segment: int,
        history: int,
    ):
        self.encoder, self.fdm, self.action_module = encoder.eval(), fdm.eval(), action_module.eval()
        norm = meanstd_normalizer(action_mean, action_std)
        self.center = torch.as_tensor(norm.center, dtype=torch.float32)
        self.scale = torch.as_tensor(norm.scale, dtype=torch.float32)
        self.segment, self.history = segment, history

    @torch.no_grad()
    def encode(self, images: np.ndarray) -> torch.Tensor:
        """uint8 [B, H, W, 3] -> [B, N, D]."""
        size = self.encoder.cfg.image_size
        frames = np.stack([resize_image(np.asarray(f), size) for f in images])
        return self.encoder.encode(to_float(torch.from_numpy(frames)))

    @torch.no_grad()
    def rollout(self, z: torch.Tensor, actions: np.ndarray, history: torch.Tensor | None = None) -> torch.Tensor:
        """z [1 or B, N, D], actions [B, T, Da] (T = k * segment) -> predictions [B, k, N, D]."""
        acts = torch.as_tensor(np.asarray(actions), dtype=torch.float32)
        b, t, _ = acts.shape
        if t % self.segment:
            raise HarnessError(f"rollout needs a multiple of {self.segment} actions, got {t}")
        acts = (acts - self.center) / self.scale
        hist = z.expand(b, -1, -1)[:, None]
        if history is not None:
            hist = torch.cat([history.expand(b, -1, -1, -1), hist], dim=1)[:, -self.history :]
        preds = []
        for i in range(t // self.segment):
            latent = self.action_module(acts[:, i * self.segment : (i + 1) * self.segment])
            nxt = self.fdm(hist, latent)
            preds.append(nxt)
            hist = torch.cat([hist, nxt[:, None]], dim=1)[:, -self.history :]
        return torch.stack(preds, dim=1)

    def distance(self, a: torch.Tensor, b: torch.Tensor) -> np.ndarray:
        """[B, N, D] vs [1 or B, N, D] -> L2 distance per row, float [B]."""
        return torch.linalg.vector_norm((a - b).flatten(1), dim=1).cpu().numpy()

    @torch.no_grad()
    def decode(self, z: torch.Tensor) -> np.ndarray:
        """[B, N, D] -> uint8 images [B, S, S, 3] (the frame autoencoder's decoder)."""
        images = self.encoder.decode(z).clamp(0, 1).permute(0, 2, 3, 1)
        return (images * 255).round().to(torch.uint8).numpy()


def load_world_model(
    checkpoint: str | None, name: str, config_cls: type, build: Callable[[Any, dict], nn.Module]
) -> tuple[nn.Module, dict[str, Any], Any]:
    """(model in eval mode, data info, config) from a world-model checkpoint folder."""
    if checkpoint is None:
        raise HarnessError(f"world model {name!r} needs --wm-checkpoint DIR")
    ckpt = load_checkpoint(checkpoint, component="world_model", name=name)
    cfg = config_from_dict(config_cls, ckpt.meta["config"])
    info = ckpt.meta.get("data", {})
    model = build(cfg, info)
    load_state_into(model, ckpt.state_dict, ckpt.folder)
    return model.eval(), info, cfg


def target_embodiment(info: dict[str, Any], embodiment: str | None) -> str:
    """The embodiment label whose action module and statistics a planner uses: the checkpoint's adaptation
    target, else the one trained for ``embodiment`` (the suite's robot). HarnessError when ambiguous."""
    target = info.get("target_embodiment")
    labels = list(info.get("embodiments", []))
    if target:
        return str(target)
    if embodiment in labels:
        return str(embodiment)
    raise HarnessError(
        f"world-model checkpoint has action modules for {', '.join(labels)} and no adaptation target; "
        f"the suite's robot is {embodiment!r}: use a checkpoint adapted to it (--set rename=... stages)"
    )


def runtime_for(
    model_fdm: nn.Module, action_module: nn.Module, info: dict[str, Any], cfg: Any, label: str
) -> LatentWorldModel:
    """The planner-facing world model for embodiment ``label`` (declares its robot as ``embodiment``)."""
    stats = info["action_stats"][label]
    encoder = load_token_encoder(cfg.encoder)
    runtime = LatentWorldModel(
        encoder, model_fdm, action_module, np.asarray(stats["mean"]), np.asarray(stats["std"]), cfg.segment, cfg.history
    )
    runtime.embodiment = info.get("robot_of", {}).get(label)  # None for checkpoints made before robots were recorded
    return runtime


def register_trainable(name: str, config_cls: type, build_for_training: Callable[[Any, dict], nn.Module]) -> None:
    """Register ``world_model/<name>`` with the shared segment data builder."""
    from harness.nn.training import Trainable
    from harness.registry import TRAINABLES

    def make_data(cfg: Any, paths: list[Path], seed: int, val_fraction: float) -> TrainData:
        return world_model_data(cfg, paths, seed, val_fraction, name)

    TRAINABLES.register(f"world_model/{name}")(
        lambda: Trainable("world_model", name, config_cls, make_data, build_for_training)
    )


def load_frozen(folder: str | Path, name: str, config_cls: type, build: Callable[[Any], nn.Module]) -> nn.Module:
    """A trained ``world_model/<name>`` (``build(config)`` -> model) from its checkpoint folder, in eval mode
    with frozen weights (the latent action models that label clips)."""
    from harness.nn.checkpoint import load_checkpoint, load_state_into
    from harness.policy.chunk_policy import config_from_dict

    ckpt = load_checkpoint(str(folder), component="world_model", name=name)
    model = build(config_from_dict(config_cls, ckpt.meta["config"]))
    load_state_into(model, ckpt.state_dict, ckpt.folder)
    return model.eval().requires_grad_(False)
