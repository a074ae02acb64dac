"""SIMPLER Bridge (WidowX) task env through ManiSkill3 on its CPU backend (SAPIEN, lavapipe Vulkan).

Protocol (SIMPLER's): ``reset(options={"episode_id": i})`` picks fixed scene configuration i
(object position x orientation grid), ``reconfigure=True`` rebuilds the scene so an episode never
depends on the one before; the episode runs the full horizon (60 steps, 120 for the eggplant) and the
headline metric is success at the end; ``success_once``, grasp and on-target flags are also kept.
Actions (7-D, 5 Hz): xyz delta [m] and xyz-Euler delta [rad] of the end-effector target in the robot
base frame, then the gripper as an absolute target (-1 closed, +1 open).
"""

from __future__ import annotations

import logging
import os
import warnings
from typing import Any

import numpy as np

from harness.errors import HarnessError
from harness.protocols import TaskSpec

CONTROL_MODE = "arm_pd_ee_target_delta_pose_align2_gripper_pd_joint_pos"
CAMERA = "3rd_view_camera"
MOVED_THRESHOLD_M = 0.02  # source object counted as "moved" beyond this xy displacement


def _import_maniskill() -> None:
    """Point ManiSkill at the prepared asset dir (must happen before its first import)."""
    from tasks.simpler.assets import prepare_ms_asset_dir

    asset_dir, _ = prepare_ms_asset_dir()
    os.environ["MS_ASSET_DIR"] = str(asset_dir)
    os.environ["MS_SKIP_ASSET_DOWNLOAD_PROMPT"] = "1"
    try:
        import mani_skill.envs  # noqa: F401  (registers the SIMPLER envs)
    except ImportError as exc:
        raise HarnessError(f"ManiSkill3 is not installed ({exc}); run: bash scripts/install.sh") from exc
    # Known-harmless chatter on every build (mimic-joint defaults, actor initial poses, a torch perf hint).
    logging.getLogger("mani_skill").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", message="Creating a tensor from a list of numpy.ndarrays")


def _flag(value: Any) -> bool:
    """A ManiSkill per-env tensor [1] (or plain value) as a Python bool."""
    return bool(np.asarray(value.cpu() if hasattr(value, "cpu") else value).reshape(-1)[0])


class SimplerBridgeEnv:
    """One SIMPLER Bridge task (see module docstring)."""

    def __init__(self, spec: TaskSpec):
        _import_maniskill()
        import gymnasium as gym
        from mani_skill.envs.tasks.digital_twins.base_env import BaseDigitalTwinEnv

        # ManiSkill 3.0.1 keeps the greenscreen exclusion list on the class, so it grows across envs
        # built in one process (a later env then shows stale objects); start each env from empty.
        BaseDigitalTwinEnv._objects_to_remove_from_greenscreen = []
        self.spec = spec
        self._env = gym.make(
            spec.get("env_id"),
            num_envs=1,
            obs_mode="rgb+segmentation",
            control_mode=CONTROL_MODE,
            sim_backend="cpu",
            render_backend="cpu",
        )
        self._src_start = np.zeros(3)
        u = self._env.unwrapped  # the evaluation grids, before any reset converts them
        self._eval_grid = (np.asarray(u.xyz_configs, dtype=np.float64), np.asarray(u.quat_configs, dtype=np.float64))

    @property
    def unwrapped(self) -> Any:
        """The ManiSkill env (privileged access for experts and tests)."""
        return self._env.unwrapped

    def reset(self, init_index: int, seed: int, split: str = "eval") -> dict[str, Any]:
        """``split="eval"``: SIMPLER's fixed configuration ``init_index`` (``episode_id``). ``split="train"``:
        training scene ``init_index``, placements sampled in the evaluation ranges but never an evaluation
        configuration (tasks/simpler/scenes.py). The seed does not change the scene once it is fixed."""
        from harness.engine.scenes import EVAL, TRAIN

        if split == EVAL:
            if not 0 <= init_index < self.spec.num_init_states:
                raise HarnessError(
                    f"{self.spec.name}: evaluation configuration {init_index} does not exist "
                    f"(0..{self.spec.num_init_states - 1})"
                )
            obs, _ = self._env.reset(seed=seed, options={"episode_id": int(init_index), "reconfigure": True})
        elif split == TRAIN:
            obs = self._reset_training_scene(int(init_index), seed)
        else:
            raise HarnessError(f"unknown scene split {split!r}")
        self._src_start = self._source_pos()
        return self._obs(obs)

    def _reset_training_scene(self, index: int, seed: int) -> dict[str, Any]:
        """Swap in a one-entry configuration grid holding the sampled placement, reset, restore the grids."""
        import torch

        from tasks.simpler.scenes import sample_training_config

        u = self.unwrapped
        saved = (u.xyz_configs, u.quat_configs)
        xyz, quat = sample_training_config(
            np.asarray(self._eval_grid[0]), np.asarray(self._eval_grid[1]), self.spec.task_id, index
        )
        u.xyz_configs, u.quat_configs = torch.tensor(xyz[None]), torch.tensor(quat[None])
        try:
            obs, _ = self._env.reset(seed=seed, options={"episode_id": 0, "reconfigure": True})
        finally:
            u.xyz_configs, u.quat_configs = saved
        return obs

    renders_on_demand = True  # step(action, cameras=()) skips the camera (ManiSkill renders after the physics)

    def step(
        self, action: np.ndarray, cameras: tuple[str, ...] | None = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """One 5 Hz control step. ``cameras`` without ``agentview_rgb`` (None: render it): the observation has no
        image. ManiSkill renders inside ``get_obs`` after all physics substeps, so an image rendered on demand
        is the one every step would render (tested byte for byte)."""
        u = self.unwrapped
        render = cameras is None or "agentview_rgb" in cameras
        mode = u._obs_mode
        u._obs_mode = mode if render else "state_dict"  # get_obs then skips the sensors; physics is unchanged
        try:
            obs, _, _, _, info = self._env.step(np.asarray(action, dtype=np.float32)[None])
        finally:
            u._obs_mode = mode
        moved = float(np.linalg.norm((self._source_pos() - self._src_start)[:2])) > MOVED_THRESHOLD_M
        return self._obs(obs), {
            "success": _flag(info["success"]),
            "grasped": _flag(info["is_src_obj_grasped"]),
            "consecutive_grasp": _flag(info["consecutive_grasp"]),
            "src_on_target": _flag(info["src_on_target"]),
            "moved": moved,
        }

    @staticmethod
    def render_frame(obs: dict[str, Any]) -> np.ndarray:
        """Video frame uint8 [240, 320, 3] (the 640x480 camera image, downsampled 2x)."""
        return obs["agentview_rgb"][::2, ::2]

    def get_state(self) -> np.ndarray:
        """Flattened ManiSkill simulator state float64 [Ds] (actors, articulations)."""
        return np.asarray(self.unwrapped.get_state().cpu(), dtype=np.float64)[0]

    def close(self) -> None:
        self._env.close()

    def _source_pos(self) -> np.ndarray:
        u = self.unwrapped
        return np.asarray(u.objs[u.source_obj_name].pose.p.cpu()).reshape(-1)[:3].astype(np.float64)

    def _obs(self, obs: dict[str, Any]) -> dict[str, Any]:
        u = self.unwrapped
        ee = u.agent.controller.controllers["arm"].ee_pose_at_base
        qpos = np.asarray(obs["agent"]["qpos"].cpu())[0]
        proprio = np.concatenate([np.asarray(ee.p.cpu())[0], np.asarray(ee.q.cpu())[0], qpos[-2:]])
        rendered = "sensor_data" in obs  # absent on steps that skip the camera
        images = {"agentview_rgb": np.asarray(obs["sensor_data"][CAMERA]["rgb"].cpu())[0]} if rendered else {}
        return {
            **images,
            "proprio": proprio.astype(np.float32),  # ee xyz + quat wxyz (base frame), 2 finger joints
            "joint_pos": qpos.astype(np.float32),
            "instruction": self.spec.instruction,
            "privileged": self.privileged_state(),
        }

    def privileged_state(self) -> dict[str, Any]:
        """Simulator poses for scripted experts / data generation (policies under test ignore it).

        Poses are float64 [7] = xyz + quaternion wxyz, in the world frame unless named ``*_base``.
        """
        u = self.unwrapped

        def pose7(pose: Any) -> np.ndarray:
            return np.concatenate([np.asarray(pose.p.cpu())[0], np.asarray(pose.q.cpu())[0]]).astype(np.float64)

        ee_base = u.agent.controller.controllers["arm"].ee_pose_at_base
        return {
            "ee_pose": pose7(u.agent.robot.links_map["ee_gripper_link"].pose),
            "ee_pose_base": pose7(ee_base),
            "base_pose": pose7(u.agent.robot.pose),
            "source": u.source_obj_name,
            "target": u.target_obj_name,
            "objects": {name: pose7(actor.pose) for name, actor in u.objs.items()},
        }
