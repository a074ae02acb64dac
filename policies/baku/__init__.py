"""BAKU (Haldar et al. 2024): multi-task transformer policy conditioned on the instruction.

Registered as policy ``baku`` (needs ``--checkpoint DIR``) and trainable ``policy/baku``.
"""

from __future__ import annotations

from typing import Any

from harness.nn.chunk_policy import ChunkPolicyRuntime, chunk_policy_data, load_chunk_policy
from harness.nn.training import Trainable
from harness.registry import POLICIES, TRAINABLES
from policies.baku.config import BakuConfig


def build_model(cfg: BakuConfig, info: dict[str, Any]):  # type: ignore[no-untyped-def]
    from policies.baku.model import BakuModel

    return BakuModel(cfg, info)


@POLICIES.register("baku")
def build_policy(checkpoint: str | None = None) -> ChunkPolicyRuntime:
    return load_chunk_policy(checkpoint, "baku", BakuConfig, build_model, stochastic=False)


@TRAINABLES.register("policy/baku")
def trainable() -> Trainable:
    return Trainable("policy", "baku", BakuConfig, chunk_policy_data, build_model)
