"""Reusing a LIBERO scene between episodes (robosuite's soft reset), bit-identical to a rebuild where measured.

A hard reset rebuilds the MuJoCo model (~3-4 s). robosuite's soft reset re-runs the placement sampling on the
existing model but differs from a rebuild in three ways, found by diffing every field of the model, the simulator
data, the controller and the gripper after both resets, then every ``sim.forward`` call inside them:

- the gripper's integrated command (``gripper.current_action``) survives: the Panda gripper adds a step to it
  every control step, so the next episode's fingers started from the last episode's command;
- a rebuild runs ``mj_forward`` on fresh data twice before placing the objects (``_initialize_sim``, then the
  new offscreen render context's constructor on camera envs), leaving a constraint-solver warm start
  (``qacc_warmstart``) that a soft reset (``mj_resetData``: zeros) lacks; the solver then converges to values
  ~1e-10 apart, which contacts amplify;
- the fixtures (cabinet, stove, ...) are placed by writing ``model.body_pos`` / ``body_quat``, after LIBERO's
  conditional sampler has placed objects *in* or *on* a fixture's sites (the bowl in the open top drawer) from
  the sites' current positions: a rebuilt model still has the fixtures where its XML puts them, a reused one has
  them where the last episode placed them.

``soft_reset`` clears the first, reproduces the second and puts the fixtures back where the XML has them.
Measured (``tests/integration/test_libero_sim.py`` and ``benchmarks/bench_scene_reuse.py``: random steps from 3
evaluation scenes and 1 training scene, every step's state and both images, the fixture poses): bit-identical to
a rebuild on 29 tasks (README "Scene reuse on reset") and libero_10 task 8 (two moka pots, a stove), resets
2.5-3.3x faster. (The stove placement mismatch on libero_10 task 8 that an earlier version of this
note could not explain was LIBERO's growing list of property samplers, cleared before every build since:
``LiberoTaskEnv._keep_one_set_of_property_samplers``.) The rebuild stays the default until the reuse has
been checked on every task.
"""

from __future__ import annotations

from typing import Any

import numpy as np


FixturePoses = dict[str, tuple[np.ndarray, np.ndarray]]


def built_fixture_poses(inner: Any) -> FixturePoses:
    """Root-body pose of every fixture of LIBERO's inner env *as its XML places it* (a freshly compiled model: the
    live one already has a sampled placement): name -> (pos [3], quat wxyz [4])."""
    import mujoco

    model = mujoco.MjModel.from_xml_string(inner.model.get_xml())
    poses = {}
    for fixture in inner.fixtures_dict.values():
        body = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, fixture.root_body)
        poses[fixture.root_body] = (model.body_pos[body].copy(), model.body_quat[body].copy())
    return poses


def soft_reset(wrapper: Any, fixture_poses: FixturePoses) -> None:
    """Reset LIBERO's env ``wrapper`` in place, as a rebuild would leave it (see module docstring);
    ``fixture_poses``: ``built_fixture_poses`` of the same scene."""
    import mujoco

    inner = wrapper.env
    model = inner.sim.model
    for root_body, (pos, quat) in fixture_poses.items():
        body = model.body_name2id(root_body)
        model.body_pos[body] = pos
        model.body_quat[body] = quat
    for robot in inner.robots:
        gripper = getattr(robot, "gripper", None)
        if gripper is not None and hasattr(gripper, "current_action"):
            gripper.current_action = np.zeros(gripper.dof)
    sim = inner.sim
    model, data = sim.model._model, sim.data._data

    forwards = 2 if inner.has_offscreen_renderer else 1

    def reset_as_built() -> None:
        mujoco.mj_resetData(model, data)
        for _ in range(forwards):  # _initialize_sim's forward, then the new render context's (camera envs)
            mujoco.mj_forward(model, data)

    inner.hard_reset = False
    sim.reset = reset_as_built  # robosuite's soft reset calls sim.reset() first
    try:
        wrapper.reset()
    finally:
        del sim.reset
        inner.hard_reset = True
