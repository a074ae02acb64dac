"""IGOR's training data: action-free clips labelled by the latent action model (foundation stage), and
demonstrations with the frozen foundation policy's description attached (low-level stage)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from harness.data.dataset import history_indices
from harness.data.features import resize_image
from harness.data.hdf5_io import open_demo_file, read_demo
from harness.data.splits import split_files
from harness.errors import HarnessError
from harness.nn.checkpoint import load_checkpoint
from harness.nn.text import TextEncoder
from harness.nn.training import TrainData
from harness.nn.vision import images_to_float, random_shift
from harness.policy.chunk_policy import chunk_policy_data, config_features, group_views, config_from_dict
from policies.igor.config import IgorConfig

# fields a low-level policy must share with its foundation policy: both read the same batch
SHARED_INPUTS = ("image_keys", "image_size", "obs_horizon", "vision", "vision_dim", "vision_widths", "text_encoder")


class LabelledHistories(torch.utils.data.Dataset):
    """Items {"images": uint8 [To, V, S, S, 3] (or "image_features": float32 [To, V, F]), "instruction": str,
    "latent": float32 [N, Dl]}: the history ending at o_t and the LAM's latent of (o_t, o_{t+H})."""

    def __init__(self, groups: list[tuple[np.ndarray, str, np.ndarray]], rows: list[tuple[int, int]], horizon: int,
                 key: str):  # fmt: skip
        self.groups, self.rows, self.horizon, self.key = groups, rows, horizon, key

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int) -> dict[str, Any]:
        g, t = self.rows[i]
        views, instruction, latents = self.groups[g]
        idx = history_indices(t, self.horizon)
        return {self.key: torch.from_numpy(views[idx]), "instruction": instruction,
                "latent": torch.from_numpy(latents[t])}  # fmt: skip


def foundation_data(cfg: IgorConfig, paths: list[Path], seed: int, val_fraction: float) -> TrainData:
    """Clip (or demo) files -> observation histories with the LAM's latent of their next transition."""
    from world_models.igor_lam import label_group, load_igor_lam

    cfg.validate()
    if not Path(cfg.lam).is_dir():
        raise HarnessError(f"igor: lam checkpoint folder not found: {cfg.lam}")
    lam = load_igor_lam(cfg.lam)
    key_lam, size_lam = lam.cfg.image_key, lam.cfg.image_size
    features = config_features(cfg, paths, with_clips=True) if cfg.cache_features else None
    split = split_files(paths, val_fraction, seed, require_actions=False)
    keys = tuple(dict.fromkeys((*cfg.image_keys, key_lam)))
    groups: list[tuple[np.ndarray, str, np.ndarray]] = []
    train_rows, val_rows, codes_seen = [], [], set()
    for path in paths:
        meta = open_demo_file(Path(path), require_actions=False, obs_keys=keys)
        for name in meta.names:
            demo = read_demo(meta.path, name, keys)
            latents, codes = label_group(lam, np.stack([resize_image(f, size_lam) for f in demo.obs[key_lam]]))
            if not len(latents):
                continue
            codes_seen.update(codes.flatten().tolist())
            views = group_views(cfg, demo.obs, features, path, name)  # [T, V, F] or [T, V, S, S, 3]
            groups.append((views, str(demo.attrs.get("instruction", meta.instruction)), latents))
            rows = [(len(groups) - 1, t) for t in range(len(latents))]
            (val_rows if split.is_val(path, name) else train_rows).extend(rows)
    if not train_rows:
        raise HarnessError(f"igor: no clip in {', '.join(map(str, paths))} is longer than the LAM's frame gap")
    text = TextEncoder(cfg.text_encoder)
    text.encode(sorted({g[1] for g in groups}))  # cached before workers fork

    def to_batch(raw: dict[str, Any], gen: torch.Generator, device: torch.device, is_train: bool) -> dict:
        common = {"text": torch.from_numpy(text.encode(list(raw["instruction"]))).to(device),
                  "latent": raw["latent"].to(device)}  # fmt: skip
        if features is not None:
            return {"image_features": raw["image_features"].to(device), **common}
        images = images_to_float(raw["images"])  # [B, To, V, 3, S, S]
        if is_train and cfg.shift_pad > 0:
            b, t, v = images.shape[:3]
            images = random_shift(images.flatten(0, 2), cfg.shift_pad, gen).view(b, t, v, *images.shape[3:])
        return {"images": images.to(device), **common}

    info = {
        "stage": "foundation",
        "lam": str(Path(cfg.lam).resolve()),
        "frame_gap": lam.cfg.frame_gap,
        "latent_shape": [lam.cfg.latent_tokens, lam.cfg.latent_dim],
        "codes_used": len(codes_seen),
        "train_samples": len(train_rows),
        "val_samples": len(val_rows),
        "text_encoder": text.name,
    }
    key = "image_features" if features is not None else "images"
    val = LabelledHistories(groups, val_rows, cfg.obs_horizon, key) if val_rows else None
    return TrainData(LabelledHistories(groups, train_rows, cfg.obs_horizon, key), val, None, info, to_batch)


def foundation_parent(cfg: IgorConfig) -> dict[str, Any]:
    """The foundation checkpoint's {"config", "data"} after checking it is one and reads the same inputs."""
    ckpt = load_checkpoint(cfg.foundation, component="policy", name="igor")
    parent = config_from_dict(IgorConfig, ckpt.meta["config"])
    if parent.stage != "foundation":
        raise HarnessError(f"igor: foundation {cfg.foundation} is a {parent.stage}-stage checkpoint")
    differ = [f for f in SHARED_INPUTS if f != "text_encoder" and getattr(parent, f) != getattr(cfg, f)]
    text_parent = ckpt.meta["data"].get("text_encoder")
    if TextEncoder(cfg.text_encoder).name != text_parent:
        differ.append("text_encoder")
    gap = ckpt.meta["data"].get("frame_gap")
    if gap is not None and int(gap) != cfg.action_horizon:
        raise HarnessError(f"igor: the foundation's latent spans {gap} steps (its LAM's frame_gap), action_horizon "
                           f"is {cfg.action_horizon}: IGOR decodes a latent into tau = frame_gap actions")  # fmt: skip
    if differ:
        shown = ", ".join(differ)
        raise HarnessError(f"igor: foundation {cfg.foundation} reads other inputs ({shown}); use its values")
    return {"config": ckpt.meta["config"], "data": ckpt.meta["data"], "path": str(Path(cfg.foundation).resolve())}


def lowlevel_data(cfg: IgorConfig, paths: list[Path], seed: int, val_fraction: float) -> TrainData:
    """Demonstrations (harness.policy.chunk_policy), plus the frozen foundation's description."""
    cfg.validate()
    parent = foundation_parent(cfg) if cfg.LATENT_INPUT else None
    data = chunk_policy_data(cfg, paths, seed, val_fraction)
    data.info["stage"] = "lowlevel"
    if parent is not None:
        data.info["foundation"] = parent
    return data


def make_data(cfg: IgorConfig, paths: list[Path], seed: int, val_fraction: float) -> TrainData:
    return foundation_data(cfg, paths, seed, val_fraction) if cfg.stage == "foundation" else lowlevel_data(
        cfg, paths, seed, val_fraction
    )

