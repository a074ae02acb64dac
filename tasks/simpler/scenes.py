"""Training scenes for SIMPLER Bridge: object placements sampled in the ranges of SIMPLER's fixed evaluation
configurations, never equal to one of them.

SIMPLER's evaluation configuration i (``episode_id`` i) picks object positions from a small grid
(``xyz_configs`` [P, n_obj, 3]) and orientations from a short list (``quat_configs`` [Q, n_obj, 4], wxyz).
Training scene k of a task draws, with ``SeedSequence([TRAIN_SEED_BASE, task_id, k])``:
- each object's xy uniformly in the bounding box of its evaluation positions (z as in evaluation);
- source and target at least as far apart as in the closest evaluation configuration;
- an orientation from the evaluation list, with the source object turned by a uniform yaw in +-15 degrees;
and rejects any draw whose positions come within 5 mm of an evaluation configuration's (all objects), so a
training scene is provably not an evaluation scene.
"""

from __future__ import annotations

import numpy as np

from harness.errors import HarnessError
from harness.engine.scenes import TRAIN_SEED_BASE

YAW_JITTER_RAD = np.deg2rad(15.0)
MIN_OFFSET_FROM_EVAL_M = 0.005
MAX_TRIES = 10_000


def _yaw_quat_wxyz(yaw: float) -> np.ndarray:
    return np.array([np.cos(yaw / 2), 0.0, 0.0, np.sin(yaw / 2)])


def _quat_mul_wxyz(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    w1, x1, y1, z1 = a
    w2, x2, y2, z2 = b
    return np.array(
        [
            w1 * w2 - x1 * x2 - y1 * y2 - z1 * z2,
            w1 * x2 + x1 * w2 + y1 * z2 - z1 * y2,
            w1 * y2 - x1 * z2 + y1 * w2 + z1 * x2,
            w1 * z2 + x1 * y2 - y1 * x2 + z1 * w2,
        ]
    )


def sample_training_config(
    eval_xyz: np.ndarray, eval_quat: np.ndarray, task_id: int, index: int
) -> tuple[np.ndarray, np.ndarray]:
    """Evaluation grids xyz [P, n_obj, 3] and quat [Q, n_obj, 4] -> one training configuration
    (xyz [n_obj, 3], quat wxyz [n_obj, 4]) for training scene ``index`` of task ``task_id``."""
    eval_xyz = np.asarray(eval_xyz, dtype=np.float64)
    eval_quat = np.asarray(eval_quat, dtype=np.float64)
    rng = np.random.default_rng([TRAIN_SEED_BASE, task_id, index])
    low, high = eval_xyz[..., :2].min(axis=0), eval_xyz[..., :2].max(axis=0)  # [n_obj, 2]
    min_gap = float(np.min(np.linalg.norm(eval_xyz[:, 0, :2] - eval_xyz[:, 1, :2], axis=-1)))
    for _ in range(MAX_TRIES):
        xy = rng.uniform(low, high)
        if np.linalg.norm(xy[0] - xy[1]) < min_gap:
            continue
        offsets = np.linalg.norm(eval_xyz[..., :2] - xy[None], axis=-1).max(axis=1)  # [P]
        if offsets.min() < MIN_OFFSET_FROM_EVAL_M:
            continue
        xyz = eval_xyz[0].copy()
        xyz[:, 2] = eval_xyz[:, :, 2].mean(axis=0)
        xyz[:, :2] = xy
        quat = eval_quat[rng.integers(len(eval_quat))].copy()
        quat[0] = _quat_mul_wxyz(_yaw_quat_wxyz(rng.uniform(-YAW_JITTER_RAD, YAW_JITTER_RAD)), quat[0])
        return xyz, quat
    raise HarnessError(f"could not sample training scene {index} of task {task_id} away from the evaluation grid")


def is_evaluation_config(eval_xyz: np.ndarray, xyz: np.ndarray) -> bool:
    """True when positions xyz [n_obj, 3] are within 5 mm (xy, every object) of an evaluation configuration."""
    offsets = np.linalg.norm(np.asarray(eval_xyz)[..., :2] - np.asarray(xyz)[None, :, :2], axis=-1).max(axis=1)
    return bool(offsets.min() < MIN_OFFSET_FROM_EVAL_M)
