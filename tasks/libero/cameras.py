"""Render LIBERO's cameras only at the steps that need them, with the images the always-render path gives.

robosuite samples every observable (cameras included) inside ``env.step`` when the observable's sampling
timer (0.002 s physics substeps summed against the 0.05 s control period, in floating point) comes due: in
the 25-substep control step that is a substep before its end, not at the end (measured: the observed
end-effector position is 96 % of the way through the step's motion). Rendering after the step would show a
slightly later state, so an on-demand image must come from the same place. We keep
robosuite's sampling untouched and swap only what a camera observable calls: its real sensor (renders) on
steps whose observation is read, a placeholder (no rendering) otherwise. The image a read step carries is
then produced by the same call, at the same substep, as on the always-render path.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable

import numpy as np

# observation key -> robosuite camera observable
CAMERA_OBSERVABLES = {"agentview_rgb": "agentview_image", "wrist_rgb": "robot0_eye_in_hand_image"}


class CameraSwitch:
    """Chooses which camera observables of a robosuite env render (see module docstring)."""

    def __init__(self, camera_size: int):
        placeholder = np.zeros((camera_size, camera_size, 3), dtype=np.uint8)

        def not_rendered(obs_cache: dict[str, Any]) -> np.ndarray:
            return placeholder

        not_rendered.__modality__ = "image"  # type: ignore[attr-defined]  (robosuite reads it)
        self._placeholder: Callable[[dict[str, Any]], np.ndarray] = not_rendered
        self._real: dict[str, Callable[[dict[str, Any]], np.ndarray]] = {}
        self._env: Any = None
        self.rendering: tuple[str, ...] = tuple(CAMERA_OBSERVABLES)

    def after_reset(self, inner_env: Any) -> None:
        """Take the real sensors after a (hard) reset, which re-creates them; every camera renders."""
        self._env = inner_env
        self._real = {key: inner_env._observables[name]._sensor for key, name in CAMERA_OBSERVABLES.items()}
        self.rendering = tuple(CAMERA_OBSERVABLES)

    def select(self, cameras: Iterable[str] | None) -> None:
        """Observation keys whose cameras render from now on (None: all)."""
        wanted = tuple(CAMERA_OBSERVABLES) if cameras is None else tuple(c for c in CAMERA_OBSERVABLES if c in cameras)
        if self._env is None or wanted == self.rendering:
            return
        for key, name in CAMERA_OBSERVABLES.items():
            self._env._observables[name]._sensor = self._real[key] if key in wanted else self._placeholder
        self.rendering = wanted
