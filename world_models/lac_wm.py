"""LAC-WM: latent-action conditioned world model (IDM + FDM + motion decoder + action projector).

Stages (``--set stage=...``), as in the paper's section 3.2:
    pretrain         IDM, FDM and motion decoder end to end on every embodiment's demos;
                     loss = lambda_recon * L_recon + lambda_motion * L_motion, with cross-augmented inputs
    adapt_idm_fdm    (1) LoRA rank 2 on IDM + FDM, same loss, on the held-out task / robot
    adapt_projector  (2) FDM frozen; the action projector trained from scratch: L_recon through the FDM
                     plus lambda_latent * ||projector(a) - IDM(x_t, x_t+1)||^2
    adapt_joint      (3) projector + LoRA rank 2 on the FDM, L_recon through the projector
Registered as trainable ``world_model/lac_wm`` and world model ``lac_wm`` (a checkpoint from stage 2 or 3).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import nn
from torch.nn import functional as F

from harness.errors import HarnessError
from harness.nn.lora import add_lora
from harness.registry import WORLD_MODELS
from world_models.common import (
    LatentWorldModel,
    WorldModelConfig,
    freeze_all_but,
    load_world_model,
    recon_loss,
    register_trainable,
    runtime_for,
    target_embodiment,
    start_from,
)
from world_models.dynamics import FDM, IDM, ActionMLP, MotionDecoder


@dataclass(frozen=True)
class LacWmConfig(WorldModelConfig):
    idm_depth: int = 2
    lambda_recon: float = 1.0
    lambda_motion: float = 1.0
    lambda_latent: float = 1.0
    motion_loss: bool = True  # ablation switches (paper table 3)
    cross_augment: bool = True
    single_frame_prob: float = 0.5  # train the FDM with and without temporal history

    STAGES: ClassVar[tuple[str, ...]] = ("pretrain", "adapt_idm_fdm", "adapt_projector", "adapt_joint")


class LacWM(nn.Module):
    def __init__(self, cfg: LacWmConfig, info: dict[str, Any]):
        super().__init__()
        self.cfg, self.info = cfg, info
        n, d, m = int(info["tokens"]), int(info["dim"]), cfg.latent_tokens
        self.idm = IDM(d, n, m, cfg.idm_depth, cfg.heads)
        self.fdm = FDM(d, n, cfg.fdm_depth, cfg.heads, cfg.history)
        self.motion = MotionDecoder(d, int(info["grid"]), m, 7, cfg.heads)
        self.projector = ActionMLP(cfg.segment, int(info["action_dim"]), m, d)

    def add_stage_adapters(self) -> None:
        """LoRA on IDM + FDM (stage 1) or on the FDM (stage 3); none otherwise."""
        if self.cfg.stage == "adapt_idm_fdm":
            add_lora(self.idm, self.cfg.lora_rank)
            add_lora(self.fdm, self.cfg.lora_rank)
        elif self.cfg.stage == "adapt_joint":
            add_lora(self.fdm, self.cfg.lora_rank)

    def _history(self, batch: dict[str, torch.Tensor], v: str, gen: torch.Generator | None) -> torch.Tensor:
        hist = torch.stack([batch[f"{v}_prev"], batch[f"{v}_t"]], dim=1)[:, -self.cfg.history :]
        if self.training and hist.shape[1] > 1 and self.cfg.single_frame_prob > 0:
            drop = torch.rand((), generator=gen).item() < self.cfg.single_frame_prob
            if drop:
                hist = hist[:, -1:]
        return hist

    def compute_loss(self, batch: dict[str, torch.Tensor], generator: torch.Generator | None) -> tuple:
        cfg = self.cfg
        idm_v, fdm_v = ("a", "b") if cfg.cross_augment else ("clean", "clean")
        target = batch[f"{fdm_v}_next"]
        hist = self._history(batch, fdm_v, generator)
        logs: dict[str, float] = {}
        if cfg.stage in ("pretrain", "adapt_idm_fdm"):
            z = self.idm(batch[f"{idm_v}_t"], batch[f"{idm_v}_next"])
            recon = recon_loss(self.fdm(hist, z), target, self.info)
            loss = cfg.lambda_recon * recon
            if cfg.motion_loss:
                motion = F.mse_loss(self.motion(batch[f"{idm_v}_t"], z), batch["motion"])
                loss = loss + cfg.lambda_motion * motion
                logs["motion"] = motion.item()
        else:
            z_proj = self.projector(batch["actions"])
            recon = recon_loss(self.fdm(hist, z_proj), target, self.info)
            loss = cfg.lambda_recon * recon
            if cfg.stage == "adapt_projector":
                with torch.no_grad():
                    z_idm = self.idm(batch["clean_t"], batch["clean_next"])
                latent = F.mse_loss(z_proj, z_idm)
                loss = loss + cfg.lambda_latent * latent
                logs["latent"] = latent.item()
        logs["recon"] = recon.item()
        return loss, logs


def _build(cfg: LacWmConfig, info: dict[str, Any]) -> LacWM:
    """The model laid out like a saved checkpoint of ``cfg``'s stage (adapters included)."""
    model = LacWM(cfg, info)
    model.add_stage_adapters()
    return model


def load_lac_wm(folder: str) -> tuple[LacWM, LacWmConfig]:
    """(the model of any stage in eval mode, its config) from a checkpoint folder (e.g. to read its IDM)."""
    model, _, cfg = load_world_model(folder, "lac_wm", LacWmConfig, _build)
    return model, cfg  # type: ignore[return-value]


def build_for_training(cfg: LacWmConfig, info: dict[str, Any]) -> LacWM:
    """The stage's model: starting weights loaded, adapters added, only the stage's parameters trainable."""
    model = LacWM(cfg, info)
    if cfg.stage != "pretrain":
        start_from(model, cfg, _build, "lac_wm")
    model.add_stage_adapters()
    keep = {
        "pretrain": lambda n: not n.startswith("projector."),
        "adapt_idm_fdm": lambda n: "lora_" in n,
        "adapt_projector": lambda n: n.startswith("projector."),
        "adapt_joint": lambda n: n.startswith("projector.") or "lora_" in n,
    }[cfg.stage]
    freeze_all_but(model, keep)
    return model


register_trainable("lac_wm", LacWmConfig, build_for_training)


@WORLD_MODELS.register("lac_wm")
def build_world_model(checkpoint: str | None = None, embodiment: str | None = None) -> LatentWorldModel:
    """``embodiment``: the suite's robot (the projector is trained for the adaptation target only)."""
    model, info, cfg = load_world_model(checkpoint, "lac_wm", LacWmConfig, _build)
    if cfg.stage not in ("adapt_projector", "adapt_joint"):
        raise HarnessError(
            f"LAC-WM checkpoint {checkpoint} is from stage {cfg.stage}: it has no trained action projector; "
            "use a checkpoint from stage adapt_projector or adapt_joint"
        )
    label = target_embodiment(info, embodiment)
    return runtime_for(model.fdm, model.projector, info, cfg, label)
