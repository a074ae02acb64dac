"""Observation adapters: the harness observation -> the request a policy server expects.

``harness``: the observation as the harness has it (``agentview_rgb``, ``wrist_rgb``, ``proprio``,
``instruction`` and whatever else the suite adds), for ``python -m harness.serve``; except ``privileged``
(simulator state for the scripted experts, which run in-process: no policy under test reads it).

``openpi_libero``: the request of openpi's LIBERO example client (``examples/libero/main.py``, read at the
source; the pi0 / pi0-FAST / pi05 LIBERO servers are trained on it):
    "observation/image", "observation/wrist_image": uint8 [224, 224, 3], the agentview and wrist frames turned
        180 degrees (``img[::-1, ::-1]``) and resized with padding to 224 x 224 (``image_tools.resize_with_pad``,
        PIL bilinear; reproduced here, not imported)
    "observation/state": float64 [8] = eef position [3] + eef orientation as axis-angle [3] (robosuite's
        ``quat2axisangle`` of the xyzw quaternion) + gripper qpos [2]
    "prompt": the task's language instruction (str)
Verified from that source: the keys, the rotation, the resize to 224, the state layout and its quaternion
conversion, replanning every 5 steps (``replan_steps``, our default ``execute_steps``), the 10 settle steps
(which the harness's LIBERO suites also take). Not the same: openpi's client renders at 256 x 256
(``LIBERO_ENV_RESOLUTION``) and resizes down, the harness renders 128 x 128 and resizes up, so the frames are
blurrier than the ones those models saw. The state comes from the harness's LIBERO ``proprio`` = eef_pos [3] +
eef_quat xyzw [4] + gripper_qpos [2] (tasks/libero/env.py), the same robosuite observations openpi reads.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from harness.errors import EpisodeError
from harness.protocols import Obs

OPENPI_IMAGE_SIZE = 224


@dataclass(frozen=True)
class Adapter:
    encode: Callable[[Obs], dict[str, Any]]
    execute_steps: int | None  # steps per chunk when neither the flag nor the server says (None: the whole chunk)
    consumes_images: bool | None  # None: as the server's metadata says


def quat_to_axis_angle(quat_xyzw: np.ndarray) -> np.ndarray:
    """Axis-angle [3] of a unit quaternion (x, y, z, w), as robosuite's ``transform_utils.quat2axisangle``."""
    q = np.asarray(quat_xyzw, dtype=np.float64)
    w = float(np.clip(q[3], -1.0, 1.0))
    den = math.sqrt(1.0 - w * w)
    if math.isclose(den, 0.0):
        return np.zeros(3)
    return q[:3] * 2.0 * math.acos(w) / den


def resize_with_pad(image: np.ndarray, size: int) -> np.ndarray:
    """uint8 [H, W, 3] -> [size, size, 3]: scaled to fit (bilinear), centred on black (openpi's
    ``image_tools.resize_with_pad``, which replicates ``tf.image.resize_with_pad``)."""
    from PIL import Image

    height, width = image.shape[:2]
    if (height, width) == (size, size):
        return image
    ratio = max(width / size, height / size)
    new_w, new_h = max(1, int(width / ratio)), max(1, int(height / ratio))
    resized = Image.fromarray(image).resize((new_w, new_h), resample=Image.BILINEAR)
    canvas = Image.new(resized.mode, (size, size), 0)
    canvas.paste(resized, (max(0, (size - new_w) // 2), max(0, (size - new_h) // 2)))
    return np.asarray(canvas)


def _openpi_frame(frame: Any) -> np.ndarray:
    image = np.asarray(frame)
    if image.dtype != np.uint8:
        image = (255 * image).astype(np.uint8) if np.issubdtype(image.dtype, np.floating) else image.astype(np.uint8)
    return resize_with_pad(np.ascontiguousarray(image[::-1, ::-1]), OPENPI_IMAGE_SIZE)


def harness_obs(obs: Obs) -> dict[str, Any]:
    """The observation without its ``privileged`` simulator state (see the module docstring)."""
    return {key: value for key, value in obs.items() if key != "privileged"}


def openpi_libero(obs: Obs) -> dict[str, Any]:
    """The request of openpi's LIBERO example (see the module docstring)."""
    missing = [k for k in ("agentview_rgb", "wrist_rgb", "proprio", "instruction") if k not in obs]
    if missing:
        raise EpisodeError(f"adapter openpi_libero needs observation keys {', '.join(missing)} (a LIBERO suite)")
    proprio = np.asarray(obs["proprio"], dtype=np.float64)
    if proprio.shape != (9,):
        raise EpisodeError(f"adapter openpi_libero needs LIBERO's proprio [9], got shape {proprio.shape}")
    return {
        "observation/image": _openpi_frame(obs["agentview_rgb"]),
        "observation/wrist_image": _openpi_frame(obs["wrist_rgb"]),
        "observation/state": np.concatenate([proprio[:3], quat_to_axis_angle(proprio[3:7]), proprio[7:9]]),
        "prompt": str(obs["instruction"]),
    }


ADAPTERS: dict[str, Adapter] = {
    "harness": Adapter(encode=harness_obs, execute_steps=None, consumes_images=None),
    "openpi_libero": Adapter(encode=openpi_libero, execute_steps=5, consumes_images=True),
}
