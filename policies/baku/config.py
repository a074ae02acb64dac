"""BAKU configuration."""

from __future__ import annotations

from dataclasses import dataclass

from harness.errors import HarnessError
from harness.policy.chunk_policy import ChunkPolicyConfig
from harness.policy.lawm import LawmFields, validate_lawm


@dataclass(frozen=True)
class BakuConfig(LawmFields, ChunkPolicyConfig):
    """BAKU (Haldar et al. 2024): FiLM(instruction) image encoder shared by the views, a transformer trunk
    over [instruction, per-step view and proprio tokens, action token], and an MLP action-chunk head
    trained with MSE. Deterministic: ``sample`` adds declared Gaussian noise of ``sample_noise``
    (normalised action units) around the predicted chunk. LAWM pretraining / finetuning: ``LawmFields``
    (harness.policy.lawm); its latent chunk is the head's output.
    """

    d_model: int = 128
    layers: int = 4
    heads: int = 4
    dropout: float = 0.1
    head_hidden: int = 256
    sample_noise: float = 0.1

    def validate(self) -> None:
        super().validate()
        if self.d_model % self.heads:
            raise HarnessError("d_model must be divisible by heads")
        if self.sample_noise < 0:
            raise HarnessError("sample_noise must be >= 0")
        validate_lawm(self)
