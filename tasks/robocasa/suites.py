"""``robocasa_atomic`` and ``robocasa_pick_lift``: RoboCasa's kitchen code (RoboCasa 1.0.1 on robosuite 1.5.2 /
MuJoCo 3.3.1) in its own Python environment (``tasks/robocasa/install.sh``), reached through
``tasks.external`` like SIMPLER's Google Robot envs.

Assets: with RoboCasa's asset packs present (``ROBOCASA_ASSETS_PATH``, else RoboCasa's own folder in its venv)
every atomic task runs as RoboCasa defines it. Without them, the offline kitchen (``offline_kitchen.py``,
``offline_assets.py``) runs the 8 tasks that need no appliance, on stand-in textures and objects, and every
listing, manifest and result says so.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from harness.errors import HarnessError
from harness.protocols import TaskSpec
from harness.registry import SUITES
from tasks.external.process import PROJECT_ROOT, ExternalPython, ExternalTaskEnv
from tasks.robocasa.atomic_tasks import ATOMIC_HORIZONS, OFFLINE_TASKS
from tasks.suite import SimSuite

INSTALL = "bash scripts/install.sh  (or: bash tasks/robocasa/install.sh)"
DOWNLOAD = "python -m robocasa.scripts.download_kitchen_assets (in the RoboCasa venv: .cache/venvs/robocasa)"
EVAL_SCENES = 50  # RoboCasa's benchmark: 50 rollouts per task
ACTION_DIM = 12  # arm OSC delta 6, gripper 1, base 3, torso 1, base mode 1 (RoboCasa's composite controller)
PICK_LIFT_HORIZON = 600
OFFLINE_MARKER = "harness_offline_kitchen.json"
VERSIONS = ("rpent-robocasa365", "praxis-robosuite", "mujoco", "numpy")


def python_env() -> ExternalPython:
    default = PROJECT_ROOT / ".cache" / "venvs" / "robocasa" / "bin" / "python"
    return ExternalPython("robocasa", Path(os.environ.get("HARNESS_ROBOCASA_PYTHON", default)), INSTALL)


def offline_root() -> Path:
    return Path(os.environ.get("HARNESS_ROBOCASA_OFFLINE_ASSETS", PROJECT_ROOT / ".cache" / "robocasa_offline"))


def _robocasa_package_assets() -> Path | None:
    lib = python_env().python.parent.parent / "lib"
    found = sorted(lib.glob("python3*/site-packages/robocasa/models/assets"))
    return found[0] if found else None


def _has_full_assets(root: Path) -> bool:
    """RoboCasa's downloaded packs: textures, Lightwheel fixtures (a sink model) and at least one object pack."""
    if (root / OFFLINE_MARKER).exists():
        return False
    sinks = root / "fixtures" / "sinks"
    objects = root / "objects"
    return (
        (root / "textures").is_dir()
        and sinks.is_dir()
        and any(sinks.glob("*/model.xml"))
        and any((objects / pack).is_dir() for pack in ("objaverse", "lightwheel", "aigen_objs"))
    )


def asset_source() -> tuple[Path, bool]:
    """(asset root, offline?) for this machine: the user's full RoboCasa assets when present, else ours."""
    user = os.environ.get("ROBOCASA_ASSETS_PATH")
    for candidate in ([Path(user)] if user else []) + [p for p in [_robocasa_package_assets()] if p]:
        if _has_full_assets(candidate):
            return candidate, False
    return offline_root(), True


def _words(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", " ", name).lower()


def _atomic_tasks() -> tuple[TaskSpec, ...]:
    names = list(OFFLINE_TASKS) + sorted(n for n in ATOMIC_HORIZONS if n not in OFFLINE_TASKS)
    return tuple(
        TaskSpec(
            suite="robocasa_atomic",
            task_id=i,
            name=name,
            instruction=f"{_words(name)} (each scene's own instruction is in the observation)",
            max_steps=ATOMIC_HORIZONS[name],
            num_init_states=EVAL_SCENES,
            action_low=(-1.0,) * ACTION_DIM,
            action_high=(1.0,) * ACTION_DIM,
            extra=(("robocasa_env", name), ("video_fps", "20")),
        )
        for i, name in enumerate(names)
    )


def _pick_lift_tasks() -> tuple[TaskSpec, ...]:
    return (
        TaskSpec(
            suite="robocasa_pick_lift",
            task_id=0,
            name="counter_pick_lift",
            instruction="pick up the object, lift it, and put it back on the counter at least 10 cm to the side",
            max_steps=PICK_LIFT_HORIZON,
            num_init_states=EVAL_SCENES,
            action_low=(-1.0,) * ACTION_DIM,
            action_high=(1.0,) * ACTION_DIM,
            extra=(("robocasa_env", "CounterPickLift"), ("video_fps", "20")),
        ),
    )


def _build_env(task: TaskSpec, **options: Any) -> ExternalTaskEnv:
    root, offline = asset_source()
    cameras = ("agentview_rgb", "wrist_rgb") if options.get("cameras", True) else ()
    kwargs = {"task": task.get("robocasa_env"), "asset_root": str(root), "offline": offline, "cameras": list(cameras)}
    return ExternalTaskEnv(task, python_env(), "tasks.robocasa.sim_env:RoboCasaEnv", kwargs, report_versions=VERSIONS)


def _unavailable(task: TaskSpec) -> str | None:
    if task.get("robocasa_env") in OFFLINE_TASKS or task.get("robocasa_env") == "CounterPickLift":
        return None
    if asset_source()[1]:
        return f"needs RoboCasa's kitchen assets (appliance meshes, objects), which are not on this machine; run: {DOWNLOAD}, or set ROBOCASA_ASSETS_PATH"  # noqa: E501
    return None


def _preflight() -> None:
    env = python_env()
    if not env.python.exists():
        raise HarnessError(f"robocasa: its Python environment is missing ({env.python}); run: {INSTALL}")
    root, offline = asset_source()
    if offline and not (root / OFFLINE_MARKER).exists():
        raise HarnessError(
            f"robocasa: neither RoboCasa's kitchen assets nor the offline kitchen ({root}) are present; run: {INSTALL}"
        )


def _notes() -> list[str]:
    root, offline = asset_source()
    if not offline:
        return [f"RoboCasa's own kitchen assets ({root})"]
    return [
        "STAND-IN kitchen: RoboCasa's own task code and procedural fixtures, but one offline one-wall layout (no "
        "appliances), 3 procedural styles, stand-in textures (robosuite's) and 10 stand-in objects (robosuite's "
        "bundled objects and primitive models); NOT comparable to published RoboCasa numbers",
        f"only the {len(OFFLINE_TASKS)} tasks without appliances run offline; the others need: {DOWNLOAD}",
        "cameras: agentview_rgb = robot0_agentview_left, wrist_rgb = robot0_eye_in_hand, 128x128 (RoboCasa's "
        "create_env also renders robot0_agentview_right)",
    ]


_COMMON: dict[str, Any] = dict(
    default_policy="random",
    expert="policies.expert.robocasa:RoboCasaExpert",
    build_env=_build_env,
    notes=_notes,
    headline="success_once",  # RoboCasa's evaluation ends an episode at its first success
    quat_order="xyzw",
    embodiment="panda_omron",
    gripper_close_sign=1.0,  # robosuite: +1 closes
    gripper_action_index=6,  # arm 6, gripper, base 3, torso, base mode
    training_scenes="RoboCasa's own samplers (kitchen style, object, placement, robot spawn) seeded with "
    "1,000,000 + k; evaluation scene i uses seed i (full assets: RoboCasa's 'target' split for evaluation, "
    "'pretrain' for training)",
    preflight=_preflight,
    unavailable=_unavailable,
    simulator_packages=lambda: python_env().package_versions(VERSIONS),
    default_workers=1,
    episode_timeout_s=1800.0,
)


@SUITES.register("robocasa_atomic")
def build_robocasa_atomic() -> SimSuite:
    return SimSuite(
        name="robocasa_atomic",
        description="RoboCasa atomic kitchen tasks (RoboCasa 1.0.1 in its own venv; offline: stand-in kitchen)",
        load_tasks=_atomic_tasks,
        **_COMMON,
    )


@SUITES.register("robocasa_pick_lift")
def build_robocasa_pick_lift() -> SimSuite:
    return SimSuite(
        name="robocasa_pick_lift",
        description="LAC-WM's counter pick-and-lift task on RoboCasa's kitchen code (S.R.C. / S.R.L. / S.R.)",
        load_tasks=_pick_lift_tasks,
        contact_metric="contact",
        lift_metric="lifted",
        **_COMMON,
    )
