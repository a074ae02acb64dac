"""Interfaces shared by every component: tasks, environments, policies, planners, world models.

Observation dict (what an env returns and a policy consumes), per step:
    "agentview_rgb": uint8 [H, W, 3]   third-person camera, as the simulator renders it
    "wrist_rgb":     uint8 [H, W, 3]   wrist camera (absent where the robot has none)
    "proprio":       float32 [Dp]      end-effector pose + gripper state (suite-specific layout)
    "instruction":   str               the task's language instruction
Actions are float32 [Da] per env step; policies act in chunks [H, Da].
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Protocol, runtime_checkable

import numpy as np

Obs = Mapping[str, Any]


@dataclass(frozen=True)
class TaskSpec:
    """One task of a suite (immutable; safe to send to worker processes)."""

    suite: str
    task_id: int
    name: str
    instruction: str
    max_steps: int
    num_init_states: int
    action_low: tuple[float, ...]
    action_high: tuple[float, ...]
    extra: tuple[tuple[str, str], ...] = ()

    @property
    def action_dim(self) -> int:
        return len(self.action_low)

    def get(self, key: str, default: str | None = None) -> str | None:
        return dict(self.extra).get(key, default)


@dataclass(frozen=True)
class EpisodeSpec:
    """Deterministic identity of one episode: same spec -> same episode, whatever the worker."""

    index: int  # position in the run's episode list
    task: TaskSpec
    episode: int  # episode number within the task
    init_index: int  # which scene of ``split``: fixed init state / configuration i, or training scene i
    seed: int
    split: str = "eval"  # "eval": the suite's fixed evaluation scenes; "train": sampled training scenes

    @property
    def scene(self) -> str:
        """Scene id, e.g. ``put_carrot_on_plate#eval3`` (see harness.engine.scenes)."""
        return f"{self.task.name}#{self.split}{self.init_index}"

    @property
    def key(self) -> str:
        return f"{self.task.task_id}:{self.episode}"


@runtime_checkable
class TaskEnv(Protocol):
    """A built simulator for one task (gymnasium-style, success in ``info``)."""

    spec: TaskSpec

    def reset(self, init_index: int, seed: int, split: str = "eval") -> dict[str, Any]:
        """Reset to evaluation scene ``init_index`` (split "eval": the suite's fixed init state /
        configuration) or to training scene ``init_index`` (split "train": sampled from the same placement
        distribution with seeds disjoint from evaluation; see harness.engine.scenes); settle steps included.
        Returns the obs dict."""

    def step(self, action: np.ndarray) -> tuple[dict[str, Any], dict[str, Any]]:
        """Apply one action [Da]; returns (obs, info) with info["success"]: bool and partial metrics."""

    def close(self) -> None: ...

    # Optional: ``renders_on_demand = True`` and ``step(action, cameras=...)``: the observation of that step
    # carries only the named images (``()``: none), rendered exactly as on a step that renders everything
    # (harness.engine.render decides which steps need them).


@runtime_checkable
class Policy(Protocol):
    """Maps observations to action chunks."""

    def reset(self, episode: EpisodeSpec) -> None:
        """Start of an episode: clear history, seed internal randomness from ``episode.seed``."""

    def act(self, obs: Obs) -> np.ndarray:
        """One action chunk float32 [H, Da]."""

    def sample(self, obs: Obs, n: int, rng: np.random.Generator) -> np.ndarray:
        """n candidate chunks float32 [n, H, Da] (deterministic policies: repetition + declared noise)."""

    # Optional: ``observe(obs)`` is called after every env step (not only at decisions) when a policy
    # defines it, so policies with an observation history see the same frame spacing as in training (with
    # ``observation_needs``: after every step whose observation a decision reads).
    # Optional attributes: ``chunk_length`` (steps per predicted chunk; planners may execute at most that
    # many) and ``execute_steps`` (steps of its chunk the policy itself executes per decision, used by the
    # ``direct`` planner; None or absent: the whole chunk).
    # What it reads (harness.engine.render): ``consumes_images = False`` (no camera at all) or
    # ``observation_needs`` (the last h observations, which cameras); undeclared: every camera, every step.


@dataclass
class PlanResult:
    """What a planner decided: actions to execute and diagnostics (never simulator success)."""

    actions: np.ndarray  # float32 [H, Da]
    scores: np.ndarray | None = None  # [N] candidate scores (lower is better) where candidates exist
    chosen: np.ndarray | None = None  # [k] indices of the chosen candidates
    stats: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PlannerOptions:
    """Planner flags as given on the command line (None: the planner's own default). Each planner reads only
    the fields its ``Options`` dataclass declares (see planners.setup)."""

    n_samples: int | None = None  # N candidate chunks drawn from the policy per decision
    top_k: int | None = None  # k best candidates averaged by wm_topk
    subgoal_every: int | None = None  # p: env steps executed per decision = spacing of subgoal images


@dataclass(frozen=True)
class PolicyOptions:
    """Policy flags as given on the command line (None: the policy's own default). Only a policy that declares
    an ``Options`` dataclass gets them, and reads the fields it declares (see harness.policy.build)."""

    policy_url: str | None = None  # policy server (``remote``): ws://HOST:PORT
    policy_adapter: str | None = None  # observation format sent to the server
    policy_timeout: float | None = None  # seconds to wait for each reply
    policy_connect_timeout: float | None = None  # seconds to connect and receive the server's metadata
    policy_execute_steps: int | None = None  # env steps executed per predicted chunk
    policy_sample_noise: float | None = None  # std of the declared sampling noise (normalised action units)
    policy_sample_noise_kind: str | None = None  # step: independent per step | chunk: one offset held over the chunk


@runtime_checkable
class WorldModel(Protocol):
    """Latent dynamics model used by planners."""

    segment: int  # env steps per world-model step (actions are chunked into segments of this length)

    def encode(self, images: np.ndarray) -> Any:
        """Camera frames uint8 [B, H, W, 3] -> embeddings [B, ...]."""

    def rollout(self, z: Any, actions: np.ndarray) -> Any:
        """Embeddings [1 or B, ...] and action chunks [B, T, Da] (T a multiple of ``segment``) ->
        predicted embeddings [B, T / segment, ...]."""

    def distance(self, a: Any, b: Any) -> np.ndarray:
        """L2 distances between embeddings a [B, ...] and b [1 or B, ...] -> float [B]."""

    # ``embodiment``: the robot whose actions it predicts (compared with the suite's before a run).


@runtime_checkable
class Planner(Protocol):
    """Chooses the chunk to execute from a policy (and optionally a world model). Declares ``Options``,
    ``needs_world_model`` and ``needs_goal`` as class attributes (see planners.setup)."""

    needs_world_model: bool
    needs_goal: bool

    def executed_steps(self) -> int | None:
        """Env steps executed per decision (None: the policy's own ``execute_steps``)."""

    def reset(self, episode: EpisodeSpec) -> None: ...

    def plan(self, obs: Obs, goal: np.ndarray | None, policy: Policy, world_model: WorldModel | None) -> PlanResult:
        """``goal``: the current subgoal camera frame uint8 [H, W, 3] (None when the run has no goals)."""
