"""Shared fixtures: test plugins are registered in this process and in spawned workers."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
os.environ["HARNESS_PLUGINS"] = "tests.plugins"
import tests.plugins  # noqa: E402,F401  (registers toy components in this process)


def run_cli(module: str, *args: str, timeout: float = 600, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run ``python -m module args`` from the project root; returns the completed process."""
    full_env = {**os.environ, "HARNESS_PLUGINS": "tests.plugins", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", module, *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout, env=full_env
    )


def require_simulator_venv(env: Any) -> None:
    """Module-level guard for tests of a suite whose simulator lives in its own venv (``tasks.external``):
    skip where it is not installed, fail in CI (which installs it with scripts/install.sh)."""
    if env.python.exists():
        return
    if os.environ.get("CI"):
        raise RuntimeError(f"{env.name} venv missing in CI: {env.python}")
    pytest.skip(f"{env.name} venv not installed ({env.install_command})", allow_module_level=True)


def run_dir_of(proc: subprocess.CompletedProcess) -> Path:
    """The run dir from the CLI's last line ``results: <dir>``."""
    last = proc.stdout.strip().splitlines()[-1]
    assert last.startswith("results: "), proc.stdout + proc.stderr
    return Path(last.removeprefix("results: "))


def comparable(records: list[dict]) -> list[dict]:
    """Episode records without machine-dependent timing fields (nested ones too), in episode order."""
    from harness.engine.episode import strip_timing

    return [strip_timing(r) for r in sorted(records, key=lambda r: r["index"])]


@pytest.fixture
def cli():
    return run_cli
