"""LAPA configuration (both stages share it; ``stage`` selects what is trained)."""

from __future__ import annotations

from dataclasses import dataclass

from harness.errors import HarnessError
from harness.policy.chunk_policy import ChunkPolicyConfig


@dataclass(frozen=True)
class LapaConfig(ChunkPolicyConfig):
    """LAPA (Ye et al. 2024) at CPU scale: image encoder + the project's instruction encoder + a causal
    transformer. ``stage=latent``: predicts the 4 latent-action codes of LAPA's quantizer (``laq``: its checkpoint
    folder) autoregressively under cross-entropy, from action-free clips. ``stage=action``: a new head over
    per-dimension quantile action bins (``bins`` per arm dimension; the gripper binary), 7 tokens predicted
    autoregressively, cross-entropy; everything else initialised from the latent-stage checkpoint ``init``
    ("" = from scratch, LAPA's "scratch" baseline). One action per step (LAPA issue #15): action_horizon 1.
    Like LAPA, the model reads the image and the instruction only (the proprio the data pipeline provides
    is not used).
    ``sample`` draws the bin distributions at ``temperature``; ``act`` is greedy."""

    stage: str = "action"  # latent | action
    laq: str = ""  # latent stage: LAPA quantizer checkpoint folder (world_model/laq) labelling the clips
    init: str = ""  # action stage: latent-stage checkpoint folder to start from
    obs_horizon: int = 1
    action_horizon: int = 1
    n_action_steps: int = 1
    d_model: int = 128
    layers: int = 4
    heads: int = 4
    dropout: float = 0.1
    bins: int = 64  # quantile bins per arm dimension (LAPA: 256 on full data; fewer on ~100 demos)
    gripper_dim: int = -1  # the binary action dimension (-1: the last)
    temperature: float = 1.0

    def validate(self) -> None:
        super().validate()
        if self.stage not in ("latent", "action"):
            raise HarnessError(f"lapa: stage must be latent or action, got {self.stage!r}")
        if self.stage == "latent" and not self.laq:
            raise HarnessError("lapa: stage=latent needs --set laq=LAQ_DIR (a world_model/laq checkpoint)")
        if self.obs_horizon != 1 or self.action_horizon != 1 or self.n_action_steps != 1:
            raise HarnessError("lapa: one observation in, one action out (obs_horizon = action_horizon = 1)")
        if self.d_model % self.heads:
            raise HarnessError("lapa: d_model must be divisible by heads")
        if self.bins < 2 or self.temperature <= 0:
            raise HarnessError("lapa: bins must be >= 2 and temperature > 0")
