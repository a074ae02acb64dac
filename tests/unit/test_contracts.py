"""Contracts over every registered suite, planner and world model, and discovery of built-in components
(adding one touches only its own folder)."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import numpy as np
import pytest

from harness.engine.render import ObservationNeeds

from harness.errors import HarnessError
from harness.registry import PLANNERS, SUITES, WORLD_MODELS, Registry, discover

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name", SUITES.names())
def test_suite_declares_its_properties(name):
    suite = SUITES.build(name)
    assert suite.headline in ("success_once", "success_at_end")
    assert isinstance(suite.embodiment, str) and suite.embodiment
    assert suite.gripper_close_sign in (1.0, -1.0)
    assert suite.gripper_closing(1.0) == suite.gripper_close_sign
    dim = len(suite.tasks()[0].action_low)
    actions = np.zeros((2, dim))
    actions[:, suite.gripper_action_index] = [1.0, -1.0]  # commands +1, -1 at its gripper entry
    assert list(suite.gripper_commands(actions)) == [suite.gripper_close_sign, -suite.gripper_close_sign]
    assert suite.episode_timeout_s > 0 and suite.default_workers >= 1
    if suite.expert is not None:
        module, cls = suite.expert.split(":")
        assert isinstance(getattr(importlib.import_module(module), cls), type)
    assert isinstance(suite.training_scenes, str)
    for metric in (suite.contact_metric, suite.lift_metric):
        assert metric is None or (isinstance(metric, str) and metric)


@pytest.mark.parametrize("name", PLANNERS.names())
def test_planner_declares_options_and_needs(name):
    cls = PLANNERS.get(name)
    assert isinstance(cls.needs_world_model, bool) and isinstance(cls.needs_goal, bool)
    planner = cls()
    steps = planner.executed_steps()
    assert steps is None or steps >= 1
    if cls.__module__.startswith("planners."):  # built-ins declare what they read (plugins may leave it out)
        assert isinstance(cls.observation_needs, ObservationNeeds)


@pytest.mark.parametrize("name", [n for n in WORLD_MODELS.names() if n != "mean_colour"])
def test_world_model_needs_a_checkpoint(name):
    with pytest.raises(HarnessError, match="--wm-checkpoint"):
        WORLD_MODELS.build(name, checkpoint=None)


@pytest.mark.parametrize("package", ["policies", "planners", "world_models"])
def test_builtins_are_discovered_from_their_folders(package):
    files = {p.stem for p in (ROOT / package).glob("*.py") if not p.name.startswith("_")}
    folders = {p.name for p in (ROOT / package).iterdir() if (p / "__init__.py").exists()}
    assert set(discover(package)) == {f"{package}.{n}" for n in files | folders}
    with_suites = sorted(f"tasks.{p.parent.name}.suites" for p in (ROOT / "tasks").glob("*/suites.py"))
    assert list(discover("tasks", "suites")) == with_suites
    assert "tasks.simpler_google.suites" in with_suites and "tasks.external" not in with_suites


THINGS: Registry = Registry("thing", lambda: discover("plugpkg"))


def test_a_new_module_in_the_folder_registers_itself(tmp_path, monkeypatch):
    package = tmp_path / "plugpkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "gizmo.py").write_text(
        "from tests.unit.test_contracts import THINGS\nTHINGS.register('gizmo')(lambda: 42)\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        assert THINGS.names() == ["gizmo"] and THINGS.build("gizmo") == 42
    finally:
        for mod in [m for m in sys.modules if m.startswith("plugpkg")]:
            del sys.modules[mod]
