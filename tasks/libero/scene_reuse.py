"""Reusing a LIBERO scene between episodes (robosuite's soft reset), as close to a rebuild as we got it.

A hard reset rebuilds the MuJoCo model (~3-4 s). robosuite's soft reset re-runs the same placement sampling
on the existing model (fixtures included: LIBERO sets their body poses in ``_reset_internal``, after the
seed), but differs from a rebuild in two ways, found by diffing every field of the model, the simulator data,
the controller and the gripper after both resets:

- the gripper's integrated command (``gripper.current_action``) survives: the Panda gripper adds a step to it
  every control step, so the next episode's fingers started from the last episode's command;
- a rebuild runs ``mj_forward`` on the fresh data (``_initialize_sim``) before placing the objects, which
  leaves a constraint-solver warm start (``qacc_warmstart``) that a soft reset (``mj_resetData``: zeros)
  lacks; the solver then converges to values ~1e-12 apart, which contacts can amplify.

``soft_reset`` clears the first and reproduces the second. Measured (benchmarks/bench_harness.py, and the
episodes in tests/integration/test_libero_sim.py): every camera image of the tested episodes is byte-identical
to the rebuilt scene's, but the simulator state is not bit-identical: it differs by ~1e-14. The difference
appears inside robosuite's ``_reset_internal``: with equal qpos, qvel, warm start, model arrays, options and
controller state on entry, the constraint solver returns accelerations ~2e-10 apart (cause not found).
Because contacts can amplify such differences over a long episode, the harness keeps the rebuild; this
reset is an opt-in (``LiberoTaskEnv(reuse_scene=True)``) for users who accept that, ~10x faster (0.3-0.5 s
vs 3-4 s).
"""

from __future__ import annotations

from typing import Any

import numpy as np


def soft_reset(wrapper: Any) -> None:
    """Reset LIBERO's env ``wrapper`` in place, as a rebuild would leave it (see module docstring)."""
    import mujoco

    inner = wrapper.env
    for robot in inner.robots:
        gripper = getattr(robot, "gripper", None)
        if gripper is not None and hasattr(gripper, "current_action"):
            gripper.current_action = np.zeros(gripper.dof)
    sim = inner.sim
    model, data = sim.model._model, sim.data._data

    def reset_as_built() -> None:
        mujoco.mj_resetData(model, data)
        mujoco.mj_forward(model, data)  # what _initialize_sim does on a freshly built scene

    inner.hard_reset = False
    sim.reset = reset_as_built  # robosuite's soft reset calls sim.reset() first
    try:
        wrapper.reset()
    finally:
        del sim.reset
        inner.hard_reset = True
