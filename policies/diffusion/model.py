"""Diffusion Policy model: observation encoder + conditional 1-D U-Net denoiser (DDPM train, DDIM sample)."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from harness.nn.text import TEXT_DIM
from harness.nn.unet1d import ConditionalUnet1D
from harness.nn.vision import build_image_encoder
from harness.policy.chunk_policy import encode_images
from policies.diffusion.config import DiffusionConfig


def _schedulers(cfg: DiffusionConfig) -> tuple[Any, Any]:
    from diffusers import DDIMScheduler, DDPMScheduler

    common = {
        "num_train_timesteps": cfg.train_timesteps,
        "beta_schedule": "squaredcos_cap_v2",
        "clip_sample": True,
        "prediction_type": "epsilon",
    }
    ddim = DDIMScheduler(**common, set_alpha_to_one=True, steps_offset=0)
    ddim.set_timesteps(cfg.inference_steps)
    return DDPMScheduler(**common), ddim


class DiffusionPolicyModel(nn.Module):
    """Batch (see harness.policy.chunk_policy) -> noise-prediction loss / sampled chunks [n, Hz, Da]."""

    def __init__(self, cfg: DiffusionConfig, info: dict[str, Any]):
        super().__init__()
        cfg.validate()
        self.cfg = cfg
        self.action_dim = int(info["action_dim"])
        proprio_dim, views = int(info["proprio_dim"]), len(cfg.image_keys)
        self.encoders = nn.ModuleList(
            [
                build_image_encoder(cfg.vision, cfg.vision_dim, cfg.vision_widths, image_size=cfg.image_size)
                for _ in range(views)
            ]
        )
        self.text_proj = nn.Sequential(nn.Linear(TEXT_DIM, cfg.text_dim), nn.Mish())
        cond_dim = cfg.obs_horizon * (views * cfg.vision_dim + proprio_dim) + cfg.text_dim
        self.denoiser = ConditionalUnet1D(self.action_dim, cond_dim, cfg.down_dims, cfg.kernel)
        self.train_scheduler, self.sample_scheduler = _schedulers(cfg)

    def encode(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """images [B, To, V, 3, H, W] (or cached image_features [B, To, V, F]), proprio [B, To, Dp], text [B, 384]
        -> conditioning [B, Dc]."""
        b, t = batch["proprio"].shape[:2]
        feats = [encode_images(enc, batch, v).view(b, t, -1) for v, enc in enumerate(self.encoders)]
        obs = torch.cat([*feats, batch["proprio"]], dim=-1).flatten(1)
        return torch.cat([obs, self.text_proj(batch["text"])], dim=-1)

    def compute_loss(self, batch: dict[str, torch.Tensor], generator: torch.Generator | None) -> tuple:
        actions = batch["actions"]
        cond = self.encode(batch)
        noise = torch.randn(actions.shape, generator=generator).to(actions.device)
        steps = torch.randint(0, self.cfg.train_timesteps, (actions.shape[0],), generator=generator).to(actions.device)
        noisy = self.train_scheduler.add_noise(actions, noise, steps)
        pred = self.denoiser(noisy, steps, cond)
        mask = batch["action_mask"].unsqueeze(-1).float()
        loss = ((pred - noise) ** 2 * mask).sum() / (mask.sum() * actions.shape[-1]).clamp(min=1)
        return loss, {}

    def latent_actions(self, batch: dict[str, torch.Tensor], generator: torch.Generator | None) -> torch.Tensor:
        """LAWM's latent chunk [B, Hz, Da]: one differentiable denoising step from pure noise at the last training
        timestep, noise - eps(noise, T - 1, cond) (LAWM's ``get_latent_from_noise``; stochastic)."""
        cond = self.encode(batch)
        shape = (cond.shape[0], self.cfg.action_horizon, self.action_dim)
        noise = torch.randn(shape, generator=generator).to(cond.device)
        steps = torch.full((shape[0],), self.cfg.train_timesteps - 1, device=cond.device)
        return noise - self.denoiser(noise, steps, cond)

    def last_action_layer(self) -> nn.Module:
        return self.denoiser.final[-1]

    @torch.no_grad()
    def predict(
        self, batch: dict[str, torch.Tensor], n: int, generator: torch.Generator | None, greedy: bool = False
    ) -> torch.Tensor:
        """n chunks [n, Hz, Da] for ONE observation; different noise draws give different chunks (a diffusion
        policy has no greedy chunk: ``greedy`` is ignored, ``act`` is one draw, as in Diffusion Policy)."""
        cond = self.encode(batch).expand(n, -1)
        x = torch.randn((n, self.cfg.action_horizon, self.action_dim), generator=generator).to(cond.device)
        sched = self.sample_scheduler
        for k in sched.timesteps:
            eps = self.denoiser(x, torch.full((n,), int(k), device=cond.device), cond)
            x = sched.step(eps, k, x).prev_sample
        return x.clamp(-1, 1)
