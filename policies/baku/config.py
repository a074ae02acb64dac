"""BAKU configuration."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from harness.errors import HarnessError
from harness.policy.chunk_policy import ChunkPolicyConfig
from harness.policy.lawm import LawmFields, validate_lawm
from harness.policy.sampling import SampleNoiseOptions, check_noise


@dataclass(frozen=True)
class BakuConfig(LawmFields, ChunkPolicyConfig):
    """BAKU (Haldar et al. 2024): FiLM(instruction) image encoder shared by the views, a transformer trunk
    over [instruction, per-step view and proprio tokens, action token], and an MLP action-chunk head
    trained with MSE. Deterministic: ``sample`` adds declared Gaussian noise of ``sample_noise``
    (normalised action units) around the predicted chunk, independent per step or one draw held over the chunk
    (``sample_noise_kind``; both overridable at evaluation: ``--policy-sample-noise[-kind]``). LAWM pretraining /
    finetuning: ``LawmFields`` (harness.policy.lawm); its latent chunk is the head's output.
    """

    d_model: int = 128
    layers: int = 4
    heads: int = 4
    dropout: float = 0.1
    head_hidden: int = 256
    sample_noise: float = 0.1
    sample_noise_kind: str = "step"  # step | chunk (harness.policy.sampling)
    sampling_options: ClassVar[type] = SampleNoiseOptions

    def validate(self) -> None:
        super().validate()
        if self.d_model % self.heads:
            raise HarnessError("d_model must be divisible by heads")
        check_noise(self.sample_noise, self.sample_noise_kind)
        validate_lawm(self)
