"""World-model training data: demo frames embedded once by the frozen frame encoder, cut into segments.

A segment at step t of a demo: frames (t - S, t, t + S) (the first clipped to 0), the S actions a_t..a_t+S-1,
an explicit motion label (end-effector translation and rotation vector from t to t + S, mean gripper
command in the common "+1 closes" convention: 7 numbers, the same for every embodiment) and the embodiment
name (the suite's declared ``embodiment``, from the file's ``env_args["suite"]``). Validation demos follow
harness.data.splits; normalisation (harness.data.normalize) is fitted on the training demos only.
Each frame is embedded in three versions: clean, and two independently augmented ones (random shift +
brightness, one draw per demo for all its frames, so a segment's input and target frames stay aligned) for the
cross-augmentation of LAC-WM (IDM sees version a, FDM sees version b).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import numpy as np
import torch
from scipy.spatial.transform import Rotation

from harness.data.features import resize_image
from harness.data.hdf5_io import Demo, DemoFile, open_demo_file, read_demo
from harness.data.normalize import mean_std, meanstd_normalizer, scale_normalizer
from harness.data.splits import DemoSplit, split_files
from harness.errors import HarnessError
from harness.nn.vision import shift_images
from world_models.frame_ae import FrameAutoencoder, to_float

if TYPE_CHECKING:
    from tasks.suite import SimSuite


def suite_of(meta: DemoFile) -> SimSuite:
    """The suite a demo file was recorded in (``env_args["suite"]``), built from the registry."""
    from harness.registry import SUITES

    name = meta.env_args.get("suite")
    if not name:
        raise HarnessError(f"{meta.path}: env_args records no 'suite' (needed for its embodiment and gripper sign)")
    return SUITES.build(str(name))


def motion_label(
    ee_states: np.ndarray, actions: np.ndarray, t: int, s: int, gripper_commands: Callable[[np.ndarray], np.ndarray]
) -> np.ndarray:
    """[7]: ee translation, rotation vector of R_t^-1 R_t+s, mean gripper command over the segment in the
    common convention (``gripper_commands``: the suite's map of actions [T, Da] to "+1 closes" commands [T])."""
    d_pos = ee_states[t + s, :3] - ee_states[t, :3]
    rot = Rotation.from_rotvec(ee_states[t, 3:6]).inv() * Rotation.from_rotvec(ee_states[t + s, 3:6])
    grip = np.asarray(gripper_commands(actions[t : t + s]), dtype=np.float64).mean()
    return np.concatenate([d_pos, rot.as_rotvec(), [grip]])


@torch.no_grad()
def embed_frames(
    encoder: FrameAutoencoder,
    frames: np.ndarray,
    seed: int,
    augment: bool,
    clip_of_frame: np.ndarray | None = None,
    batch: int = 256,
) -> torch.Tensor:
    """uint8 [F, S, S, 3] -> float16 [F, N, D]. With ``augment``: a random shift (up to 4 px) and brightness
    (x 0.8-1.2) drawn once per clip (``clip_of_frame``: int [F], the demo each frame belongs to) and applied to
    every frame of that clip, so a segment's frames t - S, t, t + S share one augmentation (the paper's
    A(O_t), A(O_t+1) pair; independent per-frame shifts would make the next frame unpredictable)."""
    pad = 4
    if augment:
        clips = np.zeros(len(frames), dtype=np.int64) if clip_of_frame is None else np.asarray(clip_of_frame)
        n_clips = int(clips.max()) + 1 if len(clips) else 0
        draws = [np.random.default_rng([seed, c]) for c in range(n_clips)]  # clip c's draw depends on (seed, c)
        offsets = np.array([d.integers(0, 2 * pad + 1, size=2) for d in draws], dtype=np.int64).reshape(-1, 2)
        ox, oy = torch.from_numpy(offsets[:, 0]), torch.from_numpy(offsets[:, 1])
        gain = torch.tensor([0.8 + 0.4 * d.random() for d in draws], dtype=torch.float32)
    out = []
    for i in range(0, len(frames), batch):
        images = to_float(torch.from_numpy(frames[i : i + batch]))
        if augment:
            idx = torch.from_numpy(clips[i : i + batch])
            images = shift_images(images, pad, ox[idx], oy[idx])
            images = (images * gain[idx].view(-1, 1, 1, 1)).clamp(0, 1)
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


@dataclass
class RawSegments:
    """Segments of demo files before normalisation and embedding (lists are aligned per segment)."""

    frames: list[np.ndarray] = field(default_factory=list)  # uint8 [S, S, 3] per frame
    clip_of_frame: list[int] = field(default_factory=list)  # the demo (0, 1, ...) each frame belongs to
    rows: list[tuple[int, int, int]] = field(default_factory=list)  # frame index of t - S, t, t + S
    actions: list[np.ndarray] = field(default_factory=list)  # [S, Da] env units
    motions: list[np.ndarray] = field(default_factory=list)  # [7] unnormalised motion labels
    robots: list[str] = field(default_factory=list)  # embodiment per segment
    is_val: list[bool] = field(default_factory=list)
    train_actions: dict[str, list[np.ndarray]] = field(default_factory=dict)  # robot -> [T, Da] of train demos
    embodiments: list[str] = field(default_factory=list)
    robot_of: dict[str, str] = field(default_factory=dict)  # embodiment label -> the suite's robot ("panda")
    demos: int = 0
    val_demos: int = 0

    def add_demo(self, demo: Demo, robot: str, segment: int, size: int, val: bool, suite: SimSuite) -> None:
        """Append one demo's frames and its segments of ``segment`` steps."""
        base = len(self.frames)
        self.frames.extend(resize_image(f, size) for f in demo.obs["agentview_rgb"])
        self.clip_of_frame.extend([self.demos] * (len(self.frames) - base))
        if not val:
            self.train_actions.setdefault(robot, []).append(demo.actions)
        for t in range(0, len(demo.actions) - segment):
            self.rows.append((base + max(0, t - segment), base + t, base + t + segment))
            self.actions.append(demo.actions[t : t + segment])
            self.motions.append(motion_label(demo.obs["ee_states"], demo.actions, t, segment, suite.gripper_commands))
            self.robots.append(robot)
            self.is_val.append(val)
        self.demos += 1
        self.val_demos += int(val)


def collect_segments(
    paths: list[Path], size: int, segment: int, split: DemoSplit, embodiments: list[str] | None = None, rename: str = ""
) -> RawSegments:
    """Demo files -> RawSegments; each file's embodiment is its suite's (or ``rename``), appended to
    ``embodiments`` when new; validation demos are those of ``split``."""
    raw = RawSegments(embodiments=list(embodiments or []))
    for path in paths:
        meta = open_demo_file(Path(path), obs_keys=("agentview_rgb", "ee_states"))
        suite = suite_of(meta)
        robot = rename or suite.embodiment or suite.name
        if robot not in raw.embodiments:
            raw.embodiments.append(robot)
        raw.robot_of[robot] = suite.embodiment or suite.name
        for name in meta.names:
            demo = read_demo(meta.path, name, ("agentview_rgb", "ee_states"))
            raw.add_demo(demo, robot, segment, size, split.is_val(path, name), suite)
    if not raw.rows:
        raise HarnessError(f"no segments of {segment} steps in {', '.join(map(str, paths))}")
    if all(raw.is_val):
        raise HarnessError(f"no training segments of {segment} steps in {', '.join(map(str, paths))}")
    return raw


def normalised_arrays(
    raw: RawSegments, action_stats: dict[str, dict[str, list[float]]], motion_std: list[float]
) -> tuple[np.ndarray, np.ndarray]:
    """(actions float32 [K, S, Da] normalised per embodiment, motion float32 [K, 7] divided by motion_std)."""
    norms = {r: meanstd_normalizer(st["mean"], st["std"]) for r, st in action_stats.items()}
    actions = np.stack([norms[r].normalize(a) for a, r in zip(raw.actions, raw.robots, strict=True)])
    motion = scale_normalizer(motion_std).normalize(np.stack(raw.motions))
    return actions.astype(np.float32), motion.astype(np.float32)


def build_segments(
    paths: list[Path],
    encoder: FrameAutoencoder,
    segment: int,
    seed: int,
    val_fraction: float,
    embodiments: list[str] | None = None,
    motion_std: list[float] | None = None,
    rename: str = "",
    augment_draw: str = "clip",
) -> tuple[Segments, Segments | None, dict[str, Any]]:
    """Demo files -> (train, val, info). ``embodiments`` fixes the id order (new ones are appended);
    ``motion_std`` reuses an earlier motion scaling (else computed); ``rename`` labels every segment with that
    embodiment name (an adaptation target held out of pretraining); ``augment_draw`` "clip" augments every
    frame of a demo alike, "frame" each frame on its own (an ablation: the FDM's input and target then differ
    in augmentation). The split is harness.data.splits'
    (by demo); action statistics per embodiment and motion_std come from the training demos only."""
    raw = collect_segments(
        paths, encoder.cfg.image_size, segment, split_files(paths, val_fraction, seed), embodiments, rename
    )
    action_stats = {robot: mean_std(chunks) for robot, chunks in raw.train_actions.items()}
    if motion_std is None:
        train_motion = np.stack([m for m, v in zip(raw.motions, raw.is_val, strict=True) if not v])
        motion_std = train_motion.std(0).tolist()
    actions, motion = normalised_arrays(raw, action_stats, motion_std)
    frames_arr = np.stack(raw.frames)
    clips = np.asarray(raw.clip_of_frame, dtype=np.int64) if augment_draw == "clip" else np.arange(len(frames_arr))
    emb = {
        "clean": embed_frames(encoder, frames_arr, seed, augment=False),
        "a": embed_frames(encoder, frames_arr, seed + 1, augment=True, clip_of_frame=clips),
        "b": embed_frames(encoder, frames_arr, seed + 2, augment=True, clip_of_frame=clips),
    }
    ids = np.asarray([raw.embodiments.index(r) for r in raw.robots])
    is_val, rows_arr = np.asarray(raw.is_val), np.asarray(raw.rows)

    def subset(mask: np.ndarray) -> Segments:
        idx = np.flatnonzero(mask)
        return Segments(emb, rows_arr[idx], actions[idx], motion[idx], ids[idx])

    info = {
        "embodiments": raw.embodiments,
        "robot_of": raw.robot_of,
        "action_stats": action_stats,
        "motion_std": motion_std,
        "action_dim": int(actions.shape[-1]),
        "segments": len(raw.rows),
        "frames": len(frames_arr),
        "demos": raw.demos,
        "val_demos": raw.val_demos,
    }
    return subset(~is_val), (subset(is_val) if is_val.any() else None), info
