"""Declared sampling noise of deterministic chunk policies (BAKU): how ``sample(obs, n)`` draws n distinct chunks
around the one the model predicts, and the ``--policy-sample-noise*`` flags that override it at evaluation.

A config that has the fields ``sample_noise`` (std, normalised action units) and ``sample_noise_kind`` declares
``sampling_options = SampleNoiseOptions``; its registered policy then accepts those flags (harness.policy.build)
and the run identity records them (harness.analysis.comparability), so runs drawn differently are never pooled.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import torch

from harness.errors import HarnessError

NOISE_KINDS = ("step", "chunk")


def check_noise(std: float, kind: str) -> None:
    """One HarnessError line for a negative std or an unknown kind."""
    if not std >= 0:
        raise HarnessError(f"sample noise must be >= 0, got {std}")
    if kind not in NOISE_KINDS:
        raise HarnessError(f"unknown sample noise kind {kind!r}; choose from: {', '.join(NOISE_KINDS)}")


@dataclass(frozen=True)
class SampleNoiseOptions:
    """The ``--policy-sample-noise*`` flags (None: the checkpoint's own value)."""

    policy_sample_noise: float | None = None
    policy_sample_noise_kind: str | None = None

    def validate(self) -> None:
        check_noise(
            0.0 if self.policy_sample_noise is None else self.policy_sample_noise,
            self.policy_sample_noise_kind or NOISE_KINDS[0],
        )

    def apply(self, cfg: Any) -> Any:
        """``cfg`` (a config with ``sample_noise`` / ``sample_noise_kind``) with the given flags replacing them."""
        changes: dict[str, Any] = {}
        if self.policy_sample_noise is not None:
            changes["sample_noise"] = float(self.policy_sample_noise)
        if self.policy_sample_noise_kind is not None:
            changes["sample_noise_kind"] = self.policy_sample_noise_kind
        return dataclasses.replace(cfg, **changes) if changes else cfg


def add_sample_noise(
    chunk: torch.Tensor, std: float, kind: str, generator: torch.Generator | None
) -> torch.Tensor:
    """chunk [n, Hz, Da] + Gaussian noise of ``std``: ``step`` draws [n, Hz, Da] independently, ``chunk`` draws
    [n, 1, Da] once per sample and holds it over the Hz steps (a sample's whole trajectory is shifted, so the n
    samples end apart instead of averaging their jitter out over the executed steps)."""
    n, horizon, dim = chunk.shape
    shape = (n, horizon, dim) if kind == "step" else (n, 1, dim)
    noise = torch.randn(shape, generator=generator).to(chunk.device) * std
    return chunk + noise.expand(n, horizon, dim)
