"""Goal images for goal-conditioned planners and the subgoal-distance metrics of the LAC-WM paper.

``record_expert_goals`` runs the suite's scripted expert from the episode's own init state (PRIVILEGED
information: it uses the simulator state and is recorded as such in every run's manifest) and keeps the
camera frame every ``every`` steps plus the last one. Decision d of the evaluated episode targets
the subgoal that closes its window of ``every`` steps (the final frame once the demonstration has ended).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from harness.protocols import EpisodeSpec, Policy, TaskEnv, WorldModel
from harness.engine.rollout import StepHook, rollout

GOAL_MODES = ("none", "subgoals", "final")


@dataclass
class Goals:
    """Subgoal frames uint8 [H, W, 3] every ``every`` steps; ``final`` is the demonstration's last frame.
    ``states`` / ``final_state``: the expert's end-effector and object positions at the same moments
    ({name: xyz [3]}, from the privileged observation; empty where the env gives none), for the oracle."""

    frames: list[np.ndarray]
    every: int
    final: np.ndarray
    demo_success: bool
    mode: str = "subgoals"
    distances: list[float] = field(default_factory=list)
    states: list[dict[str, np.ndarray]] = field(default_factory=list)
    final_state: dict[str, np.ndarray] = field(default_factory=dict)

    def target(self, steps_done: int) -> np.ndarray:
        """The goal for a decision taken after ``steps_done`` env steps: the subgoal that ends the current
        window of ``every`` steps (the demo's last frame once the demo has ended, or in ``final`` mode)."""
        window = steps_done // self.every
        if self.mode == "final" or window >= len(self.frames):
            return self.final
        return self.frames[window]

    def target_state(self, steps_done: int) -> dict[str, np.ndarray]:
        """The positions that go with ``target(steps_done)``."""
        window = steps_done // self.every
        if self.mode == "final" or window >= len(self.states):
            return self.final_state
        return self.states[window]

    def subgoal_due_at(self, steps_done: int) -> np.ndarray | None:
        """The subgoal due at exactly ``steps_done`` steps (None between subgoals / after the demo)."""
        if steps_done < self.every or steps_done % self.every or steps_done // self.every > len(self.frames):
            return None
        return self.frames[steps_done // self.every - 1]


class GoalFrameRecorder(StepHook):
    """Rollout hook: keeps the camera frame every ``every`` steps; ends the demonstration at the first
    multiple of ``every`` at or after success (so the last subgoal shows the task done)."""

    def __init__(self, every: int):
        self.every, self.frames, self.states, self.success = every, [], [], False

    def after_step(self, obs: dict[str, Any], info: dict[str, Any], steps: int) -> bool:
        self.success = self.success or bool(info.get("success"))
        if steps % self.every == 0:
            self.frames.append(np.asarray(obs["agentview_rgb"]).copy())
            self.states.append(positions(obs))
            return self.success
        return False


def positions(obs: dict[str, Any]) -> dict[str, np.ndarray]:
    """End-effector and object positions {name: xyz [3]} of an observation's privileged state ({} without)."""
    priv = obs.get("privileged") or {}
    out = {"ee": np.asarray(priv["ee_pose"], dtype=np.float64)[:3]} if "ee_pose" in priv else {}
    for name, pose in (priv.get("objects") or {}).items():
        out[name] = np.asarray(pose, dtype=np.float64)[:3]
    return out


def record_expert_goals(
    env: TaskEnv, expert: Policy, episode: EpisodeSpec, every: int, max_steps: int, mode: str
) -> Goals:
    """Roll the expert out from ``episode``'s scene through the shared rollout loop; the caller resets
    the env again afterwards."""
    recorder = GoalFrameRecorder(every)
    decide = lambda obs, steps: expert.act(obs)  # noqa: E731
    state = rollout(env, episode, decide, (expert,), max_steps, False, "clip", (recorder,))
    final = np.asarray(state.obs["agentview_rgb"]).copy()
    return Goals(
        frames=recorder.frames, every=every, final=final, demo_success=recorder.success, mode=mode,
        states=recorder.states, final_state=positions(state.obs),
    )  # fmt: skip


def embedding_distance(world_model: WorldModel, frame: np.ndarray, goal: np.ndarray) -> float:
    """L2 distance between the world model's embeddings of two camera frames uint8 [H, W, 3]."""
    z = world_model.encode(np.stack([frame, goal]))
    return float(world_model.distance(z[:1], z[1:])[0])


def goal_metrics(goals: Goals, world_model: WorldModel | None, final_frame: np.ndarray) -> dict[str, Any]:
    """delta_f: mean subgoal distance over decisions; delta_f_g: distance of the last frame to the final goal."""
    out: dict[str, Any] = {"goal_demo_success": goals.demo_success, "goal_frames": len(goals.frames)}
    if world_model is not None:
        out["delta_f"] = float(np.mean(goals.distances)) if goals.distances else None
        out["delta_f_g"] = embedding_distance(world_model, final_frame, goals.final)
    return out
