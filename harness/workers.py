"""Local worker processes over jobs (episodes, demo generation), with crash isolation and replacement.

Every episode is fully determined by its EpisodeSpec (task, init state, seed), so results do not
depend on the number of workers or on which worker ran which episode. A worker that dies
mid-episode (segfault, OOM kill) has that episode recorded as an error and is replaced.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from pathlib import Path
from functools import partial
from typing import Any, Callable, Iterator, Protocol

from harness.episode import blank_record, run_episode
from harness.errors import HarnessError
from harness.protocols import EpisodeSpec, PlannerOptions, TaskEnv
from harness.goals import record_expert_goals
from harness.registry import PLANNERS, POLICIES, SUITES, WORLD_MODELS


@dataclass(frozen=True)
class RunContext:
    """What a worker needs to run any episode of a run (picklable)."""

    suite: str
    policy: str
    checkpoint: str | None
    planner: str
    max_steps: int | None
    out_of_range: str
    videos: int
    video_dir: str | None
    threads_per_worker: int = 0  # 0: leave the library defaults
    planner_options: PlannerOptions = PlannerOptions()
    world_model: str | None = None
    wm_checkpoint: str | None = None
    goal: str = "none"  # none | subgoals | final (expert demo frames; privileged)


class EpisodeRunner:
    """Builds components once and runs episodes; keeps the env of the current task only."""

    def __init__(self, ctx: RunContext):
        self.ctx = ctx
        self.suite = SUITES.build(ctx.suite)
        self.policy = POLICIES.build(ctx.policy, checkpoint=ctx.checkpoint)
        self.planner = PLANNERS.build(ctx.planner, options=ctx.planner_options)
        self.world_model = (
            WORLD_MODELS.build(ctx.world_model, checkpoint=ctx.wm_checkpoint) if ctx.world_model else None
        )
        self.expert = POLICIES.build("expert") if ctx.goal != "none" else None
        self._env: TaskEnv | None = None
        self._env_task: int | None = None

    def _env_for(self, episode: EpisodeSpec) -> TaskEnv:
        if self._env_task != episode.task.task_id:
            self.close()
            self._env = self.suite.make_env(episode.task)
            self._env_task = episode.task.task_id
        assert self._env is not None
        return self._env

    def run(self, episode: EpisodeSpec) -> dict[str, Any]:
        try:
            env = self._env_for(episode)
        except HarnessError:
            raise
        except Exception as exc:  # noqa: BLE001 - env build failure is an episode error
            self._env, self._env_task = None, None
            return blank_record(episode, f"simulator: env build failed: {type(exc).__name__}: {exc}")
        video = None
        if self.ctx.video_dir is not None and episode.episode < self.ctx.videos:
            video = Path(self.ctx.video_dir) / f"task{episode.task.task_id:02d}_ep{episode.episode:03d}.mp4"
        max_steps = self.ctx.max_steps or episode.task.max_steps
        goals = None
        if self.expert is not None:
            try:
                every = self.planner.executed_steps() or getattr(self.policy, "execute_steps", None) or 1
                goals = record_expert_goals(env, self.expert, episode, every, max_steps, self.ctx.goal)
            except HarnessError:
                raise
            except Exception as exc:  # noqa: BLE001 - a failed goal demo is an episode error
                return blank_record(episode, f"goal demo: {type(exc).__name__}: {exc}")
        return run_episode(
            env,
            self.policy,
            self.planner,
            episode,
            max_steps=max_steps,
            stop_on_success=self.suite.headline == "success_once",
            headline=self.suite.headline,
            out_of_range=self.ctx.out_of_range,
            video_path=video,
            video_fps=int(episode.task.get("video_fps", "20") or 20),
            world_model=self.world_model,
            goals=goals,
        )

    def close(self) -> None:
        if self._env is not None:
            try:
                self._env.close()
            except Exception:  # noqa: BLE001 - closing a broken env must not mask results
                pass
        self._env, self._env_task = None, None


class JobRunner(Protocol):
    """Runs one job at a time inside a worker; built once per worker by a picklable factory."""

    def run(self, job: Any) -> dict[str, Any]: ...

    def close(self) -> None: ...


def _worker_main(conn: Connection, make_runner: Callable[[], JobRunner], threads: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C
    if threads:
        for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
            os.environ[var] = str(threads)
    try:
        runner = make_runner()
    except HarnessError as exc:
        conn.send(("fatal", str(exc)))
        return
    try:
        conn.send(("ready", os.getpid()))
        while True:
            job = conn.recv()
            if job is None:
                break
            try:
                conn.send(("record", runner.run(job)))
            except HarnessError as exc:
                conn.send(("fatal", str(exc)))
                break
    except (BrokenPipeError, EOFError, ConnectionResetError):
        pass  # the parent is gone (killed or interrupted): exit quietly, it owns the results
    runner.close()


class _Worker:
    def __init__(self, mp_ctx: Any, make_runner: Callable[[], JobRunner], threads: int):
        self.conn, child = mp_ctx.Pipe()
        self.process = mp_ctx.Process(target=_worker_main, args=(child, make_runner, threads), daemon=True)
        self.process.start()
        child.close()
        self.job: EpisodeSpec | None = None
        self.ready = False

    def stop(self) -> None:
        try:
            self.conn.send(None)
        except (BrokenPipeError, OSError):
            pass
        self.process.join(timeout=10)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()


def run_episodes(ctx: RunContext, jobs: list[EpisodeSpec], workers: int) -> Iterator[dict[str, Any]]:
    """Yield one episode record per job (in completion order). ``workers == 0`` runs in this process."""
    crashed = lambda job, code: blank_record(job, f"worker crashed (exit code {code}) mid-episode")  # noqa: E731
    return run_jobs(partial(EpisodeRunner, ctx), jobs, workers, crashed, ctx.threads_per_worker)


def run_jobs(
    make_runner: Callable[[], JobRunner],
    jobs: list[Any],
    workers: int,
    on_crash: Callable[[Any, int | None], dict[str, Any]],
    threads: int = 0,
) -> Iterator[dict[str, Any]]:
    """Yield one result per job (in completion order); a job whose worker died yields ``on_crash(job, exit code)``.

    ``make_runner`` must be picklable (a module-level class or function, or a partial of one).
    ``workers == 0`` runs in this process.
    """
    if workers == 0:
        runner = make_runner()
        try:
            for job in jobs:
                yield runner.run(job)
        finally:
            runner.close()
        return

    mp_ctx = mp.get_context("spawn")  # fork is unsafe with GL/Vulkan contexts and torch threads
    pending = list(reversed(jobs))
    pool = [_Worker(mp_ctx, make_runner, threads) for _ in range(min(workers, len(jobs)))]
    try:
        while pool and (pending or any(w.job is not None for w in pool)):
            for w in pool:
                if w.ready and w.job is None and pending:
                    w.job = pending.pop()
                    w.conn.send(w.job)
            ready = wait([w.conn for w in pool] + [w.process.sentinel for w in pool])
            for w in list(pool):
                if w.conn in ready or w.process.sentinel in ready:
                    message = None
                    try:
                        if w.conn.poll():
                            message = w.conn.recv()
                    except (EOFError, OSError):
                        message = None
                    if message is None:
                        if w.process.is_alive():
                            continue
                        # the worker died: record its episode as an error and replace it
                        w.process.join()
                        if w.job is not None:
                            yield on_crash(w.job, w.process.exitcode)
                        elif not w.ready:
                            raise HarnessError(f"worker failed to start (exit code {w.process.exitcode})")
                        pool.remove(w)
                        if pending:
                            pool.append(_Worker(mp_ctx, make_runner, threads))
                        continue
                    kind, payload = message
                    if kind == "fatal":
                        raise HarnessError(payload)
                    if kind == "ready":
                        w.ready = True
                    elif kind == "record":
                        w.job = None
                        yield payload
    finally:
        for w in pool:
            w.stop()
