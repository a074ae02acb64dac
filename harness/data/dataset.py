"""PyTorch dataset over demo files with action chunking; statistics come from harness.data.normalize and the
train / val split from harness.data.splits (both re-exported here)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from harness.data.features import file_features, resize_image, stored_keys
from harness.data.hdf5_io import open_demo_file, read_demo
from harness.data.normalize import MODES, NormStats, compute_stats
from harness.data.splits import split_episodes
from harness.errors import HarnessError

__all__ = ["DemoChunkDataset", "NormStats", "compute_stats", "split_episodes"]


def history_indices(t: int, horizon: int) -> np.ndarray:
    """int [horizon]: the frames t-horizon+1..t, the first frame repeated before the start."""
    return np.clip(np.arange(t - horizon + 1, t + 1), 0, None)


def _resized(frames: np.ndarray, size: int | None) -> np.ndarray:
    """uint8 [T, H, W, 3] -> [T, size, size, 3] (unchanged when size is None)."""
    if size is None:
        return frames
    return np.stack([resize_image(f, size) for f in frames])


class DemoChunkDataset(Dataset):
    """Samples (observation history, action chunk) windows from demo files.

    ``image_size`` resizes every frame once at load time (None: keep the file's resolution).
    ``features`` ({resolved file path: {demo name: float32 [T, V, F]}}, harness.data.feature_cache): frozen
    image features used instead of the frames (which are then not read).
    Item ``i`` -> dict:
        "images":      uint8 [To, V, H, W, 3]  the ``image_keys`` views, frames t-To+1..t (padded by repeating frame 0)
        or "image_features": float32 [To, V, F] the same frames' cached features (with ``features``)
        "proprio":     float32 [To, Dp]        normalised history of the ``proprio_keys`` (concatenated)
        "actions":     float32 [Hz, Da]        normalised actions t..t+Hz-1 (padded by repeating the last action)
        "action_mask": bool [Hz]               False on padded steps
        "instruction": str
    """

    def __init__(
        self,
        paths: Sequence[Path],
        split: str = "train",
        obs_horizon: int = 2,
        action_horizon: int = 8,
        image_keys: tuple[str, ...] = ("agentview_rgb",),
        proprio_keys: tuple[str, ...] | str = ("ee_states",),
        val_fraction: float = 0.1,
        seed: int = 0,
        stats: NormStats | None = None,
        image_size: int | None = None,
        action_norm: str = "meanstd",
        features: Mapping[str, Mapping[str, np.ndarray]] | None = None,
    ):
        if action_norm not in MODES:
            raise HarnessError(f"action_norm must be meanstd or minmax, got {action_norm!r}")
        self.action_norm = action_norm
        if split not in ("train", "val", "all"):
            raise HarnessError(f"split must be train, val or all, got {split!r}")
        self.obs_horizon, self.action_horizon = obs_horizon, action_horizon
        if isinstance(proprio_keys, str):
            proprio_keys = (proprio_keys,)
        self.image_keys, self.proprio_keys = tuple(image_keys), tuple(proprio_keys)
        self.instructions: list[str] = []
        self.episodes: list[dict[str, Any]] = []
        train_actions, train_proprio = [], []
        self.uses_features = features is not None
        for path in paths:
            meta = open_demo_file(Path(path), obs_keys=(*image_keys, *stored_keys(self.proprio_keys)))
            table = features[str(Path(path).resolve())] if features is not None else None
            read_keys = (*(() if table is not None else image_keys), *stored_keys(self.proprio_keys))
            train, val = split_episodes(meta.names, val_fraction, seed)
            chosen = {"train": train, "val": val, "all": meta.names}[split]
            needed = set(chosen) if stats is not None else set(chosen) | set(train)  # train demos feed the stats
            for name in meta.names:
                if name not in needed:
                    continue
                demo = read_demo(meta.path, name, read_keys)
                proprio = file_features(demo.obs, self.proprio_keys)
                if name in train:
                    train_actions.append(demo.actions)
                    train_proprio.append(proprio)
                if name in chosen:
                    if table is not None:
                        if name not in table or len(table[name]) != len(demo.actions):
                            raise HarnessError(f"feature cache of {path} does not match its demo {name}")
                        visual = {"image_features": np.asarray(table[name], dtype=np.float32)}
                    else:
                        visual = {"images": np.stack([_resized(demo.obs[k], image_size) for k in image_keys], axis=1)}
                    self.episodes.append(
                        {
                            **visual,
                            "proprio": proprio.astype(np.float64),
                            "actions": demo.actions.astype(np.float64),
                            "instruction": str(demo.attrs.get("instruction", meta.instruction)),
                        }
                    )
        if not self.episodes:
            raise HarnessError(f"no {split} episodes in {', '.join(str(p) for p in paths)}")
        self.instructions = sorted({ep["instruction"] for ep in self.episodes})
        self.stats = stats or compute_stats(train_actions, train_proprio)
        self._action_norm = self.stats.action_normalizer(action_norm)
        self._proprio_norm = self.stats.proprio_normalizer()
        self.index = [(e, t) for e, ep in enumerate(self.episodes) for t in range(len(ep["actions"]))]

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, i: int) -> dict[str, Any]:
        e, t = self.index[i]
        ep = self.episodes[e]
        hist = history_indices(t, self.obs_horizon)
        T = len(ep["actions"])
        fut = np.arange(t, t + self.action_horizon)
        mask = fut < T
        fut = np.minimum(fut, T - 1)
        proprio = self._proprio_norm.normalize(ep["proprio"][hist])
        visual = "image_features" if self.uses_features else "images"
        return {
            visual: torch.from_numpy(ep[visual][hist]),
            "proprio": torch.from_numpy(proprio.astype(np.float32)),
            "actions": torch.from_numpy(self._action_norm.normalize(ep["actions"][fut]).astype(np.float32)),
            "action_mask": torch.from_numpy(mask),
            "instruction": ep["instruction"],
        }
