"""PyTorch dataset over demo files with action chunking, normalisation statistics and episode splits."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from harness.data.features import file_features, resize_image, stored_keys
from harness.data.hdf5_io import open_demo_file, read_demo
from harness.errors import HarnessError


@dataclass(frozen=True)
class NormStats:
    """Per-dimension statistics of actions and low-dimensional observations (saved beside the data)."""

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

    def normalize_action(self, a: np.ndarray, mode: str = "meanstd") -> np.ndarray:
        """``meanstd``: zero mean, unit std; ``minmax``: [min, max] -> [-1, 1] (constant dims -> 0)."""
        if mode == "minmax":
            span = np.maximum(self.action_max - self.action_min, 1e-6)
            return 2 * (a - self.action_min) / span - 1
        return (a - self.action_mean) / self.action_std

    def unnormalize_action(self, a: np.ndarray, mode: str = "meanstd") -> np.ndarray:
        if mode == "minmax":
            span = np.maximum(self.action_max - self.action_min, 1e-6)
            return (a + 1) / 2 * span + self.action_min
        return a * self.action_std + self.action_mean

    def normalize_proprio(self, p: np.ndarray) -> np.ndarray:
        return (p - self.proprio_mean) / self.proprio_std


def compute_stats(actions: Sequence[np.ndarray], proprio: Sequence[np.ndarray], eps: float = 1e-6) -> NormStats:
    """Statistics over all time steps of the given episodes ([T, Da] and [T, Dp] arrays)."""
    a = np.concatenate(actions)
    p = np.concatenate(proprio)
    return NormStats(a.mean(0), a.std(0) + eps, a.min(0), a.max(0), p.mean(0), p.std(0) + eps)


def split_episodes(names: Sequence[str], val_fraction: float, seed: int) -> tuple[list[str], list[str]]:
    """Deterministic split of episode names into (train, val); at least one train episode."""
    order = np.random.default_rng(seed).permutation(len(names))
    n_val = min(len(names) - 1, int(round(len(names) * val_fraction)))
    val = sorted(names[i] for i in order[:n_val])
    return [n for n in names if n not in val], val


def _resized(frames: np.ndarray, size: int | None) -> np.ndarray:
    """uint8 [T, H, W, 3] -> [T, size, size, 3] (unchanged when size is None)."""
    if size is None:
        return frames
    return np.stack([resize_image(f, size) for f in frames])


class DemoChunkDataset(Dataset):
    """Samples (observation history, action chunk) windows from demo files.

    ``image_size`` resizes every frame once at load time (None: keep the file's resolution).
    Item ``i`` -> dict:
        "images":      uint8 [To, V, H, W, 3]  the ``image_keys`` views, frames t-To+1..t (padded by repeating frame 0)
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
    ):
        if action_norm not in ("meanstd", "minmax"):
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
        for path in paths:
            meta = open_demo_file(Path(path), obs_keys=(*image_keys, *stored_keys(self.proprio_keys)))
            train, val = split_episodes(meta.names, val_fraction, seed)
            chosen = {"train": train, "val": val, "all": meta.names}[split]
            needed = set(chosen) if stats is not None else set(chosen) | set(train)  # train demos feed the stats
            for name in meta.names:
                if name not in needed:
                    continue
                demo = read_demo(meta.path, name, (*image_keys, *stored_keys(self.proprio_keys)))
                proprio = file_features(demo.obs, self.proprio_keys)
                if name in train:
                    train_actions.append(demo.actions)
                    train_proprio.append(proprio)
                if name in chosen:
                    self.episodes.append(
                        {
                            "images": np.stack([_resized(demo.obs[k], image_size) for k in image_keys], axis=1),
                            "proprio": proprio.astype(np.float64),
                            "actions": demo.actions.astype(np.float64),
                            "instruction": str(demo.attrs.get("instruction", meta.instruction)),
                        }
                    )
        if not self.episodes:
            raise HarnessError(f"no {split} episodes in {', '.join(str(p) for p in paths)}")
        self.instructions = sorted({ep["instruction"] for ep in self.episodes})
        self.stats = stats or compute_stats(train_actions, train_proprio)
        self.index = [(e, t) for e, ep in enumerate(self.episodes) for t in range(len(ep["actions"]))]

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, i: int) -> dict[str, Any]:
        e, t = self.index[i]
        ep = self.episodes[e]
        hist = np.clip(np.arange(t - self.obs_horizon + 1, t + 1), 0, None)
        T = len(ep["actions"])
        fut = np.arange(t, t + self.action_horizon)
        mask = fut < T
        fut = np.minimum(fut, T - 1)
        proprio = self.stats.normalize_proprio(ep["proprio"][hist])
        return {
            "images": torch.from_numpy(ep["images"][hist]),
            "proprio": torch.from_numpy(proprio.astype(np.float32)),
            "actions": torch.from_numpy(
                self.stats.normalize_action(ep["actions"][fut], self.action_norm).astype(np.float32)
            ),
            "action_mask": torch.from_numpy(mask),
            "instruction": ep["instruction"],
        }

    def save_stats(self, path: Path) -> None:
        Path(path).write_text(json.dumps(self.stats.to_json(), indent=2))


def load_stats(path: Path) -> NormStats:
    try:
        return NormStats.from_json(json.loads(Path(path).read_text()))
    except (OSError, json.JSONDecodeError, KeyError) as exc:
        raise HarnessError(f"cannot read normalisation stats {path}: {exc}") from exc
