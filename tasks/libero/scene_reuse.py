"""Reusing a LIBERO scene between episodes (robosuite's soft reset), bit-identical to a rebuild where measured.

A hard reset rebuilds the MuJoCo model (~3-4 s). robosuite's soft reset re-runs the placement sampling on the
existing model but differs from a rebuild in two ways, found by diffing every field of the model, the simulator
data, the controller and the gripper after both resets, then every ``sim.forward`` call inside them:

- the gripper's integrated command (``gripper.current_action``) survives: the Panda gripper adds a step to it
  every control step, so the next episode's fingers started from the last episode's command;
- a rebuild runs ``mj_forward`` on fresh data twice before placing the objects (``_initialize_sim``, then the
  new offscreen render context's constructor on camera envs), leaving a constraint-solver warm start
  (``qacc_warmstart``) that a soft reset (``mj_resetData``: zeros) lacks; the solver then converges to values
  ~1e-10 apart, which contacts amplify.

``soft_reset`` clears the first and reproduces the second. Measured (40 random steps, 3 episodes each, every
step's state and both camera images): bit-identical to a rebuild on libero_object task 0 and libero_goal task 0
(a cabinet, whose placement LIBERO re-samples at every reset), 0.3-0.6 s instead of 3-4 s. On libero_10 task 8
(two moka pots, a stove) the simulator states are identical but the images of 2 of 3 episodes are not: the
stove's placement (``model.body_pos`` of ``flat_stove_1_main``, which lives in the model, not in the state) is
7.9 mm away from the rebuild's in scene 2 (identical in scene 1). Why the same seeded sampler places it
elsewhere on a reused model was not found. So the rebuild stays the default; ``reuse_scene=True`` is an opt-in
until fixture placement matches on every task.
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
