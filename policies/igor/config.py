"""IGOR policy configurations: ``igor`` (foundation stage, then the low-level stage) and ``igor_nolatent``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from harness.errors import HarnessError
from harness.policy.chunk_policy import ChunkPolicyConfig


@dataclass(frozen=True)
class IgorConfig(ChunkPolicyConfig):
    """IGOR (paper 000 §2.3) at CPU scale. ``stage=foundation``: observation history + instruction -> the
    latent action of (o_t, o_{t+H}) that the latent action model ``lam`` assigns (its quantized embedding,
    [4, Dl]), L2 regression, on action-free clips. ``stage=lowlevel``: the foundation policy ``foundation``
    frozen; its *predicted* latent, as one extra token beside the observation tokens, -> tau = 3 real actions
    (``action_horizon``), L2, executed open loop (``n_action_steps`` = 3) before the next latent.
    ``sample(obs, n)``: the foundation's latent plus Gaussian noise of ``sample_noise`` x the latent's RMS
    (declared foundation-latent noise), each drawn latent decoded by the low-level head."""

    PARENT_CHECKPOINTS: ClassVar[tuple[str, ...]] = ("lam", "foundation")
    LATENT_INPUT: ClassVar[bool] = True

    stage: str = "lowlevel"  # foundation | lowlevel
    lam: str = ""  # foundation stage: the world_model/igor_lam checkpoint labelling the clips
    foundation: str = ""  # low-level stage: the foundation-stage checkpoint (frozen)
    obs_horizon: int = 2
    action_horizon: int = 3  # tau
    n_action_steps: int = 3
    d_model: int = 128
    layers: int = 2
    heads: int = 4
    dropout: float = 0.1
    head_hidden: int = 256
    sample_noise: float = 0.1

    def validate(self) -> None:
        super().validate()
        if self.stage not in ("foundation", "lowlevel"):
            raise HarnessError(f"igor: stage must be foundation or lowlevel, got {self.stage!r}")
        if self.stage == "foundation" and not self.lam:
            raise HarnessError("igor: stage=foundation needs --set lam=DIR (a world_model/igor_lam checkpoint)")
        if self.stage == "lowlevel" and self.LATENT_INPUT and not self.foundation:
            raise HarnessError("igor: stage=lowlevel needs --set foundation=DIR (a foundation-stage igor checkpoint)")
        if self.d_model % self.heads:
            raise HarnessError("igor: d_model must be divisible by heads")
        if self.sample_noise < 0:
            raise HarnessError("igor: sample_noise must be >= 0")


@dataclass(frozen=True)
class IgorNoLatentConfig(IgorConfig):
    """IGOR's baseline (paper 000 §3.4): the same low-level architecture and data without the latent input (no
    foundation policy). ``sample(obs, n)``: Gaussian noise of ``sample_noise`` on the normalised actions."""

    PARENT_CHECKPOINTS: ClassVar[tuple[str, ...]] = ()
    LATENT_INPUT: ClassVar[bool] = False

    def validate(self) -> None:
        super().validate()
        if self.stage != "lowlevel" or self.lam or self.foundation:
            raise HarnessError("igor_nolatent: a low-level policy only (no stage=foundation, lam or foundation)")
