"""EAC-WM: the explicit-action conditioned baseline (LAC-WM paper, section 3.3).

The same FDM as LAC-WM, conditioned on per-embodiment explicit action encoders (each a two-layer MLP
like the action projector) instead of a shared latent action space. Stages:
    pretrain  FDM + one encoder per pretraining embodiment, L_recon
    adapt     a new encoder from scratch for ``rename`` (the held-out task / robot) + LoRA rank 2 on the FDM
Registered as trainable ``world_model/eac_wm`` and world model ``eac_wm``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import nn

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
from world_models.dynamics import FDM, ActionMLP


@dataclass(frozen=True)
class EacWmConfig(WorldModelConfig):
    cross_augment: bool = True  # FDM inputs / targets from the augmented embedding version, like LAC-WM
    single_frame_prob: float = 0.5

    STAGES: ClassVar[tuple[str, ...]] = ("pretrain", "adapt")


class EacWM(nn.Module):
    def __init__(self, cfg: EacWmConfig, info: dict[str, Any]):
        super().__init__()
        self.cfg, self.info = cfg, info
        n, d, m = int(info["tokens"]), int(info["dim"]), cfg.latent_tokens
        self.embodiments = list(info["embodiments"])
        self.fdm = FDM(d, n, cfg.fdm_depth, cfg.heads, cfg.history)
        self.encoders = nn.ModuleDict(
            {e: ActionMLP(cfg.segment, int(info["action_dim"]), m, d) for e in self.embodiments}
        )

    def add_stage_adapters(self) -> None:
        if self.cfg.stage == "adapt":
            add_lora(self.fdm, self.cfg.lora_rank)

    def compute_loss(self, batch: dict[str, torch.Tensor], generator: torch.Generator | None) -> tuple:
        v = "b" if self.cfg.cross_augment else "clean"
        hist = torch.stack([batch[f"{v}_prev"], batch[f"{v}_t"]], dim=1)[:, -self.cfg.history :]
        if (
            self.training
            and hist.shape[1] > 1
            and torch.rand((), generator=generator).item() < self.cfg.single_frame_prob
        ):
            hist = hist[:, -1:]
        ids = batch["embodiment"]
        z = torch.zeros((len(ids), self.cfg.latent_tokens, hist.shape[-1]), dtype=hist.dtype, device=hist.device)
        for i, name in enumerate(self.embodiments):
            rows = ids == i
            if rows.any():
                z[rows] = self.encoders[name](batch["actions"][rows])
        recon = recon_loss(self.fdm(hist, z), batch[f"{v}_next"], self.info)
        return recon, {"recon": recon.item()}


def _build(cfg: EacWmConfig, info: dict[str, Any]) -> EacWM:
    model = EacWM(cfg, info)
    model.add_stage_adapters()
    return model


def build_for_training(cfg: EacWmConfig, info: dict[str, Any]) -> EacWM:
    model = EacWM(cfg, info)
    if cfg.stage == "adapt":
        if not cfg.rename:
            raise HarnessError("EAC-WM adaptation trains a new action encoder: --set rename=NAME")
        start_from(model, cfg, _build, "eac_wm")
    model.add_stage_adapters()
    if cfg.stage == "adapt":
        freeze_all_but(model, lambda n: n.startswith(f"encoders.{cfg.rename}.") or "lora_" in n)
    return model


register_trainable("eac_wm", EacWmConfig, build_for_training)


@WORLD_MODELS.register("eac_wm")
def build_world_model(checkpoint: str | None = None, embodiment: str | None = None) -> LatentWorldModel:
    """``embodiment``: the suite's robot, used when the checkpoint has no adaptation target."""
    model, info, cfg = load_world_model(checkpoint, "eac_wm", EacWmConfig, _build)
    label = target_embodiment(info, embodiment)
    return runtime_for(model.fdm, model.encoders[label], info, cfg, label)
