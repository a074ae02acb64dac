"""One definition of the low-dimensional and image features shared by demo files and trained policies.

Env observations carry ``proprio`` float32 [9] = ee xyz, ee quaternion (suite's order), 2 finger joints.
Demo files (LIBERO layout) store the derived keys below; a policy trained on those keys recomputes them
from live observations with the same functions, so training and evaluation features cannot drift apart.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

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


def stacked_views(obs: dict[str, np.ndarray], keys: Sequence[str], size: int) -> np.ndarray:
    """A group's frames of every camera in ``keys`` (each uint8 [T, H, W, 3]) -> uint8 [T, V, size, size, 3]."""
    return np.stack([np.stack([resize_image(f, size) for f in obs[k]]) for k in keys], axis=1)


# Keys a policy may name in ``proprio_keys`` that are derived from stored fields when a file lacks them.
DERIVED_KEYS = ("ee_rot6d",)


def rotation_6d(rotation: Rotation) -> np.ndarray:
    """Continuous orientation feature [T, 6]: the first two columns of the rotation matrix (Zhou et al.).

    Unlike a rotation vector (which jumps between +pi and -pi for a gripper pointing down, as LIBERO's
    does) or a quaternion (q ~ -q), nearby orientations always give nearby features."""
    return rotation.as_matrix()[..., :, :2].transpose(0, 2, 1).reshape(-1, 6)


def proprio_features(proprio: np.ndarray, quat_order: str) -> dict[str, np.ndarray]:
    """proprio [T, 9] -> ee_pos [T, 3], ee_ori (rotation vector, LIBERO-format) [T, 3], ee_states [T, 6]
    (LIBERO-format pos + rotation vector), ee_rot6d (continuous, the policy input) [T, 6], gripper_states [T, 2]."""
    proprio = np.asarray(proprio, dtype=np.float64)
    quat = proprio[:, 3:7] if quat_order == "xyzw" else proprio[:, [4, 5, 6, 3]]
    rotation = Rotation.from_quat(quat)
    ee_ori = rotation.as_rotvec()
    return {
        "ee_pos": proprio[:, :3],
        "ee_ori": ee_ori,
        "ee_states": np.concatenate([proprio[:, :3], ee_ori], axis=1),
        "ee_rot6d": rotation_6d(rotation),
        "gripper_states": proprio[:, 7:9],
    }


def stored_keys(keys: tuple[str, ...]) -> tuple[str, ...]:
    """The demo-file fields needed to produce ``keys`` (derived keys read ``ee_states``)."""
    out = [k for k in keys if k not in DERIVED_KEYS]
    if any(k in DERIVED_KEYS for k in keys) and "ee_states" not in out:
        out.append("ee_states")
    return tuple(out)


def file_features(obs: Mapping[str, np.ndarray], keys: tuple[str, ...]) -> np.ndarray:
    """Demo-file observation fields -> float64 [T, Dp]: ``keys`` concatenated, derived keys computed from
    ``ee_states`` (so LIBERO-format files, which store rotation vectors only, work too)."""
    parts = []
    for key in keys:
        if key == "ee_rot6d" and key not in obs:
            parts.append(rotation_6d(Rotation.from_rotvec(np.asarray(obs["ee_states"], dtype=np.float64)[:, 3:6])))
        else:
            value = np.asarray(obs[key], dtype=np.float64)
            parts.append(value.reshape(len(value), -1))
    return np.concatenate(parts, axis=1)


def live_features(
    obs: Mapping[str, Any], image_keys: tuple[str, ...], proprio_keys: tuple[str, ...], quat_order: str, size: int
) -> tuple[np.ndarray, np.ndarray]:
    """One env observation -> (images uint8 [V, size, size, 3], proprio float64 [Dp]) in demo-file layout."""
    images = np.stack([resize_image(np.asarray(obs[IMAGE_KEYS_FROM_ENV.get(k, k)]), size) for k in image_keys])
    feats = proprio_features(np.asarray(obs["proprio"])[None], quat_order)
    proprio = np.concatenate([feats[k][0] for k in proprio_keys])
    return images, proprio
