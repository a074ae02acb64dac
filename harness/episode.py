"""One episode of the simulator-in-the-loop: reset, plan, validate actions, step, record."""

from __future__ import annotations

import os
import random
import time
from pathlib import Path
from typing import Any

import numpy as np

from harness.errors import EpisodeError, HarnessError
from harness.goals import Goals, embedding_distance, goal_metrics
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


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and (if imported) torch global RNGs for one episode."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch = __import__("sys").modules.get("torch")
    if torch is not None:
        torch.manual_seed(seed)


def validate_chunk(actions: Any, episode: EpisodeSpec, out_of_range: str) -> tuple[np.ndarray, np.ndarray]:
    """Check a policy chunk: shape [H, Da] (or [Da]), finite, within bounds.

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


def _track_metrics(info: dict[str, Any], once: dict[str, bool]) -> None:
    for key, value in info.items():
        if key != "success" and isinstance(value, (bool, np.bool_)):
            once[key] = once.get(key, False) or bool(value)


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
) -> dict[str, Any]:
    """Run one episode and return its record (a JSON-able dict; see results.summarize).

    With ``goals``, each decision gets the subgoal closing its window of p steps, and (given a world model)
    the distance between the frame reached at step i * p and subgoal i is recorded (delta_f, delta_f_g).
    Each decision's planner stats go to ``record["plan_log"]``.
    """
    record = blank_record(episode)
    frames: list[np.ndarray] = []
    once: dict[str, bool] = {}
    last_info: dict[str, Any] = {}
    t0 = time.perf_counter()
    stage = "simulator"
    try:
        seed_everything(episode.seed)
        obs = env.reset(episode.init_index, episode.seed, episode.split)
        seed_everything(episode.seed)  # some envs (LIBERO) reseed global NumPy inside reset
        record["reset_s"] = round(time.perf_counter() - t0, 4)
        stage = "policy"
        policy.reset(episode)
        planner.reset(episode)
        observe = getattr(policy, "observe", None)  # policies with observation history see every step
        if video_path is not None:
            frames.append(env.render_frame(obs))  # type: ignore[attr-defined]
        done = False
        while not done:
            stage = "policy"
            goal = goals.target(record["steps"]) if goals is not None else None
            t_plan = time.perf_counter()
            plan = planner.plan(obs, goal, policy, world_model)
            plan_s = time.perf_counter() - t_plan
            chunk, clipped = validate_chunk(plan.actions, episode, out_of_range)
            record["decisions"] += 1
            if plan.stats:
                record.setdefault("plan_log", []).append({**plan.stats, "time_s": round(plan_s, 4)})
            for action, was_clipped in zip(chunk, clipped, strict=True):
                stage = "simulator"
                obs, last_info = env.step(action)
                record["steps"] += 1
                if observe is not None:
                    stage = "policy"
                    observe(obs)
                    stage = "simulator"
                record["clipped_steps"] += int(was_clipped)
                _track_metrics(last_info, once)
                if goals is not None and world_model is not None:
                    due = goals.reached(record["steps"])
                    if due is not None:
                        goals.distances.append(embedding_distance(world_model, obs["agentview_rgb"], due))
                if video_path is not None:
                    frames.append(env.render_frame(obs))  # type: ignore[attr-defined]
                if last_info.get("success"):
                    record["success_once"] = True
                    if stop_on_success:
                        done = True
                        break
                if record["steps"] >= max_steps:
                    done = True
                    break
        record["success_at_end"] = bool(last_info.get("success", False))
        metrics = {f"{k}_once": v for k, v in once.items()}
        metrics.update({f"{k}_at_end": bool(v) for k, v in last_info.items() if k in once})
        if hasattr(env, "final_metrics"):
            metrics.update(env.final_metrics())  # type: ignore[attr-defined]
        if goals is not None:
            metrics.update(goal_metrics(goals, world_model, obs["agentview_rgb"]))
        record["metrics"] = metrics
    except HarnessError:
        raise
    except EpisodeError as exc:
        record["error"] = f"policy: {exc}"
    except Exception as exc:  # noqa: BLE001 - any fault inside the episode is recorded, not fatal
        record["error"] = f"{stage}: {type(exc).__name__}: {exc}"
    if record["error"] is not None:
        record["success_once"] = record["success_at_end"] = False
    record["success"] = bool(record[headline])
    record["wall_s"] = round(time.perf_counter() - t0, 4)
    if video_path is not None and frames:
        record["video"] = video_path.name
        write_video(video_path, frames, video_fps)
    return record


def write_video(path: Path, frames: list[np.ndarray], fps: int) -> None:
    """Write frames uint8 [H, W, 3] to an mp4 via a temp file + rename."""
    import imageio.v2 as imageio

    tmp = path.with_name(f".{path.stem}.tmp.mp4")
    with imageio.get_writer(tmp, fps=fps, codec="libx264", quality=7, macro_block_size=8) as writer:
        for frame in frames:
            writer.append_data(np.ascontiguousarray(frame))
    os.replace(tmp, path)
