"""Jobs (episodes, demo attempts) on a Ray cluster: one actor per worker, each holding one job runner.

The driver hands every actor one job at a time and takes results in completion order (``ray.wait``);
the caller writes them, exactly as with the local pool (``harness.engine.workers.run_jobs``), so a Ray
run gives the same records as a local one. An actor is built once, like a local worker, by the same
picklable ``make_runner`` factory, so it keeps its environment between the jobs of a task. When the jobs
are done the driver disconnects from Ray (a Ray it started itself stops), so none of Ray's asynchronous
messages lands after the caller's last line.

Failures, per job:

- the actor dies mid-job (its node died, a segfault, an OOM kill: ``RayActorError``): the actor is
  replaced and the job is **retried once** on another actor; a second death records it through
  ``on_crash(job, None)``. A job is yielded exactly once: never lost, never counted twice.
- the job runs past ``timeout_s``: its actor is killed (``ray.kill``) and replaced, and the job is
  recorded through ``on_timeout`` (no retry: a hung simulator usually hangs again).
- a Python exception escapes the runner (``RayTaskError``): recorded through ``on_crash`` and the
  actor replaced, as a local worker that died of it.
- ``HarnessError`` in the runner or its construction (a fatal config problem) ends the run with that
  one-line error, as in the local pool.

``ray`` is an optional extra (``pip install 'robot-harness[ray]'``); it is imported only here, on use.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import re
import socket
import sys
import time
from dataclasses import dataclass
from functools import partial
from typing import Any, Callable, Iterator

from harness.errors import HarnessError

RAY_MISSING = "Ray is not installed; pip install 'robot-harness[ray]' (or ray==2.60.0) for --backend ray"
# Harness settings a local worker inherits from this process; Ray workers get them through runtime_env.
FORWARDED_VARS = ("HARNESS_PLUGINS", "HARNESS_CACHE", "SIMPLER_ASSETS", "MS_ASSET_DIR", "MUJOCO_GL")


@dataclass(frozen=True)
class RayOptions:
    """Where and with what the Ray workers run."""

    address: str | None = None  # None: ray.init()'s default ($RAY_ADDRESS, else a new local Ray)
    gpus_per_worker: float = 0.0


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def connect(options: RayOptions | None) -> Any:
    """Import Ray and attach to (or start) the cluster; returns the ``ray`` module (None for local runs).
    Called before a run writes anything, so a missing install or an unreachable cluster is one error line."""
    if options is None:
        return None
    try:
        import ray
    except ImportError as exc:
        raise HarnessError(RAY_MISSING) from exc
    if not ray.is_initialized():
        _check_reachable(options.address)
        try:
            ray.init(address=options.address, logging_level=logging.WARNING)
        except Exception as exc:  # noqa: BLE001 - Ray raises several kinds (ConnectionError, RuntimeError, ...)
            where = options.address or "the default address"
            raise HarnessError(f"cannot connect to Ray at {where}: {_first_line(exc)}") from exc
    return ray


def _check_reachable(address: str | None) -> None:
    """Fail fast on a HOST:PORT nobody listens on (ray.init itself retries for minutes)."""
    match = re.fullmatch(r"([^:/\s]+):(\d+)", address or "")
    if match is None:
        return  # None, "auto", "ray://...": left to ray.init
    try:
        socket.create_connection((match[1], int(match[2])), timeout=10).close()
    except OSError as exc:
        raise HarnessError(f"cannot connect to Ray at {address}: {exc.strerror or exc}") from exc


def actor_env(threads: int) -> dict[str, str]:
    """Environment of a Ray worker: the local workers' thread counts (``_thread_env``) and harness settings."""
    from harness.engine.workers import THREAD_VARS

    env = {var: os.environ[var] for var in FORWARDED_VARS if os.environ.get(var)}
    if threads:
        env.update({var: str(threads) for var in THREAD_VARS})
    return env


def by_reference(make_runner: Callable[[], Any]) -> Callable[[], Any]:
    """``make_runner`` (or the function of a partial) taken from its importable module when it lives in the
    ``__main__`` of a ``python -m pkg.mod`` run. cloudpickle would send such a class by value, with copies of
    the registries its code uses, which then miss whatever the actor's own imports register."""
    func = make_runner.func if isinstance(make_runner, partial) else make_runner
    spec = getattr(sys.modules["__main__"], "__spec__", None)
    if getattr(func, "__module__", None) != "__main__" or spec is None:
        return make_runner
    func = getattr(importlib.import_module(spec.name), func.__qualname__)
    return partial(func, *make_runner.args, **make_runner.keywords) if isinstance(make_runner, partial) else func


class JobActor:
    """Body of a Ray actor: builds one runner and runs jobs on it, answering like a local worker's pipe
    (``("ready", pid)``, ``("record", result)``, ``("fatal", message)``)."""

    def __init__(self, make_runner: Callable[[], Any]):
        self.runner: Any = None
        self.fatal: str | None = None
        try:
            self.runner = make_runner()
        except HarnessError as exc:
            self.fatal = str(exc)
        except Exception as exc:  # noqa: BLE001 - reported by the driver as one line
            self.fatal = f"worker failed to start: {type(exc).__name__}: {_first_line(exc)}"

    def ready(self) -> tuple[str, Any]:
        return ("fatal", self.fatal) if self.fatal is not None else ("ready", os.getpid())

    def run(self, job: Any) -> tuple[str, Any]:
        try:
            return "record", self.runner.run(job)
        except HarnessError as exc:
            return "fatal", str(exc)

    def close(self) -> None:
        if self.runner is not None:
            self.runner.close()


@dataclass
class _Slot:
    """One actor and what it is doing: starting (``ready_ref``), idle, or running job ``index``."""

    actor: Any
    ready_ref: Any
    index: int | None = None
    ref: Any = None
    deadline: float | None = None

    def waiting_on(self) -> Any:
        return self.ready_ref if self.ready_ref is not None else self.ref


def run_ray(
    make_runner: Callable[[], Any],
    jobs: list[Any],
    workers: int,
    on_crash: Callable[[Any, int | None], dict[str, Any]],
    threads: int,
    timeout_s: float | None,
    on_timeout: Callable[[Any, float], dict[str, Any]] | None,
    options: RayOptions,
) -> Iterator[dict[str, Any]]:
    """Yield one result per job, in completion order, from ``workers`` Ray actors (see the module docstring)."""
    ray = connect(options)
    from ray.exceptions import RayActorError, RayError

    actor_cls = ray.remote(JobActor).options(
        num_cpus=1,
        num_gpus=options.gpus_per_worker,
        max_restarts=0,
        runtime_env={"env_vars": actor_env(threads)},
    )
    make_runner = by_reference(make_runner)
    pending = list(reversed(range(len(jobs))))  # job indices; pop() takes the next
    retried: set[int] = set()

    def spawn() -> _Slot:
        actor = actor_cls.remote(make_runner)
        return _Slot(actor, actor.ready.remote())

    slots = [spawn() for _ in range(min(workers, len(jobs)))]

    def retire(slot: _Slot) -> None:
        ray.kill(slot.actor, no_restart=True)
        slots.remove(slot)
        if pending:
            slots.append(spawn())

    try:
        while slots and (pending or any(s.index is not None for s in slots)):
            for s in slots:
                if s.ready_ref is None and s.index is None and pending:
                    s.index = pending.pop()
                    s.ref = s.actor.run.remote(jobs[s.index])
                    s.deadline = None if timeout_s is None else time.monotonic() + timeout_s
            waiting = {s.waiting_on(): s for s in slots if s.waiting_on() is not None}
            done, _ = ray.wait(list(waiting), num_returns=1, timeout=_wait_timeout(slots))
            for ref in done:
                s = waiting[ref]
                if s.ready_ref is not None and ref == s.ready_ref:
                    try:
                        kind, payload = ray.get(ref)
                    except RayError as exc:
                        raise HarnessError(f"Ray worker failed to start: {_first_line(exc)}") from exc
                    if kind == "fatal":
                        raise HarnessError(payload)
                    s.ready_ref = None
                    continue
                index, s.index, s.ref = s.index, None, None
                assert index is not None
                try:
                    kind, payload = ray.get(ref)
                except RayActorError:  # the actor's process or node died: one retry on another actor
                    if index in retried:
                        yield on_crash(jobs[index], None)
                    else:
                        retried.add(index)
                        pending.append(index)
                    retire(s)
                    continue
                except RayError:  # an exception escaped the runner: as a local worker that died of it
                    yield on_crash(jobs[index], None)
                    retire(s)
                    continue
                if kind == "fatal":
                    raise HarnessError(payload)
                yield payload
            now = time.monotonic()
            for s in [s for s in slots if s.index is not None and s.deadline is not None and now >= s.deadline]:
                assert on_timeout is not None and timeout_s is not None
                job = jobs[s.index]
                s.index = None
                retire(s)  # kills the actor: a hung simulator / renderer; the run goes on
                yield on_timeout(job, timeout_s)
    finally:
        _stop(ray, slots)
        ray.shutdown()  # no asynchronous Ray message after the caller's last line (module docstring)


def _wait_timeout(slots: list[_Slot]) -> float | None:
    """Seconds until the earliest job deadline (None: no deadline, wait for the next result)."""
    deadlines = [s.deadline for s in slots if s.index is not None and s.deadline is not None]
    return max(0.0, min(deadlines) - time.monotonic()) if deadlines else None


def _stop(ray: Any, slots: list[_Slot]) -> None:
    """Close idle runners (10 s at most), then kill every actor of this run."""
    idle = [s.actor.close.remote() for s in slots if s.index is None and s.ready_ref is None]
    with contextlib.suppress(Exception):
        ray.get(idle, timeout=10)
    for s in slots:
        with contextlib.suppress(Exception):
            ray.kill(s.actor, no_restart=True)
