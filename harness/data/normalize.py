"""The one per-dimension normaliser of actions, proprioception and motion labels (policies and world models).

Rule (as Diffusion Policy's ``SingleFieldLinearNormalizer``): ``y = (x - center) / scale`` with
    meanstd: center = mean,               scale = std
    minmax:  center = (min + max) / 2,    scale = (max - min) / 2      ([min, max] -> [-1, 1])
A dimension whose std (meanstd) or range (minmax) is below ``EPS`` is constant in the data: it gets
scale 1 and center = its mean (meanstd) or its min (minmax), so it sits at 0 and small deviations pass
through unamplified. ``unnormalize`` is the algebraic inverse (``y * scale + center``).

``NormStats`` (saved as stats.json in policy checkpoints) keeps the raw statistics, plus ``"format": 2``.
Migration: a stats.json without "format" (written before this module: ``std + 1e-6``, minmax with a 1e-6
range floor, so a constant dim sat at -1) loads as ``legacy`` and keeps those exact formulas, so an old
checkpoint sees the inputs and targets it was trained with. World-model statistics ({mean, std} lists in the
checkpoint meta) use the new rule whatever their age: an old ``0 + 1e-6`` std is below EPS, so the constant
dims they were trained on still map to 0, and noise on them is no longer amplified 10^6 times.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from harness.errors import HarnessError

EPS = 1e-4
MODES = ("meanstd", "minmax")
FORMAT = 2  # stats.json "format"; absent = 1 (legacy formulas)
_LEGACY_SPAN = 1e-6


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
    legacy: bool = False  # read from a stats.json without "format": the pre-EPS formulas (see module doc)

    ARRAYS = ("action_mean", "action_std", "action_min", "action_max", "proprio_mean", "proprio_std")

    def to_json(self) -> dict[str, list[float] | int]:
        data: dict[str, list[float] | int] = {
            k: np.asarray(getattr(self, k), dtype=np.float64).tolist() for k in self.ARRAYS
        }
        data["format"] = 1 if self.legacy else FORMAT
        return data

    @classmethod
    def from_json(cls, data: dict[str, list[float]]) -> "NormStats":
        arrays = {k: np.asarray(data[k], dtype=np.float64) for k in cls.ARRAYS}
        return cls(**arrays, legacy=int(data.get("format", 1)) < FORMAT)  # type: ignore[arg-type]

    def action_normalizer(self, mode: str = "meanstd") -> Normalizer:
        """``meanstd`` or ``minmax`` normaliser of actions [..., Da]."""
        if mode not in MODES:
            raise HarnessError(f"action_norm must be one of {', '.join(MODES)}, got {mode!r}")
        if self.legacy and mode == "minmax":  # old rule: constant dims at -1
            span = np.maximum(self.action_max - self.action_min, _LEGACY_SPAN)
            return Normalizer(self.action_min + span / 2, span / 2)
        if self.legacy:  # stored std already holds + 1e-6
            return Normalizer(self.action_mean, self.action_std)
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
        if self.legacy:
            return Normalizer(self.proprio_mean, self.proprio_std)
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
