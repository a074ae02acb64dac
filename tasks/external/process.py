"""Simulators whose dependencies conflict with ours run in their own Python environment, in a child process.

The harness starts ``<that env's python> -m tasks.external.server`` with the project root on its path, talks to
it over two pipes (``tasks.external.framing``: length-prefixed msgpack, NumPy arrays as raw bytes, nothing
pickled) and sees an ordinary ``TaskEnv`` (``ExternalTaskEnv``). The child's stdout and stderr go to a log file
whose last line is quoted when it fails.

A new suite with conflicting dependencies: (1) an install script that creates its venv (e.g.
``tasks/simpler_google/install.sh``); (2) a child-side env class, importable in that venv, with the
``TaskEnv`` methods and ``REMOTE_METHODS`` naming those the parent may call (it may import ``harness.errors``,
``harness.msgpack_numpy`` and ``tasks.external``: standard library + numpy + msgpack only); (3) in the suite's
``build_env``: ``ExternalTaskEnv(spec, ExternalPython(...), "module:Class", kwargs)``.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from harness.errors import HarnessError
from harness.protocols import TaskSpec
from tasks.external.framing import PROTOCOL, ChannelClosed, read_message, widen_pipe, write_message

PROJECT_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class ExternalPython:
    """A Python environment the project manages for one simulator."""

    name: str  # e.g. "simpler_google"
    python: Path  # its interpreter
    install_command: str  # what sets it up (quoted in the error when it is missing)

    def package_versions(self, names: tuple[str, ...]) -> dict[str, str | None]:
        """Versions of ``names`` installed in this environment (for run manifests; {} when it is missing)."""
        if not self.python.exists():
            return {}
        code = (
            "import json, sys\nfrom importlib.metadata import version, PackageNotFoundError\nout = {}\n"
            "for n in sys.argv[1:]:\n    try: out[n] = version(n)\n    except PackageNotFoundError: out[n] = None\n"
            "print(json.dumps(out))"
        )
        try:
            proc = subprocess.run([str(self.python), "-c", code, *names], capture_output=True, text=True, timeout=60)
            return dict(json.loads(proc.stdout.strip().splitlines()[-1]))
        except (OSError, subprocess.SubprocessError, ValueError, IndexError):
            return {}


class SimulatorProcessError(RuntimeError):
    """The simulator raised while serving a call (the episode fails; the run goes on)."""


class SimProcess:
    """One child process serving one object built by ``factory(**kwargs)`` in ``env``'s interpreter."""

    def __init__(
        self,
        env: ExternalPython,
        factory: str,
        kwargs: dict[str, Any],
        report_versions: tuple[str, ...] = (),
    ):
        if not env.python.exists():
            raise HarnessError(
                f"{env.name}: its Python environment is missing ({env.python}); run: {env.install_command}"
            )
        self.env = env
        self._log = tempfile.NamedTemporaryFile(prefix=f"harness-{env.name}-", suffix=".log", delete=False)
        to_child_r, self._to_child = os.pipe()
        self._from_child, from_child_w = os.pipe()
        widen_pipe(self._from_child)  # observations (camera frames) flow child -> parent
        environ = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
        environ.pop("PYTHONHOME", None)
        command = [str(env.python), "-m", "tasks.external.server"]
        command += ["--read-fd", str(to_child_r), "--write-fd", str(from_child_w)]
        self._proc = subprocess.Popen(
            command,
            pass_fds=(to_child_r, from_child_w),
            cwd=str(PROJECT_ROOT),
            env=environ,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        os.close(to_child_r)
        os.close(from_child_w)
        self.closed = False
        try:
            build = {"factory": factory, "kwargs": kwargs, "report_versions": list(report_versions)}
            write_message(self._to_child, build)
            hello = self._receive()
        except BaseException:
            self.close()
            raise
        if "error" in hello:
            self.close()
            raise HarnessError(f"{env.name}: {hello['error']}")
        if hello.get("hello") != PROTOCOL:
            self.close()
            raise HarnessError(f"{env.name}: simulator speaks protocol {hello.get('hello')!r}, the harness {PROTOCOL}")
        self.python_version: str = hello.get("python", "")
        self.timing = {"calls": 0, "roundtrip_s": 0.0, "served_s": 0.0}  # served: inside the child's method
        self.packages: dict[str, str] = dict(hello.get("packages", {}))

    def _last_log_line(self) -> str:
        try:
            lines = [ln for ln in Path(self._log.name).read_text(errors="replace").splitlines() if ln.strip()]
        except OSError:
            return ""
        return lines[-1].strip() if lines else ""

    def _receive(self) -> dict[str, Any]:
        try:
            return read_message(self._from_child)
        except (ChannelClosed, ValueError) as exc:
            code = self._proc.wait(timeout=30) if isinstance(exc, ChannelClosed) else None
            last = self._last_log_line()
            raise HarnessError(
                f"{self.env.name}: simulator process ended (exit code {code})"
                + (f": {last}" if last else "")
                + f" [log: {self._log.name}]"
            ) from None

    def call(self, method: str, **kwargs: Any) -> Any:
        """Run ``method(**kwargs)`` in the child and return its result (arrays arrive as NumPy arrays)."""
        if self.closed:
            raise HarnessError(f"{self.env.name}: simulator process already closed")
        t0 = time.perf_counter()
        try:
            write_message(self._to_child, {"call": method, "kwargs": kwargs})
        except BrokenPipeError:
            self._receive()  # raises with the child's exit code and last log line
        reply = self._receive()
        self.timing["calls"] += 1
        self.timing["roundtrip_s"] += time.perf_counter() - t0
        self.timing["served_s"] += float(reply.get("served_s", 0.0))
        if "error" in reply:
            if reply.get("kind") == "harness":
                raise HarnessError(f"{self.env.name}: {reply['error']}")
            raise SimulatorProcessError(f"{self.env.name} simulator: {reply['error']} [log: {self._log.name}]")
        return reply["ok"]

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        try:
            if self._proc.poll() is None:
                write_message(self._to_child, {"call": "__close__"})
                read_message(self._from_child)
        except (OSError, ChannelClosed, ValueError):
            pass
        for fd in (self._to_child, self._from_child):
            try:
                os.close(fd)
            except OSError:
                pass
        try:
            self._proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        self._log.close()
        os.unlink(self._log.name)  # kept only while the process lives (errors quote it)


class ExternalTaskEnv:
    """A ``TaskEnv`` whose simulator runs in a child process (see module docstring). Forwards ``reset``,
    ``step`` (with ``cameras`` when the child renders on demand) and ``final_metrics``; ``call`` reaches any
    other method the child offers (privileged state for experts, forced states for tests)."""

    def __init__(
        self,
        spec: TaskSpec,
        env: ExternalPython,
        factory: str,
        kwargs: dict[str, Any],
        report_versions: tuple[str, ...] = (),
    ):
        self.spec = spec
        self.process = SimProcess(env, factory, kwargs, report_versions)
        info = self.process.call("describe")
        self.renders_on_demand = bool(info.get("renders_on_demand", False))

    def reset(self, init_index: int, seed: int, split: str = "eval") -> dict[str, Any]:
        return self.process.call("reset", init_index=int(init_index), seed=int(seed), split=split)

    def step(self, action: np.ndarray, cameras: tuple[str, ...] | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
        kwargs: dict[str, Any] = {"action": np.asarray(action, dtype=np.float64)}
        if self.renders_on_demand:
            kwargs["cameras"] = None if cameras is None else list(cameras)
        obs, info = self.process.call("step", **kwargs)
        return obs, info

    def final_metrics(self) -> dict[str, float]:
        return dict(self.process.call("final_metrics"))

    def call(self, method: str, **kwargs: Any) -> Any:
        return self.process.call(method, **kwargs)

    def get_state(self) -> np.ndarray:
        """The child's simulator state vector (demo recording), where the child env offers ``get_state``."""
        return np.asarray(self.process.call("get_state"), dtype=np.float64)

    def close(self) -> None:
        self.process.close()
