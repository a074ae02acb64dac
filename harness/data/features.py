"""One definition of the low-dimensional and image features shared by demo files and trained policies.

Env observations carry ``proprio`` float32 [9] = ee xyz, ee quaternion (suite's order), 2 finger joints.
Demo files (LIBERO layout) store the derived keys below; a policy trained on those keys recomputes them
from live observations with the same functions, so training and evaluation features cannot drift apart.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
from scipy.spatial.transform import Rotation

# demo-file image key -> env observation key
IMAGE_KEYS_FROM_ENV = {"agentview_rgb": "agentview_rgb", "eye_in_hand_rgb": "wrist_rgb"}


def resize_image(img: np.ndarray, size: int) -> np.ndarray:
    """uint8 [H, W, 3] -> uint8 [size, size, 3] (bilinear; returned unchanged when already that size)."""
    if img.shape[0] == size and img.shape[1] == size:
        return img
    from PIL import Image

    return np.asarray(Image.fromarray(img).resize((size, size), Image.BILINEAR))


def proprio_features(proprio: np.ndarray, quat_order: str) -> dict[str, np.ndarray]:
    """proprio [T, 9] -> ee_pos [T, 3], ee_ori (rotation vector) [T, 3], ee_states [T, 6], gripper_states [T, 2]."""
    proprio = np.asarray(proprio, dtype=np.float64)
    quat = proprio[:, 3:7] if quat_order == "xyzw" else proprio[:, [4, 5, 6, 3]]
    ee_ori = Rotation.from_quat(quat).as_rotvec()
    return {
        "ee_pos": proprio[:, :3],
        "ee_ori": ee_ori,
        "ee_states": np.concatenate([proprio[:, :3], ee_ori], axis=1),
        "gripper_states": proprio[:, 7:9],
    }


def live_features(
    obs: Mapping[str, Any], image_keys: tuple[str, ...], proprio_keys: tuple[str, ...], quat_order: str, size: int
) -> tuple[np.ndarray, np.ndarray]:
    """One env observation -> (images uint8 [V, size, size, 3], proprio float64 [Dp]) in demo-file layout."""
    images = np.stack([resize_image(np.asarray(obs[IMAGE_KEYS_FROM_ENV.get(k, k)]), size) for k in image_keys])
    feats = proprio_features(np.asarray(obs["proprio"])[None], quat_order)
    proprio = np.concatenate([feats[k][0] for k in proprio_keys])
    return images, proprio
