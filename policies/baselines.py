"""Baseline policies: ``random``, ``noop`` and ``replay`` (plays back a recorded action file)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from harness.errors import HarnessError
from harness.protocols import EpisodeSpec, Obs, TaskSpec
from harness.registry import POLICIES


class RandomPolicy:
    """Uniform random actions within the task's action bounds; chunks of length ``horizon``."""

    def __init__(self, horizon: int = 1):
        self.horizon = self.chunk_length = horizon
        self._task: TaskSpec | None = None
        self._rng = np.random.default_rng(0)

    def reset(self, episode: EpisodeSpec) -> None:
        self._task = episode.task
        self._rng = np.random.default_rng(episode.seed)

    def _draw(self, rng: np.random.Generator, n: int) -> np.ndarray:
        assert self._task is not None, "reset() first"
        low = np.asarray(self._task.action_low, dtype=np.float32)
        high = np.asarray(self._task.action_high, dtype=np.float32)
        return rng.uniform(low, high, size=(n, self.horizon, low.size)).astype(np.float32)

    def act(self, obs: Obs) -> np.ndarray:
        """float32 [H, Da]."""
        return self._draw(self._rng, 1)[0]

    def sample(self, obs: Obs, n: int, rng: np.random.Generator) -> np.ndarray:
        """float32 [n, H, Da], independent uniform draws."""
        return self._draw(rng, n)


class NoopPolicy:
    """All-zero actions (no motion). Deterministic: ``sample`` repeats the same chunk n times."""

    def __init__(self, horizon: int = 1):
        self.horizon = self.chunk_length = horizon
        self._dim = 0

    def reset(self, episode: EpisodeSpec) -> None:
        self._dim = episode.task.action_dim

    def act(self, obs: Obs) -> np.ndarray:
        return np.zeros((self.horizon, self._dim), dtype=np.float32)

    def sample(self, obs: Obs, n: int, rng: np.random.Generator) -> np.ndarray:
        return np.repeat(self.act(obs)[None], n, axis=0)


class ReplayPolicy:
    """Plays back recorded actions from an ``.npz`` file (loaded without pickle).

    Keys looked up per episode, first match wins: ``task{task_id}_init{init_index}``, ``task{task_id}``,
    ``actions``; each float [T, Da]. After T steps the policy emits zeros (no motion).
    Deterministic: ``sample`` repeats the recorded chunk.
    """

    chunk_length = 1  # one recorded action per call

    def __init__(self, checkpoint: str | None):
        if checkpoint is None:
            raise HarnessError("policy 'replay' needs --checkpoint FILE.npz (recorded actions)")
        path = Path(checkpoint)
        if path.is_dir():
            path = path / "actions.npz"
        if not path.is_file():
            raise HarnessError(f"replay action file not found: {path}")
        try:
            with np.load(path, allow_pickle=False) as data:
                self._tracks = {k: np.asarray(data[k], dtype=np.float32) for k in data.files}
        except Exception as exc:  # noqa: BLE001 - any decode failure is a bad user file
            raise HarnessError(f"cannot read replay file {path}: {type(exc).__name__}: {exc}") from exc
        for key, arr in self._tracks.items():
            if arr.ndim != 2:
                raise HarnessError(f"replay file {path}: array {key!r} must be [T, Da], got shape {arr.shape}")
        self._track = np.zeros((0, 0), dtype=np.float32)
        self._t = 0
        self._dim = 0

    def reset(self, episode: EpisodeSpec) -> None:
        task = episode.task
        self._dim = task.action_dim
        for key in (f"task{task.task_id}_init{episode.init_index}", f"task{task.task_id}", "actions"):
            if key in self._tracks:
                self._track = self._tracks[key]
                break
        else:
            raise HarnessError(
                f"replay file has no actions for task {task.task_id} init {episode.init_index} "
                f"(keys: {', '.join(sorted(self._tracks))})"
            )
        self._t = 0

    def act(self, obs: Obs) -> np.ndarray:
        """float32 [1, Da]: the next recorded action (zeros once the recording is exhausted)."""
        if self._t < len(self._track):
            action = self._track[self._t]
        else:
            action = np.zeros(self._dim, dtype=np.float32)
        self._t += 1
        return action[None].copy()

    def sample(self, obs: Obs, n: int, rng: np.random.Generator) -> np.ndarray:
        chunk = self.act(obs)
        return np.repeat(chunk[None], n, axis=0)


@POLICIES.register("random")
def build_random(checkpoint: str | None = None) -> RandomPolicy:
    return RandomPolicy()


@POLICIES.register("noop")
def build_noop(checkpoint: str | None = None) -> NoopPolicy:
    return NoopPolicy()


@POLICIES.register("replay")
def build_replay(checkpoint: str | None = None) -> ReplayPolicy:
    return ReplayPolicy(checkpoint)
