"""``CounterPickLift`` (child side): LAC-WM's BFA-style task on RoboCasa's kitchen code (paper 002, sec. 4.3,
A.3): one graspable object on the counter in front of the robot; grasp it, lift it, and put it back on the
counter at least 10 cm (in the counter plane) from where it stood, gripper away.

Partial metrics, as the paper reports them (episode level: "at any step"):
* S.R.C. ``contact``: a gripper finger touches the object;
* S.R.L. ``lifted``: the object touches no counter and its bottom is >= 5 cm above its start;
* S.R. ``success``: it was lifted, now rests on a counter >= 10 cm (xy) from its start, and the gripper is
  > 25 cm from it (RoboCasa's ``gripper_obj_far``).
Deviations from the paper: RoboCasa's single-arm PandaOmron (parallel gripper) instead of the bimanual
Franka + Allegro, and 12-D RoboCasa actions instead of 25-D.
"""

from __future__ import annotations

import numpy as np
from robocasa.environments.kitchen.kitchen import Kitchen
from robocasa.models.fixtures import FixtureType
from robocasa.utils import object_utils as OU

LIFT_HEIGHT = 0.05  # m above the start (bottom of the object)
MIN_DISPLACEMENT = 0.10  # m in the counter plane


class CounterPickLift(Kitchen):
    """Lift an object from the counter and put it back >= 10 cm away."""

    def __init__(self, obj_groups: str = "all", *args, **kwargs):
        self.obj_groups = obj_groups
        super().__init__(*args, **kwargs)

    def _setup_kitchen_references(self) -> None:
        super()._setup_kitchen_references()
        self.counter = self.register_fixture_ref("counter", dict(id=FixtureType.COUNTER, size=(0.6, 0.4)))
        self.init_robot_base_ref = self.counter

    def get_ep_meta(self) -> dict:
        meta = super().get_ep_meta()
        meta["lang"] = (
            f"Pick up the {self.get_obj_lang()}, lift it, and put it back on the counter at least 10 cm to the "
            "side."
        )
        return meta

    def _get_obj_cfgs(self) -> list[dict]:
        return [
            dict(
                name="obj",
                obj_groups=self.obj_groups,
                graspable=True,
                placement=dict(
                    fixture=self.counter,
                    size=(0.30, 0.20),
                    pos=(0.0, -1.0),
                    offset=(0.0, 0.08),
                ),
            )
        ]

    def _reset_internal(self) -> None:
        super()._reset_internal()
        self.start_pos = np.array(self.sim.data.body_xpos[self.obj_body_id["obj"]])
        self.start_bottom = self._bottom_z()
        self.ever_contact = False
        self.ever_lifted = False

    def _bottom_z(self) -> float:
        obj = self.objects["obj"]
        return float(self.sim.data.body_xpos[self.obj_body_id["obj"]][2] + obj.bottom_offset[2])

    def pick_lift_metrics(self) -> dict[str, bool]:
        """Current-step signals; ``contact`` / ``lifted`` also latch for the episode (S.R.C., S.R.L.)."""
        obj = self.objects["obj"]
        gripper = self.robots[0].gripper["right"]
        contact = bool(self.check_contact(gripper, obj))
        on_counter = bool(OU.check_obj_any_counter_contact(self, "obj"))
        lifted = (not on_counter) and self._bottom_z() - self.start_bottom >= LIFT_HEIGHT
        self.ever_contact = self.ever_contact or contact
        self.ever_lifted = self.ever_lifted or lifted
        pos = np.array(self.sim.data.body_xpos[self.obj_body_id["obj"]])
        moved = float(np.linalg.norm(pos[:2] - self.start_pos[:2]))
        placed = self.ever_lifted and on_counter and moved >= MIN_DISPLACEMENT and bool(OU.gripper_obj_far(self))
        return {"contact": contact, "lifted": lifted, "placed_back": placed, "src": self.ever_contact,
                "srl": self.ever_lifted, "displacement_m": moved}  # fmt: skip

    def _check_success(self) -> bool:
        return self.pick_lift_metrics()["placed_back"]
