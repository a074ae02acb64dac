"""Child side (runs in the RoboCasa venv, see install.sh): one RoboCasa kitchen task, RoboCasa's own code,
behind the harness's env interface.

The env is ``robosuite.make(task, robots="PandaOmron", controller_configs=<RoboCasa's composite config>)`` as
RoboCasa's ``create_env`` builds it (12-D action: arm OSC delta 6, gripper 1, base 3, torso 1, base mode 1),
without robosuite's per-step camera observations: cameras are rendered on demand after a step (same sim
state, same renderer) and flipped upright as RoboCasa's gym wrapper does. Success is RoboCasa's own
``_check_success()``; ``CounterPickLift`` adds its partial metrics.

Scenes: scene ``i`` of a split resets RoboCasa's generator to ``default_rng(seed)`` with seed ``i`` (eval) or
``TRAIN_SEED_BASE + i`` (train), so layout / style choice, object sample, placements and robot spawn are a
function of the scene. Offline tree: both splits draw from the offline kitchen. Full assets: evaluation
scenes use RoboCasa's held-out "target" split (kitchens 1-10, target object instances), training scenes its
"pretrain" split (kitchens 11-60), as RoboCasa's benchmark defines them.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import numpy as np

TRAIN_SEED_BASE = 1_000_000  # as harness.engine.scenes (not importable here without h5py's parent deps)
# harness camera key (the same keys as every other suite: a demo file stores wrist_rgb as eye_in_hand_rgb) ->
# RoboCasa camera
CAMERAS = {"agentview_rgb": "robot0_agentview_left", "agentview_right_rgb": "robot0_agentview_right",
           "wrist_rgb": "robot0_eye_in_hand"}  # fmt: skip
# a fixture's door joints by part: a drawer's slide or a single door's hinge, a double door's two hinges
DOOR_JOINTS = {"door": ("slidejoint", "doorhinge"), "left": ("leftdoorhinge",), "right": ("rightdoorhinge",)}


class RoboCasaEnv:
    """One RoboCasa task (``task``: RoboCasa env name, or ``CounterPickLift``)."""

    REMOTE_METHODS = (
        "describe", "reset", "step", "final_metrics", "force_goal", "force_contact", "action_spec", "get_state"
    )  # fmt: skip

    def __init__(self, task: str, asset_root: str, offline: bool, image_size: int = 128,
                 cameras: tuple[str, ...] = ("agentview_rgb", "wrist_rgb")):  # fmt: skip
        os.environ["ROBOCASA_ASSETS_PATH"] = asset_root
        os.environ.setdefault("MUJOCO_GL", "osmesa")
        import robocasa  # noqa: F401  (registers RoboCasa's kitchen envs)
        import robosuite
        from robosuite.controllers import load_composite_controller_config

        from tasks.robocasa import offline_kitchen, pick_lift  # noqa: F401  (pick_lift registers CounterPickLift)

        offline_kitchen.cache_yaml_parsing()
        self.offline = offline
        self.task = task
        self.image_size = int(image_size)
        self.cameras = tuple(cameras)
        kwargs: dict[str, Any] = dict(
            robots="PandaOmron",
            controller_configs=load_composite_controller_config(controller=None, robot="PandaOmron"),
            has_renderer=False,
            has_offscreen_renderer=True,
            use_camera_obs=False,
            ignore_done=True,
            renderer="mujoco",
            camera_names=[CAMERAS[c] for c in self.cameras] or ["robot0_agentview_left"],
            camera_heights=self.image_size,
            camera_widths=self.image_size,
            seed=0,
            translucent_robot=False,
        )
        if offline:
            offline_kitchen.register_objects()
            scenes = [(offline_kitchen.LAYOUT, style) for style in offline_kitchen.STYLES]
            kwargs.update(layout_and_style_ids=scenes, obj_registries=(offline_kitchen.REGISTRY,))
            self._splits = {"eval": (scenes, None), "train": (scenes, None)}
        else:
            from robocasa.models.scenes.scene_registry import LAYOUT_GROUPS_TO_IDS, STYLE_GROUPS_TO_IDS

            target = [(i, i) for i in range(1, 11)]
            pretrain = [(lay, sty) for lay in LAYOUT_GROUPS_TO_IDS[-2] for sty in STYLE_GROUPS_TO_IDS[-2]]
            kwargs.update(layout_and_style_ids=target, obj_instance_split="target")
            self._splits = {"eval": (target, "target"), "train": (pretrain, "pretrain")}
        self.env = robosuite.make(task, **kwargs)
        self._metrics: dict[str, Any] = {}
        self._part_cache: dict[str, tuple[dict[str, int], dict[str, int]]] = {}
        self._success_once = False

    def describe(self) -> dict[str, Any]:
        return {"renders_on_demand": True, "offline": self.offline}

    def action_spec(self) -> dict[str, Any]:
        if self.env.sim is None:  # RoboCasa builds the robot (and its controllers) at the first reset
            self.reset(0, 0)
        low, high = self.env.action_spec
        return {"low": np.asarray(low, dtype=np.float64), "high": np.asarray(high, dtype=np.float64)}

    def reset(self, init_index: int, seed: int, split: str = "eval") -> dict[str, Any]:
        """Scene ``init_index`` of ``split`` (``seed``, the episode seed, does not change the scene: RoboCasa's
        physics is deterministic)."""
        scenes, objects = self._splits[split]
        self.env.layout_and_style_ids = scenes
        self.env.obj_instance_split = objects
        self.env._ep_meta = {}
        scene_seed = int(init_index) if split == "eval" else TRAIN_SEED_BASE + int(init_index)
        self.env.rng = np.random.default_rng(scene_seed)
        self.env.reset()
        self.env.update_state()  # fixture state (a drawer's interior region) as after a step, so obs 0 has it too
        self._part_cache.clear()  # a reset may rebuild the model (new ids)
        self._success_once = False
        self._metrics = self._step_metrics()
        return self._obs(self.cameras)

    def step(self, action: np.ndarray, cameras: list[str] | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
        self.env.step(np.asarray(action, dtype=np.float64))
        self._metrics = self._step_metrics()
        self._success_once = self._success_once or bool(self._metrics["success"])
        return self._obs(self.cameras if cameras is None else tuple(cameras)), dict(self._metrics)

    def _step_metrics(self) -> dict[str, Any]:
        metrics: dict[str, Any] = {"success": bool(self.env._check_success())}
        if hasattr(self.env, "pick_lift_metrics"):
            metrics.update(self.env.pick_lift_metrics())
        return metrics

    def final_metrics(self) -> dict[str, float]:
        out = {k: float(v) for k, v in self._metrics.items() if k != "success"}
        out["success_once"] = float(self._success_once)
        return out

    def render(self, camera: str) -> np.ndarray:
        """uint8 [S, S, 3], upright."""
        sim = self.env.sim
        image = sim.render(camera_name=CAMERAS[camera], width=self.image_size, height=self.image_size)
        return np.ascontiguousarray(image[::-1])

    def _obs(self, cameras: tuple[str, ...]) -> dict[str, Any]:
        env = self.env
        robot = env.robots[0]
        base_pos, base_mat = self._base_pose()
        eef_pos = np.array(env.sim.data.site_xpos[robot.eef_site_id["right"]])
        eef_mat = np.array(env.sim.data.site_xmat[robot.eef_site_id["right"]]).reshape(3, 3)
        gripper = np.array([env.sim.data.qpos[i] for i in robot._ref_gripper_joint_pos_indexes["right"]])
        rel_pos = base_mat.T @ (eef_pos - base_pos)
        rel_quat = _quat_xyzw(base_mat.T @ eef_mat)
        obs: dict[str, Any] = {
            # the harness's proprio layout (harness.data.features): end effector xyz + xyzw quaternion, here in
            # the mobile base's frame, then the 2 finger joints
            "proprio": np.concatenate([rel_pos, rel_quat, gripper]).astype(np.float32),
            # lerobot's RoboCasa agent_pos order: base pos (3), base quat (4), eef pos and quat in the base frame
            # (3 + 4), gripper joints (2); quaternions xyzw (robosuite's order)
            "agent_pos": np.concatenate([base_pos, _quat_xyzw(base_mat), rel_pos, rel_quat, gripper]).astype(
                np.float32
            ),
            "joint_pos": np.array([env.sim.data.qpos[i] for i in robot._ref_joint_pos_indexes], dtype=np.float32),
            "instruction": str(env.get_ep_meta().get("lang", "")),
            "privileged": self._privileged(base_pos, base_mat, eef_pos, eef_mat, gripper),
        }
        for camera in cameras:
            obs[camera] = self.render(camera)
        return obs

    def _base_pose(self) -> tuple[np.ndarray, np.ndarray]:
        """The mobile base's centre site (robosuite's ``robot0_base_pos`` observable), world frame."""
        env = self.env
        site = env.sim.model.site_name2id(env.robots[0].robot_model.base.correct_naming("center"))
        return np.array(env.sim.data.site_xpos[site]), np.array(env.sim.data.site_xmat[site]).reshape(3, 3)

    def _privileged(self, base_pos: np.ndarray, base_mat: np.ndarray, eef_pos: np.ndarray, eef_mat: np.ndarray,
                    gripper: np.ndarray) -> dict[str, Any]:  # fmt: skip
        """For scripted experts (learned policies ignore it): world-frame poses (xyz + xyzw quaternion) of the
        robot base, end effector and task objects, and the target fixture's door / drawer state."""
        env = self.env
        robot = env.robots[0]
        qvel = np.array([env.sim.data.qvel[i] for i in robot._ref_gripper_joint_vel_indexes["right"]])
        out: dict[str, Any] = {
            "base_pos": base_pos, "base_mat": base_mat, "eef_pos": eef_pos, "eef_mat": eef_mat, "gripper": gripper,
            "gripper_qvel": qvel,
            # what demo recording keeps (harness.data.collect): world-frame xyz + xyzw quaternion
            "ee_pose": np.concatenate([eef_pos, _quat_xyzw(eef_mat)]), "objects": {},
        }  # fmt: skip
        for name, obj in env.objects.items():
            body = env.obj_body_id[obj.name]
            out[f"obj:{name}:pos"] = np.array(env.sim.data.body_xpos[body])
            out[f"obj:{name}:mat"] = np.array(env.sim.data.body_xmat[body]).reshape(3, 3)
            out["objects"][name] = np.concatenate([out[f"obj:{name}:pos"], _quat_xyzw(out[f"obj:{name}:mat"])])
            out[f"obj:{name}:half_size"] = np.asarray(obj.size, dtype=np.float64) / 2
            offset = (np.asarray(obj.top_offset) + np.asarray(obj.bottom_offset)) / 2  # reg_bbox centre, object frame
            out[f"obj:{name}:center"] = out[f"obj:{name}:pos"] + out[f"obj:{name}:mat"] @ offset
        if hasattr(env, "start_pos"):  # CounterPickLift: where the object stood at reset
            out["obj:obj:start_pos"] = np.asarray(env.start_pos, dtype=np.float64)
        counter = getattr(env, "counter", None)
        if counter is not None:
            out["fixture:counter:pos"] = np.asarray(counter.pos, dtype=np.float64)
            out["fixture:counter:size"] = np.asarray(counter.size, dtype=np.float64)
            out["fixture:counter:rot"] = float(getattr(counter, "rot", 0.0))
        for ref in ("drawer", "cab", "fxtr"):
            fixture = getattr(env, ref, None)
            if fixture is None or not hasattr(fixture, "get_door_state"):
                continue
            out[f"fixture:{ref}:door"] = np.array(list(fixture.get_door_state(env=env).values()), dtype=np.float64)
            out[f"fixture:{ref}:pos"] = np.asarray(fixture.pos, dtype=np.float64)
            out[f"fixture:{ref}:size"] = np.asarray(fixture.size, dtype=np.float64)
            regions = list(fixture.get_int_sites(relative=False).values())
            if regions:  # the first interior region's corners p0, px, py, pz (world frame, moves with a drawer): [4, 3]
                out[f"fixture:{ref}:interior"] = np.asarray(regions[0], dtype=np.float64)
            out.update(self._fixture_parts(ref, fixture))
        return out

    def _fixture_parts(self, ref: str, fixture: Any) -> dict[str, np.ndarray]:
        """World-frame handles and door joints of ``fixture`` (keys ``fixture:REF:handle:PART:pos`` / ``:axis``,
        the bar's long axis; ``fixture:REF:joint:PART:anchor`` / ``:axis`` / ``:qpos`` / ``:range``); PART is
        ``door`` for a drawer or single door, ``left`` / ``right`` for a double door."""
        sim = self.env.sim
        handles, joints = self._part_ids(fixture)
        out: dict[str, np.ndarray] = {}
        for part, geom in handles.items():
            out[f"fixture:{ref}:handle:{part}:pos"] = np.array(sim.data.geom_xpos[geom])
            out[f"fixture:{ref}:handle:{part}:axis"] = np.array(sim.data.geom_xmat[geom]).reshape(3, 3)[:, 2]
        for part, joint in joints.items():
            out[f"fixture:{ref}:joint:{part}:anchor"] = np.array(sim.data.xanchor[joint])
            out[f"fixture:{ref}:joint:{part}:axis"] = np.array(sim.data.xaxis[joint])
            out[f"fixture:{ref}:joint:{part}:qpos"] = np.array([sim.data.qpos[sim.model.jnt_qposadr[joint]]])
            out[f"fixture:{ref}:joint:{part}:range"] = np.array(sim.model.jnt_range[joint])
        return out

    def _part_ids(self, fixture: Any) -> tuple[dict[str, int], dict[str, int]]:
        """{part: handle geom id}, {part: door joint id} of ``fixture``, looked up once per scene (``reset``
        clears them): the parts a fixture lacks are simply absent."""
        if fixture.name not in self._part_cache:
            model = self.env.sim.model
            geoms, joints = set(model.geom_names), set(model.joint_names)
            handle_names = {part: f"{fixture.name}_{part + '_' if part != 'door' else ''}door_handle_handle"
                            for part in ("door", "left", "right")}  # fmt: skip
            self._part_cache[fixture.name] = (
                {part: model.geom_name2id(name) for part, name in handle_names.items() if name in geoms},
                {part: model.joint_name2id(f"{fixture.name}_{suffix}")
                 for part, suffixes in DOOR_JOINTS.items() for suffix in suffixes
                 if f"{fixture.name}_{suffix}" in joints},
            )  # fmt: skip
        return self._part_cache[fixture.name]

    def get_state(self) -> np.ndarray:
        """MuJoCo's flattened simulator state (time, qpos, qvel), recorded with demonstrations."""
        return np.asarray(self.env.sim.get_state().flatten(), dtype=np.float64)

    def force_goal(self) -> dict[str, Any]:
        """Put the scene into a state that satisfies the goal (tests of the success logic), step the physics
        briefly with a zero action, and return the step metrics."""
        from tasks.robocasa.goals import force_goal

        force_goal(self.env, self.task)
        for _ in range(10):
            self.env.step(np.zeros(self.env.action_dim))
        self._metrics = self._step_metrics()
        return dict(self._metrics)

    def force_contact(self) -> dict[str, Any]:
        """The task object teleported onto a finger pad (no physics step, so it stays there): step metrics."""
        from tasks.robocasa.goals import force_contact

        force_contact(self.env)
        self._metrics = self._step_metrics()
        return dict(self._metrics)

    def close(self) -> None:
        self.env.close()


def _quat_xyzw(mat: np.ndarray) -> np.ndarray:
    from robosuite.utils.transform_utils import mat2quat

    return np.asarray(mat2quat(mat), dtype=np.float64)


def _main() -> None:  # pragma: no cover - manual probe: python -m tasks.robocasa.sim_env TASK ASSET_ROOT
    env = RoboCasaEnv(sys.argv[1], sys.argv[2], offline=Path(sys.argv[2], "harness_offline_kitchen.json").exists())
    obs = env.reset(0, 0)
    print({k: getattr(v, "shape", v) for k, v in obs.items() if k != "privileged"})


if __name__ == "__main__":
    _main()
