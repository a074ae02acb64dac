"""Per-dimension quantile (equal-count) action bins, as LAPA's action finetuning builds them
(``LAPA:data/finetune_preprocess.py``: ``pd.qcut(series, 256, duplicates='drop')``; decoding at bin midpoints;
the gripper as a binary dimension).

``ActionBins`` holds, per dimension d, its edges [n_d + 1] (n_d <= max_bins after duplicate edges are dropped)
and decodes a bin index to the midpoint of its edges. Out-of-range values clamp to the first / last bin.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from harness.errors import HarnessError


@dataclass(frozen=True)
class ActionBins:
    edges: tuple[tuple[float, ...], ...]  # per dimension, increasing, at least 2 values

    @property
    def dims(self) -> int:
        return len(self.edges)

    @property
    def counts(self) -> list[int]:
        """Bins per dimension."""
        return [len(e) - 1 for e in self.edges]

    def midpoints(self, max_bins: int) -> tuple[np.ndarray, np.ndarray]:
        """(centres float [Da, max_bins], valid bool [Da, max_bins]); padding bins are invalid (centre 0)."""
        centres = np.zeros((self.dims, max_bins), dtype=np.float32)
        valid = np.zeros((self.dims, max_bins), dtype=bool)
        for d, e in enumerate(self.edges):
            e_arr = np.asarray(e, dtype=np.float64)
            centres[d, : len(e) - 1] = (e_arr[:-1] + e_arr[1:]) / 2
            valid[d, : len(e) - 1] = True
        return centres, valid

    def encode(self, actions: np.ndarray) -> np.ndarray:
        """float [..., Da] -> int64 bin indices [..., Da] (clamped to each dimension's range)."""
        actions = np.asarray(actions, dtype=np.float64)
        out = np.empty(actions.shape, dtype=np.int64)
        for d, e in enumerate(self.edges):
            inner = np.asarray(e[1:-1], dtype=np.float64)
            out[..., d] = np.searchsorted(inner, actions[..., d], side="right")
        return out

    def decode(self, indices: np.ndarray) -> np.ndarray:
        """int [..., Da] -> float [..., Da] bin midpoints."""
        centres, _ = self.midpoints(max(self.counts))
        indices = np.asarray(indices)
        return np.stack([centres[d][np.clip(indices[..., d], 0, self.counts[d] - 1)] for d in range(self.dims)], -1)


def fit_quantile_bins(actions: np.ndarray, max_bins: int, binary_dims: tuple[int, ...] = ()) -> ActionBins:
    """Equal-count bins of each column of ``actions`` [N, Da] (duplicate edges dropped, so a dimension with few
    distinct values gets fewer bins); ``binary_dims`` (e.g. the gripper) get 2 bins split at the midpoint of their
    range, decoded to the mean of each side."""
    actions = np.asarray(actions, dtype=np.float64)
    if actions.ndim != 2 or len(actions) < 2:
        raise HarnessError(f"quantile bins need actions [N >= 2, Da], got shape {actions.shape}")
    if max_bins < 2:
        raise HarnessError("quantile bins: max_bins must be >= 2")
    edges = []
    for d in range(actions.shape[1]):
        col = actions[:, d]
        lo, hi = float(col.min()), float(col.max())
        if d in binary_dims:
            mid = (lo + hi) / 2
            low_mean = float(col[col <= mid].mean())
            high_mean = float(col[col > mid].mean()) if (col > mid).any() else hi
            # edges chosen so the two midpoints are the two sides' means, and the split is at ``mid``
            edges.append((2 * low_mean - mid, mid, 2 * high_mean - mid) if hi > lo else (lo - 0.5, lo + 0.5))
            continue
        e = np.unique(np.quantile(col, np.linspace(0.0, 1.0, max_bins + 1)))
        edges.append(tuple(float(v) for v in e) if len(e) >= 2 else (lo - 0.5, lo + 0.5))
    return ActionBins(tuple(edges))
