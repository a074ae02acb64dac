"""Diffusion Policy (Chi et al. 2023), language-conditioned: the project's sampling "VLA".

Registered as policy ``diffusion`` (needs ``--checkpoint DIR``) and trainable ``policy/diffusion``.
"""

from __future__ import annotations

from typing import Any

from harness.policy.chunk_policy import register_chunk_policy
from policies.diffusion.config import DiffusionConfig


def build_model(cfg: DiffusionConfig, info: dict[str, Any]):  # type: ignore[no-untyped-def]
    from policies.diffusion.model import DiffusionPolicyModel

    return DiffusionPolicyModel(cfg, info)


register_chunk_policy("diffusion", DiffusionConfig, build_model)
