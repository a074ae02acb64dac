"""A toy simulator served by ``tasks.external.server`` in tests (child side; standard library + numpy only)."""

from __future__ import annotations

import os
import sys
from typing import Any

import numpy as np

from harness.errors import HarnessError


class ToyEnv:
    REMOTE_METHODS = ("describe", "reset", "step", "final_metrics", "fail_cleanly", "raise_bug", "die", "chatter")

    def __init__(self, size: int, refuse: bool = False):
        if refuse:
            raise HarnessError("toy: refused to build")
        self.size, self.t = size, 0

    def describe(self) -> dict[str, Any]:
        return {"renders_on_demand": True}

    def reset(self, init_index: int, seed: int, split: str = "eval") -> dict[str, Any]:
        self.t = 0
        return self._obs(float(init_index + seed))

    def step(self, action: np.ndarray, cameras: list[str] | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
        self.t += 1
        obs = self._obs(float(action.sum()))
        if cameras is not None and "agentview_rgb" not in cameras:
            obs.pop("agentview_rgb")
        return obs, {"success": self.t >= 3, "dtype": str(action.dtype)}

    def final_metrics(self) -> dict[str, float]:
        return {"steps": float(self.t)}

    def _obs(self, value: float) -> dict[str, Any]:
        image = np.full((self.size, self.size + 1, 3), int(value) % 256, dtype=np.uint8)
        return {"agentview_rgb": image, "proprio": np.arange(4, dtype=np.float32) + value, "instruction": "do it"}

    def fail_cleanly(self) -> None:
        raise HarnessError("toy: no such scene")

    def raise_bug(self) -> None:
        raise ZeroDivisionError("division by zero\nsecond line")

    def die(self) -> None:
        print("toy: about to exit", file=sys.stderr, flush=True)
        os._exit(3)

    def chatter(self) -> str:
        print("stdout noise that must not reach the protocol", flush=True)
        return "still fine"
