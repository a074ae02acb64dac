"""The one per-dimension normaliser of actions, proprioception and motion labels (policies and world models).

Rule (as Diffusion Policy's ``SingleFieldLinearNormalizer``): ``y = (x - center) / scale`` with
    meanstd: center = mean,               scale = std
    minmax:  center = (min + max) / 2,    scale = (max - min) / 2      ([min, max] -> [-1, 1])
A dimension whose std (meanstd) or range (minmax) is below ``EPS`` is constant in the data: it gets
scale 1 and center = its mean (meanstd) or its min (minmax), so it sits at 0 and small deviations pass
through unamplified. ``unnormalize`` is the algebraic inverse (``y * scale + center``).

``NormStats`` (saved as stats.json in policy checkpoints) keeps the raw statistics. Its JSON format is
unchanged; files written before this module stored ``std + 1e-6``, which the EPS threshold (1e-4)
still treats as constant, so old checkpoints normalise their training data exactly as before.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from harness.errors import HarnessError

EPS = 1e-4
MODES = ("meanstd", "minmax")


@dataclass(frozen=True)
class Normalizer:
    """``normalize``: x [..., D] -> (x - center) / scale; ``unnormalize`` inverts it. scale > 0."""

    center: np.ndarray  # float64 [D]
    scale: np.ndarray  # float64 [D]

    def normalize(self, x: np.ndarray) -> np.ndarray:
        return (np.asarray(x) - self.center) / self.scale

    def unnormalize(self, y: np.ndarray) -> np.ndarray:
        return np.asarray(y) * self.scale + self.center


def meanstd_normalizer(mean: Sequence[float] | np.ndarray, std: Sequence[float] | np.ndarray) -> Normalizer:
    """Zero mean, unit std; dims with std < EPS: scale 1, centred on their mean."""
    mean, std = np.asarray(mean, dtype=np.float64), np.asarray(std, dtype=np.float64)
    constant = std < EPS
    return Normalizer(mean, np.where(constant, 1.0, std))


def minmax_normalizer(lo: Sequence[float] | np.ndarray, hi: Sequence[float] | np.ndarray) -> Normalizer:
    """[lo, hi] -> [-1, 1]; dims with hi - lo < EPS: scale 1, centred on lo (so they sit at 0)."""
    lo, hi = np.asarray(lo, dtype=np.float64), np.asarray(hi, dtype=np.float64)
    constant = (hi - lo) < EPS
    return Normalizer(np.where(constant, lo, (lo + hi) / 2), np.where(constant, 1.0, (hi - lo) / 2))


def scale_normalizer(std: Sequence[float] | np.ndarray) -> Normalizer:
    """Divide by std without centring (motion labels); dims with std < EPS keep scale 1."""
    std = np.asarray(std, dtype=np.float64)
    return meanstd_normalizer(np.zeros_like(std), std)


@dataclass(frozen=True)
class NormStats:
    """Raw per-dimension statistics of actions and proprioception (stats.json of a policy checkpoint)."""

    action_mean: np.ndarray
    action_std: np.ndarray
    action_min: np.ndarray
    action_max: np.ndarray
    proprio_mean: np.ndarray
    proprio_std: np.ndarray

    def to_json(self) -> dict[str, list[float]]:
        return {k: np.asarray(v, dtype=np.float64).tolist() for k, v in self.__dict__.items()}

    @classmethod
    def from_json(cls, data: dict[str, list[float]]) -> "NormStats":
        return cls(**{k: np.asarray(data[k], dtype=np.float64) for k in cls.__dataclass_fields__})

    def action_normalizer(self, mode: str = "meanstd") -> Normalizer:
        """``meanstd`` or ``minmax`` normaliser of actions [..., Da]."""
        if mode not in MODES:
            raise HarnessError(f"action_norm must be one of {', '.join(MODES)}, got {mode!r}")
        if mode == "minmax":
            return minmax_normalizer(self.action_min, self.action_max)
        return meanstd_normalizer(self.action_mean, self.action_std)

    def normalize_action(self, a: np.ndarray, mode: str = "meanstd") -> np.ndarray:
        """[..., Da] env units -> normalised (constant dims -> 0)."""
        return self.action_normalizer(mode).normalize(a)

    def unnormalize_action(self, a: np.ndarray, mode: str = "meanstd") -> np.ndarray:
        """[..., Da] normalised -> env units (exact inverse of ``normalize_action``)."""
        return self.action_normalizer(mode).unnormalize(a)

    def proprio_normalizer(self) -> Normalizer:
        """meanstd normaliser of proprioception [..., Dp]."""
        return meanstd_normalizer(self.proprio_mean, self.proprio_std)

    def normalize_proprio(self, p: np.ndarray) -> np.ndarray:
        """[..., Dp] -> zero mean, unit std (constant dims -> 0)."""
        return self.proprio_normalizer().normalize(p)


def compute_stats(actions: Sequence[np.ndarray], proprio: Sequence[np.ndarray]) -> NormStats:
    """Raw statistics over all time steps of the given episodes ([T, Da] and [T, Dp] arrays)."""
    a = np.concatenate(actions).astype(np.float64)
    p = np.concatenate(proprio).astype(np.float64)
    return NormStats(a.mean(0), a.std(0), a.min(0), a.max(0), p.mean(0), p.std(0))


def mean_std(chunks: Sequence[np.ndarray]) -> dict[str, list[float]]:
    """{"mean", "std"} (raw, JSON lists) over the rows of [T, D] arrays; world-model action statistics."""
    cat = np.concatenate(chunks).astype(np.float64)
    return {"mean": cat.mean(0).tolist(), "std": cat.std(0).tolist()}
