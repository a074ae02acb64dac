"""LAPA's training data: action-free clips labelled by the quantizer (latent stage), and demonstrations with
per-dimension quantile action bins fitted on them (action stage)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from harness.data.features import resize_image
from harness.data.hdf5_io import open_demo_file, read_demo
from harness.data.splits import split_files
from harness.errors import HarnessError
from harness.nn.action_bins import fit_quantile_bins
from harness.nn.text import TextEncoder
from harness.nn.training import TrainData
from harness.nn.vision import images_to_float, random_shift
from harness.policy.chunk_policy import chunk_policy_data, config_features, group_views
from policies.lapa.config import LapaConfig

LABEL_BATCH = 128


class LabelledFrames(torch.utils.data.Dataset):
    """Items {"images": uint8 [1, V, S, S, 3] (or, from cached frozen features, "image_features": float32
    [1, V, F]), "instruction": str, "codes": int64 [4]}."""

    def __init__(self, rows: list[tuple[np.ndarray, str, np.ndarray]], key: str = "images"):
        self.rows, self.key = rows, key

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int) -> dict[str, Any]:
        views, instruction, codes = self.rows[i]
        return {self.key: torch.from_numpy(views[None]), "instruction": instruction, "codes": torch.from_numpy(codes)}


def _label_group(laq: Any, frames: np.ndarray, gap: int) -> np.ndarray:
    """LAQ frames uint8 [T, s, s, 3] -> hard codes int64 [T - gap, 4] of every pair (x_t, x_{t+gap})."""
    out = []
    x = images_to_float(torch.from_numpy(frames))
    for start in range(0, len(frames) - gap, LABEL_BATCH):
        stop = min(start + LABEL_BATCH, len(frames) - gap)
        out.append(laq.label(x[start:stop], x[start + gap : stop + gap]).numpy())
    return np.concatenate(out) if out else np.zeros((0, 4), np.int64)


def latent_data(cfg: LapaConfig, paths: list[Path], seed: int, val_fraction: float) -> TrainData:
    """Clip (or demo) files -> frames x_t with the quantizer's codes of (x_t, x_{t+H}); split by clip."""
    from world_models.laq import load_laq

    cfg.validate()
    if not Path(cfg.laq).is_dir():
        raise HarnessError(f"lapa: laq checkpoint folder not found: {cfg.laq}")
    laq = load_laq(cfg.laq)
    gap, laq_key, laq_size = laq.cfg.frame_gap, laq.cfg.image_key, laq.cfg.image_size
    split = split_files(paths, val_fraction, seed, require_actions=False)
    train_rows, val_rows = [], []
    features = config_features(cfg, paths, with_clips=True) if cfg.cache_features else None
    keys = tuple(dict.fromkeys((*cfg.image_keys, laq_key)))
    for path in paths:
        meta = open_demo_file(Path(path), require_actions=False, obs_keys=keys)
        for name in meta.names:
            demo = read_demo(meta.path, name, keys)
            codes = _label_group(laq, np.stack([resize_image(f, laq_size) for f in demo.obs[laq_key]]), gap)
            views = group_views(cfg, demo.obs, features, path, name)  # [T, V, F] or [T, V, S, S, 3]
            instruction = str(demo.attrs.get("instruction", meta.instruction))
            rows = [(views[t], instruction, codes[t]) for t in range(len(codes))]
            (val_rows if split.is_val(path, name) else train_rows).extend(rows)
    if not train_rows:
        raise HarnessError(f"lapa: no clip in {', '.join(map(str, paths))} is longer than the quantizer's gap {gap}")
    text = TextEncoder(cfg.text_encoder)
    text.encode(sorted({r[1] for r in train_rows + val_rows}))  # cached before workers fork

    def to_batch(raw: dict[str, Any], gen: torch.Generator, device: torch.device, is_train: bool) -> dict:
        common = {
            "text": torch.from_numpy(text.encode(list(raw["instruction"]))).to(device),
            "codes": raw["codes"].to(device),
        }
        if features is not None:  # frozen features: no image augmentation (as chunk policies' cache_features)
            return {"image_features": raw["image_features"].to(device), **common}
        images = images_to_float(raw["images"])  # [B, 1, V, 3, S, S]
        if is_train and cfg.shift_pad > 0:
            b, t, v = images.shape[:3]
            images = random_shift(images.flatten(0, 2), cfg.shift_pad, gen).view(b, t, v, *images.shape[3:])
        return {"images": images.to(device), **common}

    all_codes = np.stack([r[2] for r in train_rows])
    info = {
        "stage": "latent",
        "laq": str(Path(cfg.laq).resolve()),
        "frame_gap": gap,
        "num_codes": int(all_codes.shape[1]),
        "codebook_size": int(laq.cfg.codebook_size),
        "train_samples": len(train_rows),
        "val_samples": len(val_rows),
        "codes_used": int(len(np.unique(all_codes))),
        "text_encoder": text.name,
    }
    key = "image_features" if features is not None else "images"
    val = LabelledFrames(val_rows, key) if val_rows else None
    return TrainData(LabelledFrames(train_rows, key), val, None, info, to_batch)


def action_data(cfg: LapaConfig, paths: list[Path], seed: int, val_fraction: float) -> TrainData:
    """Demonstrations (harness.policy.chunk_policy) plus quantile bins of their normalised training actions."""
    data = chunk_policy_data(cfg, paths, seed, val_fraction)
    actions = np.concatenate([np.asarray(ep["actions"]) for ep in data.train.episodes])  # type: ignore[attr-defined]
    normalised = data.stats.normalize_action(actions, cfg.action_norm) if data.stats is not None else actions
    dim = cfg.gripper_dim % normalised.shape[1]
    bins = fit_quantile_bins(normalised, cfg.bins, binary_dims=(dim,))
    data.info.update({"stage": "action", "action_bins": [list(e) for e in bins.edges], "bin_counts": bins.counts})
    return data


def make_data(cfg: LapaConfig, paths: list[Path], seed: int, val_fraction: float) -> TrainData:
    return latent_data(cfg, paths, seed, val_fraction) if cfg.stage == "latent" else action_data(
        cfg, paths, seed, val_fraction
    )
