"""Diffusion Policy (Chi et al. 2023), language-conditioned: the project's sampling "VLA".

Registered as policy ``diffusion`` (needs ``--checkpoint DIR``) and trainable ``policy/diffusion``.
"""

from __future__ import annotations

from typing import Any

from harness.nn.chunk_policy import ChunkPolicyRuntime, chunk_policy_data, load_chunk_policy
from harness.nn.training import Trainable
from harness.registry import POLICIES, TRAINABLES
from policies.diffusion.config import DiffusionConfig


def build_model(cfg: DiffusionConfig, info: dict[str, Any]):  # type: ignore[no-untyped-def]
    from policies.diffusion.model import DiffusionPolicyModel

    return DiffusionPolicyModel(cfg, info)


@POLICIES.register("diffusion")
def build_policy(checkpoint: str | None = None) -> ChunkPolicyRuntime:
    return load_chunk_policy(checkpoint, "diffusion", DiffusionConfig, build_model, stochastic=True)


@TRAINABLES.register("policy/diffusion")
def trainable() -> Trainable:
    return Trainable("policy", "diffusion", DiffusionConfig, chunk_policy_data, build_model)
