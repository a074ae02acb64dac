"""World-model training data: demo frames embedded once by the frozen frame encoder, cut into segments.

A segment at step t of a demo: frames (t - S, t, t + S) (the first clipped to 0), the S actions a_t..a_t+S-1,
an explicit motion label (end-effector translation and rotation vector from t to t + S, mean gripper
command: 7 numbers, the same for every embodiment) and the embodiment name. Each frame is embedded in
three versions: clean, and two independently augmented ones (random shift + brightness) for the
cross-augmentation of LAC-WM (IDM sees version a, FDM sees version b).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from scipy.spatial.transform import Rotation

from harness.data.features import resize_image
from harness.data.hdf5_io import iter_demos, open_demo_file
from harness.errors import HarnessError
from harness.nn.vision import random_shift
from world_models.frame_ae import FrameAutoencoder, to_float


def embodiment_of(suite: str) -> str:
    """Robot of a suite: LIBERO -> panda, SIMPLER Bridge -> widowx (others: the suite name)."""
    if suite.startswith("libero"):
        return "panda"
    if suite.startswith("simpler_bridge"):
        return "widowx"
    return suite


def motion_label(ee_states: np.ndarray, actions: np.ndarray, t: int, s: int) -> np.ndarray:
    """[7]: ee translation, rotation vector of R_t^-1 R_t+s, mean gripper command over the segment."""
    d_pos = ee_states[t + s, :3] - ee_states[t, :3]
    rot = Rotation.from_rotvec(ee_states[t, 3:6]).inv() * Rotation.from_rotvec(ee_states[t + s, 3:6])
    return np.concatenate([d_pos, rot.as_rotvec(), [actions[t : t + s, -1].mean()]])


@torch.no_grad()
def embed_frames(
    encoder: FrameAutoencoder, frames: np.ndarray, seed: int, augment: bool, batch: int = 256
) -> torch.Tensor:
    """uint8 [F, S, S, 3] -> float16 [F, N, D]; with ``augment`` a random shift + brightness per frame."""
    gen = torch.Generator().manual_seed(seed)
    out = []
    for i in range(0, len(frames), batch):
        images = to_float(torch.from_numpy(frames[i : i + batch]))
        if augment:
            images = random_shift(images, 4, gen)
            images = (images * (0.8 + 0.4 * torch.rand((len(images), 1, 1, 1), generator=gen))).clamp(0, 1)
        out.append(encoder.encode(images).half())
    return torch.cat(out)


@dataclass
class Segments(torch.utils.data.Dataset):
    """Index over segments; embeddings are shared tensors, items are small dicts of tensors."""

    emb: dict[str, torch.Tensor]  # variant -> [F, N, D]
    rows: np.ndarray  # int [K, 3]: frame index of t - S, t, t + S
    actions: np.ndarray  # float32 [K, S, Da] (normalised per embodiment)
    motion: np.ndarray  # float32 [K, 7] (normalised)
    embodiment: np.ndarray  # int [K]

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int) -> dict[str, Any]:
        prev, t, nxt = self.rows[i]
        item = {
            f"{v}_{name}": self.emb[v][j].float()
            for v in self.emb
            for name, j in (("prev", prev), ("t", t), ("next", nxt))
        }
        item.update(
            {
                "actions": torch.from_numpy(self.actions[i]),
                "motion": torch.from_numpy(self.motion[i]),
                "embodiment": int(self.embodiment[i]),
            }
        )
        return item


def build_segments(
    paths: list[Path],
    encoder: FrameAutoencoder,
    segment: int,
    seed: int,
    val_fraction: float,
    embodiments: list[str] | None = None,
    action_stats: dict[str, dict[str, list[float]]] | None = None,
    motion_std: list[float] | None = None,
    rename: str = "",
) -> tuple[Segments, Segments | None, dict[str, Any]]:
    """Demo files -> (train, val, info). ``embodiments`` fixes the id order (new ones are appended);
    ``action_stats`` / ``motion_std`` reuse earlier normalisation (else computed from these files);
    ``rename`` labels every segment with that embodiment name (an adaptation target held out of pretraining)."""
    size = encoder.cfg.image_size
    frames, rows, acts, motions, emb_names, demo_ids = [], [], [], [], [], []
    embodiments = list(embodiments or [])
    per_emb_actions: dict[str, list[np.ndarray]] = {}
    n_demo = 0
    for path in paths:
        meta = open_demo_file(Path(path), obs_keys=("agentview_rgb", "ee_states"))
        robot = rename or embodiment_of(str(meta.env_args.get("suite", "unknown")))
        if robot not in embodiments:
            embodiments.append(robot)
        for demo in iter_demos(Path(path), ("agentview_rgb", "ee_states")):
            T, base = len(demo.actions), len(frames)
            frames.extend(resize_image(f, size) for f in demo.obs["agentview_rgb"])
            per_emb_actions.setdefault(robot, []).append(demo.actions)
            for t in range(0, T - segment):
                rows.append((base + max(0, t - segment), base + t, base + t + segment))
                acts.append(demo.actions[t : t + segment])
                motions.append(motion_label(demo.obs["ee_states"], demo.actions, t, segment))
                emb_names.append(robot)
                demo_ids.append(n_demo)
            n_demo += 1
    if not rows:
        raise HarnessError(f"no segments of {segment} steps in {', '.join(map(str, paths))}")
    if action_stats is None:
        action_stats = {}
    for robot, chunks in per_emb_actions.items():
        if robot not in action_stats:
            cat = np.concatenate(chunks)
            action_stats[robot] = {"mean": cat.mean(0).tolist(), "std": (cat.std(0) + 1e-6).tolist()}
    actions = np.stack(
        [
            (a - action_stats[r]["mean"]) / np.asarray(action_stats[r]["std"])
            for a, r in zip(acts, emb_names, strict=True)
        ]
    ).astype(np.float32)
    motion = np.stack(motions)
    if motion_std is None:
        motion_std = (motion.std(0) + 1e-6).tolist()
    motion = (motion / np.asarray(motion_std)).astype(np.float32)
    frames_arr = np.stack(frames)
    emb = {
        "clean": embed_frames(encoder, frames_arr, seed, augment=False),
        "a": embed_frames(encoder, frames_arr, seed + 1, augment=True),
        "b": embed_frames(encoder, frames_arr, seed + 2, augment=True),
    }
    ids = np.asarray([embodiments.index(r) for r in emb_names])
    order = np.random.default_rng(seed).permutation(n_demo)
    val_demos = set(order[: int(round(n_demo * val_fraction))].tolist()) if n_demo > 1 else set()
    is_val = np.asarray([d in val_demos for d in demo_ids])
    rows_arr, all_idx = np.asarray(rows), np.arange(len(rows))

    def subset(mask: np.ndarray) -> Segments:
        idx = all_idx[mask]
        return Segments(emb, rows_arr[idx], actions[idx], motion[idx], ids[idx])

    train = subset(~is_val)
    val = subset(is_val) if is_val.any() else None
    info = {
        "embodiments": embodiments,
        "action_stats": action_stats,
        "motion_std": motion_std,
        "action_dim": int(actions.shape[-1]),
        "segments": len(rows),
        "frames": len(frames_arr),
        "demos": n_demo,
        "val_demos": len(val_demos),
    }
    return train, val, info
