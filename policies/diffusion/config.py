"""Diffusion Policy configuration."""

from __future__ import annotations

from dataclasses import dataclass

from harness.errors import HarnessError
from harness.policy.chunk_policy import ChunkPolicyConfig
from harness.policy.lawm import LawmFields, validate_lawm


@dataclass(frozen=True)
class DiffusionConfig(LawmFields, ChunkPolicyConfig):
    """Diffusion Policy: conv image encoder per view + proprio + instruction -> U-Net denoiser over the chunk.

    DDPM training with ``train_timesteps`` noise levels (squared-cosine schedule, epsilon prediction);
    DDIM sampling with ``inference_steps`` steps. Samples are clipped to [-1, 1] (``clip_sample``), so actions
    must be ``minmax``-normalised. LAWM pretraining / finetuning: ``LawmFields`` (harness.policy.lawm); its latent
    chunk is one denoising step from pure noise, noise - eps(noise, T - 1), as in the paper's code.
    """

    action_norm: str = "minmax"
    text_dim: int = 64  # projection of the 384-d instruction embedding
    down_dims: tuple[int, ...] = (64, 128)
    kernel: int = 5
    train_timesteps: int = 100
    inference_steps: int = 10

    def validate(self) -> None:
        super().validate()
        if self.action_horizon % (2 ** (len(self.down_dims) - 1)):
            raise HarnessError(
                f"action_horizon must be divisible by {2 ** (len(self.down_dims) - 1)} for these down_dims"
            )
        if self.action_norm != "minmax":
            raise HarnessError(
                f"diffusion clips samples to [-1, 1], which needs action_norm=minmax, got {self.action_norm!r}"
            )
        if not 1 <= self.inference_steps <= self.train_timesteps:
            raise HarnessError("inference_steps must be in 1..train_timesteps")
        validate_lawm(self)
