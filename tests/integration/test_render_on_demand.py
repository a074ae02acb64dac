"""Render only what is consumed, on the real simulators: a policy that reads the last two observations of two
cameras gets byte-identical inputs, and the episode record is identical, whether every step renders or only
the steps its decisions read."""

from __future__ import annotations

import hashlib
from collections import deque

import numpy as np
import pytest

from harness.engine.episode import run_episode, strip_timing
from harness.engine.render import ObservationNeeds
from harness.protocols import EpisodeSpec
from harness.registry import PLANNERS, SUITES

pytestmark = pytest.mark.sim


class ImageDrivenPolicy:
    """Acts from its camera history (so a wrong image changes the episode) and records, at every decision,
    digests of exactly what it read: the last ``history`` observations' images and proprio."""

    def __init__(self, cameras: tuple[str, ...], action_dim: int, gripper: float, scale: float, history: int = 2):
        self.observation_needs = ObservationNeeds(history=history, cameras=cameras)
        self.chunk_length, self.execute_steps = 8, 8
        self.cameras, self.action_dim, self.gripper, self.scale = cameras, action_dim, gripper, scale
        self._history: deque = deque(maxlen=history)
        self.read: list[list[str]] = []

    def reset(self, episode: EpisodeSpec) -> None:
        self._history.clear()
        self.read = []

    def observe(self, obs: dict) -> None:
        self._history.append({k: np.asarray(obs[k]).copy() for k in (*self.cameras, "proprio")})

    def act(self, obs: dict) -> np.ndarray:
        if not self._history:
            self.observe(obs)
        window = list(self._history)
        self.read.append([hashlib.sha1(np.ascontiguousarray(o[k]).tobytes()).hexdigest() for o in window for k in o])
        brightness = np.array([float(o[k].mean()) for o in window for k in self.cameras])
        direction = np.sin(np.resize(brightness, self.action_dim - 1) + np.arange(self.action_dim - 1))
        step = np.concatenate([direction * self.scale, [self.gripper]])
        return np.tile(step.astype(np.float32), (self.chunk_length, 1))

    def sample(self, obs: dict, n: int, rng: np.random.Generator) -> np.ndarray:
        return np.stack([self.act(obs)] * n)


def _episode(suite_name: str, max_steps: int, needs_on: bool) -> tuple[dict, list, int]:
    suite = SUITES.build(suite_name)
    task = suite.select(None)[0]
    env = suite.make_env(task)
    libero = suite_name.startswith("libero")
    cameras = ("agentview_rgb", "wrist_rgb") if libero else ("agentview_rgb",)
    # LIBERO: normalised deltas, -1 opens; SIMPLER: metres / radians per step, +1 opens
    policy = ImageDrivenPolicy(cameras, task.action_dim, gripper=-1.0 if libero else 1.0, scale=0.3 if libero else 0.01)
    planner = PLANNERS.build("direct")
    counted = _CountingEnv(env)
    episode = EpisodeSpec(index=0, task=task, episode=0, init_index=1, seed=7)
    try:
        record = run_episode(
            counted, policy, planner, episode, max_steps=max_steps, stop_on_success=True,
            needs=policy.observation_needs if needs_on else None,
        )  # fmt: skip
    finally:
        env.close()
    return strip_timing(record), policy.read, counted.rendered


class _CountingEnv:
    """Passes through to the env and counts steps whose observation carries images."""

    def __init__(self, env):  # type: ignore[no-untyped-def]
        self.env, self.spec, self.rendered = env, env.spec, 0
        self.renders_on_demand = env.renders_on_demand

    def reset(self, *args):  # type: ignore[no-untyped-def]
        return self.env.reset(*args)

    def step(self, action, **kwargs):  # type: ignore[no-untyped-def]
        obs, info = self.env.step(action, **kwargs)
        self.rendered += int("agentview_rgb" in obs)
        return obs, info

    def final_metrics(self):  # type: ignore[no-untyped-def]
        return self.env.final_metrics() if hasattr(self.env, "final_metrics") else {}

    def close(self) -> None:
        self.env.close()


@pytest.mark.parametrize("suite_name,max_steps", [("libero_object", 24), ("simpler_bridge", 16)])
def test_on_demand_rendering_gives_the_policy_the_same_bytes_and_the_same_record(suite_name, max_steps):
    every_record, every_read, every_rendered = _episode(suite_name, max_steps, needs_on=False)
    lazy_record, lazy_read, lazy_rendered = _episode(suite_name, max_steps, needs_on=True)
    assert every_record["steps"] == max_steps and every_record["error"] is None
    assert len(every_read) == max_steps // 8 and every_read == lazy_read  # every decision read the same bytes
    assert lazy_record == every_record
    assert every_rendered == max_steps and lazy_rendered == 2 * (max_steps // 8)  # last 2 steps of each chunk
