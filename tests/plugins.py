"""Test-only components, registered through HARNESS_PLUGINS=tests.plugins (also in worker processes).

``toy_reach``: a 2-D point that must reach a goal (pure NumPy, instant), for fast tests of the
engine (workers, resume, crashes, bad policies) independent of the heavy simulators.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
import signal
import time
from typing import Any

import numpy as np

from harness.protocols import EpisodeSpec, Obs, TaskSpec
from harness.registry import PLANNERS, POLICIES, SUITES, WORLD_MODELS
from planners.vla import VlaMean
from policies.baselines import RandomPolicy
from tasks.suite import SimSuite


class ToyReachEnv:
    """Point at ``pos`` [2] moved by actions [2] in [-0.1, 0.1]; success when within 0.05 of the goal."""

    def __init__(self, spec: TaskSpec):
        self.spec = spec
        self.pos = np.zeros(2)
        self.goal = np.zeros(2)

    def reset(self, init_index: int, seed: int, split: str = "eval") -> dict[str, Any]:
        rng = np.random.default_rng([init_index, self.spec.task_id, 0 if split == "eval" else 1])
        self.pos = rng.uniform(-1, 1, 2)
        self.goal = rng.uniform(-1, 1, 2)
        self._noise = np.random.default_rng(seed)
        return self._obs()

    def step(self, action: np.ndarray) -> tuple[dict[str, Any], dict[str, Any]]:
        if os.environ.get("TOY_STEP_SLEEP"):
            time.sleep(float(os.environ["TOY_STEP_SLEEP"]))  # slows runs so a test can kill one mid-way
        self.pos = self.pos + np.asarray(action, dtype=np.float64) + self._noise.normal(0, 0.002, 2)
        near = bool(np.linalg.norm(self.pos - self.goal) < 0.05)
        return self._obs(), {"success": near, "moved": bool(np.abs(action).sum() > 0)}

    def _obs(self) -> dict[str, Any]:
        img = np.zeros((16, 16, 3), dtype=np.uint8)
        return {
            "agentview_rgb": img,
            "proprio": np.concatenate([self.pos, self.goal]).astype(np.float32),
            "instruction": self.spec.instruction,
        }

    def render_frame(self, obs: dict[str, Any]) -> np.ndarray:
        return obs["agentview_rgb"]

    def close(self) -> None:
        pass


def _toy_tasks() -> tuple[TaskSpec, ...]:
    return tuple(
        TaskSpec(
            suite="toy_reach",
            task_id=i,
            name=f"reach_{i}",
            instruction=f"reach goal {i}",
            max_steps=40,
            num_init_states=10,
            action_low=(-0.1, -0.1),
            action_high=(0.1, 0.1),
        )
        for i in range(3)
    )


@SUITES.register("toy_reach")
def build_toy_suite() -> SimSuite:
    return SimSuite(
        name="toy_reach",
        description="2-D point reaching (test only)",
        headline="success_once",
        default_policy="greedy",
        embodiment="point",
        training_scenes="goal and start drawn with another seed stream (test only)",
        load_tasks=_toy_tasks,
        build_env=lambda task, **kw: ToyReachEnv(task),
    )


class GreedyPolicy:
    """Moves toward the goal with a noisy step (succeeds often, not always)."""

    def reset(self, episode: EpisodeSpec) -> None:
        self.rng = np.random.default_rng(episode.seed)

    def act(self, obs: Obs) -> np.ndarray:
        pos, goal = obs["proprio"][:2], obs["proprio"][2:]
        step = np.clip(goal - pos, -0.1, 0.1) * self.rng.uniform(0.0, 1.0) + self.rng.normal(0, 0.03, 2)
        return step[None].astype(np.float32)

    def sample(self, obs: Obs, n: int, rng: np.random.Generator) -> np.ndarray:
        return np.stack([self.act(obs) for _ in range(n)])


class FaultyPolicy(GreedyPolicy):
    """Misbehaves in one way from its first step: 'nan', 'shape', 'range' (too large), 'raise'."""

    def __init__(self, fault: str):
        self.fault = fault

    def act(self, obs: Obs) -> np.ndarray:
        if self.fault == "nan":
            return np.full((1, 2), np.nan, dtype=np.float32)
        if self.fault == "shape":
            return np.zeros((1, 5), dtype=np.float32)
        if self.fault == "range":
            return np.full((1, 2), 5.0, dtype=np.float32)
        raise RuntimeError("policy exploded")


class CrashingPolicy(GreedyPolicy):
    """Kills its own process (SIGKILL, like a simulator segfault) in episode 1 of every task."""

    def reset(self, episode: EpisodeSpec) -> None:
        super().reset(episode)
        self.crash = episode.episode == 1

    def act(self, obs: Obs) -> np.ndarray:
        if self.crash:
            os.kill(os.getpid(), signal.SIGKILL)
        return super().act(obs)


class HistoryPolicy(GreedyPolicy):
    """Greedy 3-step chunks damped by the last observed motion: its actions depend on every ``observe`` call
    (as a chunk policy's observation history does), so tests see whether observations reach it."""

    def reset(self, episode: EpisodeSpec) -> None:
        super().reset(episode)
        self.seen: list[np.ndarray] = []

    def observe(self, obs: Obs) -> None:
        self.seen.append(np.array(obs["proprio"][:2]))

    def act(self, obs: Obs) -> np.ndarray:
        step = super().act(obs)[0]
        if len(self.seen) >= 2:
            step = step - 0.5 * (self.seen[-1] - self.seen[-2]) * (1 + len(self.seen) % 3)
        return np.repeat(step[None], 3, axis=0).astype(np.float32)


POLICIES.register("greedy")(lambda checkpoint=None: GreedyPolicy())
POLICIES.register("greedy_history")(lambda checkpoint=None: HistoryPolicy())
@PLANNERS.register("mean_every3")
class MeanEvery3(VlaMean):
    """vla_mean with another default p (a planner that would decide at other times)."""

    @dataclass(frozen=True)
    class Options(VlaMean.Options):
        subgoal_every: int = 3


POLICIES.register("random16")(lambda checkpoint=None: RandomPolicy(horizon=16))  # long enough chunks for planners
for _fault in ("nan", "shape", "range", "raise"):
    POLICIES.register(f"faulty_{_fault}")(lambda checkpoint=None, _f=_fault: FaultyPolicy(_f))
POLICIES.register("crashing")(lambda checkpoint=None: CrashingPolicy())


class MeanColourWorldModel:
    """A fake linear world model: embedding = mean RGB of the frame [3]; each 5-step segment adds the
    mean of its first three action dims. Lets planner tests know the right answer in advance."""

    segment = 5

    def __init__(self, checkpoint: str | None = None):
        self.calls = 0

    def encode(self, images: np.ndarray) -> np.ndarray:
        return np.asarray(images, dtype=np.float64).reshape(len(images), -1, 3).mean(axis=1) / 255.0

    def rollout(self, z: np.ndarray, actions: np.ndarray) -> np.ndarray:
        self.calls += 1
        b, t, _ = actions.shape
        steps = actions[..., :3].reshape(b, t // self.segment, self.segment, 3).mean(axis=2)
        return np.broadcast_to(z, (b, 3))[:, None] + np.cumsum(steps, axis=1)

    def distance(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.linalg.norm(np.asarray(a) - np.asarray(b), axis=-1)


WORLD_MODELS.register("mean_colour")(lambda checkpoint=None: MeanColourWorldModel(checkpoint))  # takes no embodiment
