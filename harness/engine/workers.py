"""Local worker processes over jobs (episodes, demo generation), with crash isolation and replacement.

Every episode is fully determined by its EpisodeSpec (task, init state, seed), so results do not
depend on the number of workers or on which worker ran which episode. A worker that dies
mid-episode (segfault, OOM kill) has that episode recorded as an error and is replaced; so has one
that runs past its wall-clock limit (``timeout_s``: a hung simulator or renderer), after a SIGKILL.
In-process runs (``workers == 0``) cannot enforce a limit: nothing can safely stop a hung call from
inside its own process. With ``ray`` options the same jobs run on Ray actors instead of local processes
(``harness.engine.ray_backend``), with the same callbacks.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import signal
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from pathlib import Path
from functools import partial
from typing import Any, Callable, Iterator, Protocol

from harness.engine.episode import blank_record, run_episode
from harness.engine.render import ObservationNeeds, declared_needs
from harness.engine.ray_backend import RayOptions, run_ray
from harness.errors import HarnessError
from harness.policy.build import build_policy, close_policy
from harness.protocols import EpisodeSpec, PlannerOptions, PolicyOptions, TaskEnv
from planners.goals import record_expert_goals
from planners.setup import build_world_model
from harness.registry import PLANNERS, POLICIES, SUITES


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
    policy_options: PolicyOptions = PolicyOptions()  # --policy-* flags (remote policy server)
    world_model: str | None = None
    wm_checkpoint: str | None = None
    goal: str = "none"  # none | subgoals | final (expert demo frames; privileged)
    first_episode: int = 0  # episode number of the batch's first episode (videos go to the first ``videos``)
    episode_timeout_s: float | None = None  # wall-clock limit per episode (ignored with workers == 0)


class EpisodeRunner:
    """Builds components once and runs episodes; keeps the env of the current task only."""

    def __init__(self, ctx: RunContext):
        self.ctx = ctx
        self.suite = SUITES.build(ctx.suite)
        self.policy = build_policy(ctx.policy, ctx.checkpoint, ctx.policy_options)
        self.planner = PLANNERS.build(ctx.planner, options=ctx.planner_options)
        self.world_model = (
            build_world_model(ctx.world_model, ctx.wm_checkpoint, self.suite) if ctx.world_model else None
        )
        self.expert = POLICIES.build("expert") if ctx.goal != "none" else None
        # what the decisions read (harness.engine.render); None: every camera of every step
        policy_needs, planner_needs = declared_needs(self.policy), declared_needs(self.planner)
        self.policy_reads_cameras = policy_needs is None or bool(policy_needs.cameras)
        self.needs: ObservationNeeds | None = (
            policy_needs.union(planner_needs) if policy_needs is not None and planner_needs is not None else None
        )
        self._env: TaskEnv | None = None
        self._env_task: tuple[int, bool] | None = None

    def _needs_cameras(self, episode: EpisodeSpec) -> bool:
        """Whether anything reads this episode's images: a policy that reads a camera (all but those declaring
        ``consumes_images = False``), a world model, goal images or a video. Suites with ``state_only_env``
        otherwise run render-free (same physics, no rendering: the scripted experts read only simulator state)."""
        return (
            not self.suite.state_only_env
            or self.policy_reads_cameras
            or self.world_model is not None
            or self.ctx.goal != "none"
            or self._video_path(episode) is not None
        )

    def _env_for(self, episode: EpisodeSpec) -> TaskEnv:
        cameras = self._needs_cameras(episode)
        key = (episode.task.task_id, cameras)
        if self._env_task != key:
            self.close_env()
            self._env = (
                self.suite.make_env(episode.task)
                if cameras
                else self.suite.make_env(episode.task, cameras=False)
            )
            self._env_task = key
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
        video = self._video_path(episode)
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
            needs=self.needs,
        )

    def _video_path(self, episode: EpisodeSpec) -> Path | None:
        """Videos record the first ``videos`` episodes of this batch (counted from ``first_episode``)."""
        if self.ctx.video_dir is None or not 0 <= episode.episode - self.ctx.first_episode < self.ctx.videos:
            return None
        return Path(self.ctx.video_dir) / f"task{episode.task.task_id:02d}_ep{episode.episode:03d}.mp4"

    def close(self) -> None:
        close_policy(self.policy)
        self.close_env()

    def close_env(self) -> None:
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


def _worker_main(conn: Connection, make_runner: Callable[[], JobRunner]) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C (thread counts: _thread_env)
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


THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


@contextlib.contextmanager
def _thread_env(threads: int) -> Iterator[None]:
    """Thread-count variables set while a worker is spawned (so its numpy/BLAS see them at import), then
    restored in this process. Setting them inside the child came too late: numpy was already imported."""
    saved = {var: os.environ.get(var) for var in THREAD_VARS}
    if threads:
        os.environ.update({var: str(threads) for var in THREAD_VARS})
    try:
        yield
    finally:
        for var, value in saved.items():
            if value is None:
                os.environ.pop(var, None)
            else:
                os.environ[var] = value


class _Worker:
    def __init__(self, mp_ctx: Any, make_runner: Callable[[], JobRunner], threads: int):
        self.conn, child = mp_ctx.Pipe()
        self.process = mp_ctx.Process(target=_worker_main, args=(child, make_runner), daemon=True)
        with _thread_env(threads):  # a spawned child reads these at its first numpy / torch import
            self.process.start()
        child.close()
        self.job: Any = None
        self.ready = False
        self.deadline: float | None = None  # time.monotonic() by which the current job must be done

    def assign(self, job: Any, timeout_s: float | None) -> None:
        self.job = job
        self.deadline = None if timeout_s is None else time.monotonic() + timeout_s
        self.conn.send(job)

    def receive(self) -> tuple[str, Any] | None:
        """The worker's next message, or None when there is none (or its pipe broke)."""
        try:
            return self.conn.recv() if self.conn.poll() else None
        except (EOFError, OSError):
            return None

    def overdue(self, now: float) -> bool:
        return self.job is not None and self.deadline is not None and now >= self.deadline

    def kill(self) -> None:
        """SIGKILL (a hung simulator may ignore anything gentler) and reap the process."""
        self.process.kill()
        self.process.join()

    def stop(self) -> None:
        try:
            self.conn.send(None)
        except (BrokenPipeError, OSError):
            pass
        self.process.join(timeout=10)
        if self.process.is_alive():
            self.kill()


def crash_message(code: int | None) -> str:
    """How a job lost to a dead worker is described (``code`` None: a Ray actor, whose exit code is unknown)."""
    return "worker crashed mid-episode" if code is None else f"worker crashed (exit code {code}) mid-episode"


def run_episodes(
    ctx: RunContext, jobs: list[EpisodeSpec], workers: int, ray: RayOptions | None = None
) -> Iterator[dict[str, Any]]:
    """Yield one episode record per job (in completion order). ``workers == 0`` runs in this process
    (and ignores ``ctx.episode_timeout_s``); ``ray`` runs the workers as actors of a Ray cluster."""
    crashed = lambda job, code: blank_record(job, crash_message(code))  # noqa: E731
    timed_out = lambda job, seconds: blank_record(job, f"timeout after {seconds:g} s")  # noqa: E731
    return run_jobs(
        partial(EpisodeRunner, ctx),
        jobs,
        workers,
        crashed,
        ctx.threads_per_worker,
        ctx.episode_timeout_s,
        timed_out,
        ray=ray,
    )


def run_jobs(
    make_runner: Callable[[], JobRunner],
    jobs: list[Any],
    workers: int,
    on_crash: Callable[[Any, int | None], dict[str, Any]],
    threads: int = 0,
    timeout_s: float | None = None,
    on_timeout: Callable[[Any, float], dict[str, Any]] | None = None,
    ray: RayOptions | None = None,
) -> Iterator[dict[str, Any]]:
    """Yield one result per job (in completion order); a job whose worker died yields ``on_crash(job, exit code)``,
    and one still running ``timeout_s`` seconds after it was handed out yields ``on_timeout(job, timeout_s)`` (its
    worker is killed and replaced).

    ``make_runner`` must be picklable (a module-level class or function, or a partial of one).
    ``workers == 0`` runs in this process, where ``timeout_s`` is not enforced. With ``ray``, the ``workers``
    are Ray actors (``harness.engine.ray_backend.run_ray``: a job whose actor died is retried once, and
    ``on_crash`` gets exit code None).
    """
    if timeout_s is not None and on_timeout is None:
        raise ValueError("run_jobs: timeout_s needs on_timeout")
    if ray is not None:
        if workers < 1:
            raise ValueError("run_jobs: the Ray backend needs workers >= 1")
        yield from run_ray(make_runner, jobs, workers, on_crash, threads, timeout_s, on_timeout, ray)
    elif workers == 0:
        yield from _run_in_process(make_runner, jobs)
    else:
        yield from _run_pool(make_runner, jobs, workers, on_crash, threads, timeout_s, on_timeout)


def _run_in_process(make_runner: Callable[[], JobRunner], jobs: list[Any]) -> Iterator[dict[str, Any]]:
    runner = make_runner()
    try:
        for job in jobs:
            yield runner.run(job)
    finally:
        runner.close()


def _wait_timeout(pool: list[_Worker]) -> float | None:
    """Seconds until the earliest job deadline (None: no deadline, wait for the next message)."""
    deadlines = [w.deadline for w in pool if w.job is not None and w.deadline is not None]
    return max(0.0, min(deadlines) - time.monotonic()) if deadlines else None


def _run_pool(
    make_runner: Callable[[], JobRunner],
    jobs: list[Any],
    workers: int,
    on_crash: Callable[[Any, int | None], dict[str, Any]],
    threads: int,
    timeout_s: float | None,
    on_timeout: Callable[[Any, float], dict[str, Any]] | None,
) -> Iterator[dict[str, Any]]:
    mp_ctx = mp.get_context("spawn")  # fork is unsafe with GL/Vulkan contexts and torch threads
    pending = list(reversed(jobs))
    pool = [_Worker(mp_ctx, make_runner, threads) for _ in range(min(workers, len(jobs)))]

    def retire(w: _Worker) -> None:
        pool.remove(w)
        if pending:
            pool.append(_Worker(mp_ctx, make_runner, threads))

    try:
        while pool and (pending or any(w.job is not None for w in pool)):
            for w in pool:
                if w.ready and w.job is None and pending:
                    w.assign(pending.pop(), timeout_s)
            ready = wait([w.conn for w in pool] + [w.process.sentinel for w in pool], timeout=_wait_timeout(pool))
            for w in list(pool):
                if w.conn not in ready and w.process.sentinel not in ready:
                    continue
                message = w.receive()
                if message is None:
                    if w.process.is_alive():
                        continue
                    # the worker died: record its job as an error and replace it
                    w.process.join()
                    if w.job is not None:
                        yield on_crash(w.job, w.process.exitcode)
                    elif not w.ready:
                        raise HarnessError(f"worker failed to start (exit code {w.process.exitcode})")
                    retire(w)
                    continue
                kind, payload = message
                if kind == "fatal":
                    raise HarnessError(payload)
                if kind == "ready":
                    w.ready = True
                elif kind == "record":
                    w.job = None
                    yield payload
            now = time.monotonic()
            for w in [w for w in pool if w.overdue(now)]:
                w.kill()  # a hung simulator / renderer: the job is lost, the run goes on
                assert on_timeout is not None and timeout_s is not None
                yield on_timeout(w.job, timeout_s)
                retire(w)
    finally:
        for w in pool:
            w.stop()
