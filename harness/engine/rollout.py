"""The one rollout loop every episode runs through: evaluation episodes (harness.engine.episode), demonstration
recording (harness.data.collect) and expert goal images (planners.goals).

Same seeding, validation and stopping rules everywhere: seed Python / NumPy / torch, reset the scene
(``episode.split`` / ``episode.init_index``), seed again (LIBERO reseeds NumPy inside reset), reset the
components, then repeat: one decision -> a validated chunk [H, Da] -> one ``env.step`` per action, the
policy's ``observe`` after every step, hooks before and after every step. Stops after the step where the
task succeeds (when ``stop_on_success``), where ``max_steps`` is reached, or where a hook asks to stop.

With ``needs`` (what the decisions read, harness.engine.render) and an env that renders on demand, cameras
render only at the steps whose observations a decision reads, and ``observe`` sees only those steps: the
decisions get byte-identical observations, for a fraction of the rendering.
"""

from __future__ import annotations

import random
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

from harness.engine.render import ObservationNeeds, env_renders_on_demand
from harness.errors import EpisodeError
from harness.protocols import EpisodeSpec, TaskEnv


class StepHook:
    """Something that watches a rollout (records data, frames, distances); subclasses override what they use."""

    def on_reset(self, obs: dict[str, Any]) -> None:
        pass

    def before_step(self, obs: dict[str, Any], action: np.ndarray) -> None:
        pass

    def after_step(self, obs: dict[str, Any], info: dict[str, Any], steps: int) -> bool:
        """Called after every env step; returning True ends the rollout after this step."""
        return False


@dataclass
class RolloutState:
    """What a rollout did; ``stage`` names the part running when an exception escaped (policy / simulator)."""

    obs: dict[str, Any] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)  # of the last step
    steps: int = 0
    decisions: int = 0
    clipped_steps: int = 0
    success_once: bool = False
    flags_once: dict[str, bool] = field(default_factory=dict)  # boolean info flags that held at any step
    reset_s: float = 0.0
    step_s: float = 0.0  # seconds spent in env.step
    rendered_steps: int = 0  # steps whose observation carried camera images (machine-independent)
    stage: str = "simulator"


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and (if imported) torch global RNGs for one episode."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.manual_seed(seed)


def validate_chunk(actions: Any, episode: EpisodeSpec, out_of_range: str) -> tuple[np.ndarray, np.ndarray]:
    """Check a chunk: shape [H, Da] (or [Da]), finite, within bounds.

    Returns (chunk float32 [H, Da], bool [H] rows that were clipped). Raises EpisodeError.
    """
    task = episode.task
    try:
        chunk = np.asarray(actions, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise EpisodeError(f"policy returned a non-numeric action ({type(actions).__name__})") from exc
    if chunk.ndim == 1:
        chunk = chunk[None]
    if chunk.ndim != 2 or chunk.shape[1] != task.action_dim or chunk.shape[0] == 0:
        raise EpisodeError(
            f"policy returned actions of shape {tuple(np.shape(actions))}, expected [H, {task.action_dim}]"
        )
    if not np.all(np.isfinite(chunk)):
        raise EpisodeError("policy returned non-finite actions (NaN or inf)")
    low = np.asarray(task.action_low, dtype=np.float32)
    high = np.asarray(task.action_high, dtype=np.float32)
    outside = np.any((chunk < low) | (chunk > high), axis=1)
    if outside.any():
        if out_of_range == "fail":
            raise EpisodeError(f"policy returned out-of-range actions (bounds {task.action_low}..{task.action_high})")
        chunk = np.clip(chunk, low, high)
    return chunk, outside


def _track_flags(info: dict[str, Any], once: dict[str, bool]) -> None:
    for key, value in info.items():
        if key != "success" and isinstance(value, (bool, np.bool_)):
            once[key] = once.get(key, False) or bool(value)


def rollout(
    env: TaskEnv,
    episode: EpisodeSpec,
    decide: Callable[[dict[str, Any], int], Any],
    components: Sequence[Any],
    max_steps: int,
    stop_on_success: bool,
    out_of_range: str = "clip",
    hooks: Sequence[StepHook] = (),
    observe: Callable[[dict[str, Any]], None] | None = None,
    state: RolloutState | None = None,
    needs: ObservationNeeds | None = None,
) -> RolloutState:
    """Run one episode (see the module docstring).

    ``decide(obs, steps_done)`` returns the next chunk; ``components`` are reset with the episode after the
    scene (policy, planner, ...); ``observe`` (the policy's) sees every step's observation (with ``needs``:
    every observation a decision reads). Pass ``state`` to read ``state.stage`` when an exception escapes."""
    schedule = needs if needs is not None and env_renders_on_demand(env) else None
    state = state if state is not None else RolloutState()
    t0 = time.perf_counter()
    seed_everything(episode.seed)
    state.obs = env.reset(episode.init_index, episode.seed, episode.split)
    seed_everything(episode.seed)  # some envs (LIBERO) reseed global NumPy inside reset
    state.reset_s = round(time.perf_counter() - t0, 4)
    state.stage = "policy"
    for component in components:
        component.reset(episode)
    for hook in hooks:
        hook.on_reset(state.obs)
    while True:
        state.stage = "policy"
        chunk, clipped = validate_chunk(decide(state.obs, state.steps), episode, out_of_range)
        state.decisions += 1
        for index, (action, was_clipped) in enumerate(zip(chunk, clipped, strict=True)):
            for hook in hooks:
                hook.before_step(state.obs, action)
            state.stage = "simulator"
            t_step = time.perf_counter()
            if schedule is None:
                consumed = True
                state.obs, state.info = env.step(action)
            else:
                consumed = schedule.consumed(index, len(chunk))
                cameras = schedule.cameras if consumed else ()
                state.obs, state.info = env.step(action, cameras=cameras)  # type: ignore[call-arg]
            state.step_s += time.perf_counter() - t_step
            state.steps += 1
            state.clipped_steps += int(was_clipped)
            state.rendered_steps += int(consumed and (schedule is None or bool(schedule.cameras)))
            if observe is not None and consumed:
                state.stage = "policy"
                observe(state.obs)
            state.stage = "hooks"
            _track_flags(state.info, state.flags_once)
            success = bool(state.info.get("success"))
            state.success_once |= success
            stop = [hook.after_step(state.obs, state.info, state.steps) for hook in hooks]
            if any(stop) or (stop_on_success and success) or state.steps >= max_steps:
                return state
