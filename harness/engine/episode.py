"""One episode of the simulator-in-the-loop: reset, plan, validate actions, step, record."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from harness.errors import EpisodeError, HarnessError
from harness.engine.render import ObservationNeeds
from harness.engine.rollout import RolloutState, StepHook, rollout
from planners.goals import Goals, embedding_distance, goal_metrics
from harness.protocols import EpisodeSpec, Planner, Policy, TaskEnv, WorldModel

# Fields of an episode record that depend on the machine, not on the episode (excluded from
# determinism comparisons and from summaries).
TIMING_FIELDS = ("wall_s", "reset_s", "worker_pid")
# Per-decision planner stats (``record["plan_log"]``) whose key ends with this suffix are seconds
# (``time_s``, ``wm_s``): machine-dependent too.
PLAN_TIMING_SUFFIX = "_s"


def strip_timing(record: dict[str, Any]) -> dict[str, Any]:
    """The record without machine-dependent fields (top-level and inside ``plan_log``): what two runs of
    the same episode must agree on. Use this wherever records are compared for identity."""
    out = {k: v for k, v in record.items() if k not in TIMING_FIELDS}
    if "plan_log" in out:
        out["plan_log"] = [
            {k: v for k, v in stats.items() if not k.endswith(PLAN_TIMING_SUFFIX)} for stats in out["plan_log"]
        ]
    return out


def blank_record(episode: EpisodeSpec, error: str | None = None) -> dict[str, Any]:
    """An episode record with nothing achieved (also used for episodes lost to a crashed worker)."""
    return {
        "index": episode.index,
        "key": episode.key,
        "task_id": episode.task.task_id,
        "task": episode.task.name,
        "episode": episode.episode,
        "init_index": episode.init_index,
        "seed": episode.seed,
        "success": False,
        "success_once": False,
        "success_at_end": False,
        "steps": 0,
        "clipped_steps": 0,
        "error": error,
        "metrics": {},
        "decisions": 0,
        "worker_pid": os.getpid(),
    }


def run_episode(
    env: TaskEnv,
    policy: Policy,
    planner: Planner,
    episode: EpisodeSpec,
    max_steps: int,
    stop_on_success: bool,
    headline: str = "success_once",
    out_of_range: str = "clip",
    video_path: Path | None = None,
    video_fps: int = 20,
    world_model: WorldModel | None = None,
    goals: Goals | None = None,
    needs: ObservationNeeds | None = None,
) -> dict[str, Any]:
    """Run one episode and return its record (a JSON-able dict; see results.summarize).

    With ``goals``, each decision gets the subgoal closing its window of p steps, and (given a world model)
    the distance between the frame reached at step i * p and subgoal i is recorded (delta_f, delta_f_g).
    Each decision's planner stats go to ``record["plan_log"]``. ``needs``: what the decisions read (cameras
    then render only for those observations, harness.engine.render); ignored with a video or goals, which
    read images of other steps.
    """
    record = blank_record(episode)
    video = VideoHook(env) if video_path is not None else None
    distances = SubgoalDistanceHook(goals, world_model) if goals is not None and world_model is not None else None
    hooks: list[StepHook] = [h for h in (video, distances) if h is not None]

    def decide(obs: dict[str, Any], steps: int) -> np.ndarray:
        goal = goals.target(steps) if goals is not None else None
        t_plan = time.perf_counter()
        plan = planner.plan(obs, goal, policy, world_model)
        if plan.stats:
            record.setdefault("plan_log", []).append({**plan.stats, "time_s": round(time.perf_counter() - t_plan, 4)})
        return plan.actions

    attach = getattr(planner, "attach_simulator", None)  # planners that branch the real simulator (the oracle)
    if attach is not None:
        attach(env, goals)
    state = RolloutState()
    t0 = time.perf_counter()
    try:
        rollout(
            env,
            episode,
            decide,
            (policy, planner),
            max_steps,
            stop_on_success,
            out_of_range,
            hooks,
            getattr(policy, "observe", None),  # policies with observation history see every step they read
            state,
            needs if not hooks and goals is None else None,  # videos and goal metrics read every step
        )
        record["success_once"] = state.success_once
        record["success_at_end"] = bool(state.info.get("success", False))
        metrics: dict[str, Any] = {f"{k}_once": v for k, v in state.flags_once.items()}
        metrics.update({f"{k}_at_end": bool(v) for k, v in state.info.items() if k in state.flags_once})
        if hasattr(env, "final_metrics"):
            metrics.update(env.final_metrics())  # type: ignore[attr-defined]
        if goals is not None:
            metrics.update(goal_metrics(goals, world_model, state.obs["agentview_rgb"]))
        record["metrics"] = metrics
    except HarnessError:
        raise
    except EpisodeError as exc:
        record["error"] = f"policy: {exc}"
    except Exception as exc:  # noqa: BLE001 - any fault inside the episode is recorded, not fatal
        record["error"] = f"{state.stage}: {type(exc).__name__}: {exc}"
    record.update(
        steps=state.steps, decisions=state.decisions, clipped_steps=state.clipped_steps, reset_s=state.reset_s
    )
    if record["error"] is not None:
        record["success_once"] = record["success_at_end"] = False
    record["success"] = bool(record[headline])
    record["wall_s"] = round(time.perf_counter() - t0, 4)
    if video is not None and video.frames:
        record["video"] = video_path.name
        write_video(video_path, video.frames, video_fps)
    return record


class VideoHook(StepHook):
    """Keeps the env's video frame after reset and after every step."""

    def __init__(self, env: TaskEnv):
        self.env, self.frames = env, []

    def on_reset(self, obs: dict[str, Any]) -> None:
        self.frames.append(self.env.render_frame(obs))  # type: ignore[attr-defined]

    def after_step(self, obs: dict[str, Any], info: dict[str, Any], steps: int) -> bool:
        self.frames.append(self.env.render_frame(obs))  # type: ignore[attr-defined]
        return False


class SubgoalDistanceHook(StepHook):
    """At each subgoal's time, the world-model distance between the frame reached and that subgoal."""

    def __init__(self, goals: Goals, world_model: WorldModel):
        self.goals, self.world_model = goals, world_model

    def after_step(self, obs: dict[str, Any], info: dict[str, Any], steps: int) -> bool:
        due = self.goals.subgoal_due_at(steps)
        if due is not None:
            self.goals.distances.append(embedding_distance(self.world_model, obs["agentview_rgb"], due))
        return False


def write_video(path: Path, frames: list[np.ndarray], fps: int) -> None:
    """Write frames uint8 [H, W, 3] to an mp4 via a temp file + rename."""
    import imageio.v2 as imageio

    tmp = path.with_name(f".{path.stem}.tmp.mp4")
    with imageio.get_writer(tmp, fps=fps, codec="libx264", quality=7, macro_block_size=8) as writer:
        for frame in frames:
            writer.append_data(np.ascontiguousarray(frame))
    os.replace(tmp, path)
