"""BAKU (Haldar et al. 2024): multi-task transformer policy conditioned on the instruction.

Registered as policy ``baku`` (needs ``--checkpoint DIR``) and trainable ``policy/baku``. Deterministic:
``sample`` adds declared Gaussian noise (``sample_noise``) around its chunk.
"""

from __future__ import annotations

from typing import Any

from harness.policy.chunk_policy import register_chunk_policy
from policies.baku.config import BakuConfig


def build_model(cfg: BakuConfig, info: dict[str, Any]):  # type: ignore[no-untyped-def]
    from policies.baku.model import BakuModel

    return BakuModel(cfg, info)


register_chunk_policy("baku", BakuConfig, build_model)
