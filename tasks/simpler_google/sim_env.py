"""Child side (runs in the SAPIEN 2 environment, see install.sh): SIMPLER's own Google Robot environments,
unchanged, behind the harness's env interface.

SimplerEnv's evaluator, reproduced: ``gym.make(env_id, obs_mode="rgbd", robot="google_robot_static",
sim_freq=513, control_mode=CONTROL_MODE, control_freq=3, max_episode_steps=horizon, scene_name=...,
camera_cfgs={"add_segmentation": True}, rgb_overlay_path=..., urdf_version=..., **task kwargs)``, then
``reset(options={"robot_init_options": ..., "obj_init_options": ...})``. SIMPLER builds a fresh env per
episode; we keep the env of one (URDF, overlay) and reset with ``reconfigure=True``, which rebuilds the scene.
Actions go to the env as SimplerEnv's evaluator sends RT-1's: xyz delta (m) and axis-angle rotation delta (rad)
of the end effector in the "ee_align" frame, then gripper closedness (+1 close, -1 open, relative).
Success and partial metrics are the env's own ``evaluate()`` (at every step, with its counters).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import numpy as np

CONTROL_MODE = (
    "arm_pd_ee_delta_pose_align_interpolate_by_planner_gripper_pd_joint_target_delta_pos_interpolate_by_planner"
)
CAMERA = "overhead_camera"
NVIDIA_ICDS = ("/usr/share/vulkan/icd.d/nvidia_icd.json", "/etc/vulkan/icd.d/nvidia_icd.json")
LAYER = "VK_LAYER_HARNESS_lavapipe_compat"
# Stages: the coke-can / move-near stage mesh (google_pick_coke_can_1_v4.glb) is not available offline; SIMPLER's
# own "dummy_tabletop" box table (top at 0.882 m) stands in. Drawers use SIMPLER's own "dummy_drawer" (no mesh).
STAGES = {
    "coke_can": "dummy_tabletop",
    "move_near": "dummy_tabletop",
    "drawer": "dummy_drawer",
    "apple": "dummy_drawer",
}


def sapien_pose(p: list[float]) -> Any:
    import sapien.core as sapien

    return sapien.Pose(p)


def has_nvidia_vulkan() -> bool:
    return any(Path(p).exists() for p in NVIDIA_ICDS)


def configure_vulkan(layer_dir: str, enabled: bool) -> None:
    """Before SAPIEN is imported: on a machine without an NVIDIA driver, render with lavapipe through the
    compatibility layer (``vulkan_compat/``), which SAPIEN 2 needs there."""
    if has_nvidia_vulkan():
        return
    os.environ.setdefault("VK_ICD_FILENAMES", "/usr/share/vulkan/icd.d/lvp_icd.json")
    if enabled:
        if not (Path(layer_dir) / f"{LAYER}.json").exists():
            from harness.errors import HarnessError

            raise HarnessError(f"the Vulkan compatibility layer is not in {layer_dir}; run: bash scripts/install.sh")
        os.environ["VK_LAYER_PATH"] = layer_dir
        os.environ["VK_INSTANCE_LAYERS"] = LAYER
        os.environ.setdefault("HARNESS_VULKAN_COMPAT_QUIET", "1")


class GoogleRobotEnv:
    """One SIMPLER Google Robot task (``tasks.simpler_google.grids.FAMILIES[task_id]``)."""

    REMOTE_METHODS = ("describe", "reset", "step", "final_metrics", "force_goal", "action_space", "get_state")

    def __init__(self, task_id: int, asset_dir: str, layer_dir: str, vulkan_compat: bool = True, shader: str = "ibl"):
        from tasks.simpler_google import grids

        configure_vulkan(layer_dir, vulkan_compat)
        os.environ["MS2_REAL2SIM_ASSET_DIR"] = asset_dir
        import gymnasium as gym  # noqa: F401
        import mani_skill2_real2sim.envs  # noqa: F401  (registers SIMPLER's environments)

        self.family = grids.FAMILIES[task_id]
        self.shader = shader
        self.asset_dir = Path(asset_dir)
        self._env: Any = None
        self._env_key: tuple[Any, ...] | None = None
        self._last_info: dict[str, Any] = {}
        self._success_once = False
        self._check_renderer()

    def _check_renderer(self) -> None:
        """Create SAPIEN's renderer once now, so a machine that cannot render fails here with one line."""
        import sapien.core as sapien

        try:
            renderer = sapien.SapienRenderer(offscreen_only=True)
        except RuntimeError as exc:
            from harness.errors import HarnessError

            hint = (
                "the Vulkan compatibility layer is disabled (HARNESS_VULKAN_COMPAT=0)"
                if "VK_INSTANCE_LAYERS" not in os.environ and not has_nvidia_vulkan()
                else "no usable Vulkan device"
            )
            raise HarnessError(f"SAPIEN 2 cannot create its renderer ({exc}): {hint}") from None
        del renderer

    def describe(self) -> dict[str, Any]:
        return {"renders_on_demand": False, "shader": self.shader}

    def _make(self, urdf_version: str | None, overlay: str) -> Any:
        import gymnasium as gym

        from tasks.simpler_google.grids import build_kwargs

        key = (urdf_version, overlay)
        if self._env is not None and self._env_key == key:
            return self._env
        if self._env is not None:
            self._env.close()
        kwargs: dict[str, Any] = dict(
            obs_mode="rgbd",
            robot="google_robot_static",
            sim_freq=513,
            control_mode=CONTROL_MODE,
            control_freq=3,
            max_episode_steps=self.family.horizon,
            scene_name=STAGES[self.family.kind],
            camera_cfgs={"add_segmentation": True},
            rgb_overlay_path=str(self.asset_dir / "real_inpainting" / overlay),
            rgb_overlay_cameras=[CAMERA],
            urdf_version=urdf_version,
            **build_kwargs(self.family),
        )
        if self.shader != "ibl":
            kwargs["shader_dir"] = self.shader
        self._env = gym.make(self.family.env_id, **kwargs)
        self._env_key = key
        return self._env

    def reset(self, init_index: int, seed: int, split: str = "eval") -> dict[str, Any]:
        from tasks.simpler_google import grids

        scene_of = grids.eval_scene if split == "eval" else grids.training_scene
        scene = scene_of(self.family, init_index)
        env = self._make(scene["urdf_version"], scene["overlay"])
        options = {**scene["reset_options"], "reconfigure": True}
        obs, info = env.reset(seed=int(seed) % (2**31), options=options)
        self._last_info = info
        self._success_once = False
        return self._obs(obs)

    def step(self, action: np.ndarray) -> tuple[dict[str, Any], dict[str, Any]]:
        obs, _, _, _, info = self._env.step(np.asarray(action, dtype=np.float64))
        self._last_info = info
        success = bool(info["success"])
        self._success_once = self._success_once or success
        return self._obs(obs), {"success": success, **self._partial(info)}

    def _partial(self, info: dict[str, Any]) -> dict[str, Any]:
        """SIMPLER's partial metrics of this task family at the current step (episode_stats included)."""
        out: dict[str, float] = {}
        for key, value in info.items():
            if key == "success":
                continue
            if key == "episode_stats":
                for k, v in value.items():
                    out[f"stats_{k}"] = bool(v) if isinstance(v, (bool, np.bool_)) else float(v)
            elif isinstance(value, (bool, np.bool_)):
                out[key] = bool(value)
            elif isinstance(value, (int, float, np.floating, np.integer)):
                out[key] = float(value)
        return out

    def final_metrics(self) -> dict[str, float]:
        """At the last step: SIMPLER's episode stats (grasped, lifted, consecutive grasp, near, drawer qpos)."""
        metrics = {k: v for k, v in self._partial(self._last_info).items() if k.startswith("stats_") or k == "qpos"}
        metrics["success_once"] = float(self._success_once)
        return metrics

    def _obs(self, obs: dict[str, Any]) -> dict[str, Any]:
        env = self._env.unwrapped
        tcp = env.agent.robot.pose.inv() * env.tcp.pose  # in the robot base frame
        robot = env.agent.robot
        names = [j.get_name() for j in robot.get_active_joints()]
        qpos = robot.get_qpos()
        gripper = np.array([qpos[names.index(n)] for n in ("joint_finger_right", "joint_finger_left")])
        return {
            "agentview_rgb": np.ascontiguousarray(obs["image"][CAMERA]["rgb"][..., :3], dtype=np.uint8),
            # tcp xyz + wxyz quaternion in the robot base frame, then the two finger joints (0 open, ~1.3 closed)
            "proprio": np.concatenate([tcp.p, tcp.q, gripper]).astype(np.float32),
            "joint_pos": np.asarray(qpos, dtype=np.float32),  # every active joint of the robot
            "instruction": env.get_language_instruction(),
            "privileged": self._privileged_in_base(tcp),
        }

    def _privileged_in_base(self, tcp: Any) -> dict[str, Any]:
        """For scripted experts and demo files (learned policies ignore it): poses in the robot base frame (xyz +
        wxyz): ``ee_pose`` (the tcp), ``objects`` (every task object, for MimicGen-style ``datagen_info``), and the
        experts' named entries (``object``, ``source``, ``target``, ``drawer_front``, ``drawer_qpos``)."""
        env = self._env.unwrapped
        to_base = env.agent.robot.pose.inv()
        out: dict[str, Any] = {"ee_pose": np.concatenate([tcp.p, tcp.q]).astype(np.float64), "objects": {}}
        for key, actor in (("object", getattr(env, "obj", None)), ("source", getattr(env, "episode_source_obj", None)),
                           ("target", getattr(env, "episode_target_obj", None))):  # fmt: skip
            if actor is not None:
                pose = to_base * actor.pose
                out[key] = np.concatenate([pose.p, pose.q]).astype(np.float64)
                out["objects"][key] = out[key]
        drawer = getattr(env, "drawer_obj", None) if self.family.kind in ("drawer", "apple") else None
        if drawer is not None:  # centre of the target drawer's front face (URDF: front plate at x 0.305, 1.5 cm)
            out["drawer_front"] = np.asarray((to_base * drawer.pose * sapien_pose([0.3125, 0.0, 0.0])).p)
            out["drawer_qpos"] = float(env.art_obj.get_qpos()[env.joint_idx])
            out["objects"]["drawer_front"] = np.concatenate([out["drawer_front"], [1.0, 0.0, 0.0, 0.0]])
        return out

    def get_state(self) -> np.ndarray:
        """SIMPLER's own simulator state vector (actors and articulations), for demo files."""
        return np.asarray(self._env.unwrapped.get_state(), dtype=np.float64)

    def action_space(self) -> dict[str, Any]:
        env = self._env if self._env is not None else self._make(None, "google_coke_can_real_eval_1.png")
        space = env.action_space
        return {"low": np.asarray(space.low, dtype=np.float64), "high": np.asarray(space.high, dtype=np.float64)}

    def force_goal(self) -> dict[str, Any]:
        """Put the scene into a state that satisfies the task's goal (tests of the success logic: can lifted,
        drawer open / closed, object next to its target, apple on the open top drawer's floor in the second
        phase), advance the physics a little so contacts update, then run SIMPLER's ``evaluate()`` once."""
        import sapien.core as sapien

        env = self._env.unwrapped
        kind, substeps = self.family.kind, 1
        if kind == "coke_can":
            env.obj.set_pose(sapien.Pose(env.obj.pose.p + np.array([0.0, 0.0, 0.05]), env.obj.pose.q))
        elif kind == "drawer":
            qpos = env.art_obj.get_qpos()
            qpos[env.joint_idx] = 0.3 if self.family.name.startswith("open") else 0.0
            env.art_obj.set_qpos(qpos)
        elif kind == "move_near":
            src, tgt = env.episode_source_obj, env.episode_target_obj
            away = src.pose.p[:2] - tgt.pose.p[:2]
            sizes = (env.episode_source_obj_bbox_world[:2], env.episode_target_obj_bbox_world[:2])
            gap = 0.5 * sum(float(np.linalg.norm(s)) for s in sizes)
            xy = tgt.pose.p[:2] + away / np.linalg.norm(away) * (gap + 0.03)
            src.set_pose(sapien.Pose(np.array([xy[0], xy[1], src.pose.p[2]]), src.pose.q))
        elif kind == "apple":
            qpos = env.art_obj.get_qpos()
            qpos[env.joint_idx] = 0.3
            env.art_obj.set_qpos(qpos)
            env.advance_to_next_subtask()
            floor = env.drawer_link.pose * env.drawer_collision.get_local_pose()
            env.obj.set_pose(sapien.Pose(floor.p + np.array([0.0, 0.0, 0.06]), env.obj.pose.q))
            substeps = 200  # let it drop onto the floor
        moved = (getattr(env, "obj", None), getattr(env, "episode_source_obj", None))
        for actor in [a for a in moved if a is not None]:
            actor.set_velocity(np.zeros(3))
            actor.set_angular_velocity(np.zeros(3))
        for _ in range(substeps):
            env._scene.step()
        info = env.evaluate()
        return {k: (bool(v) if isinstance(v, (bool, np.bool_)) else v) for k, v in info.items() if k != "episode_stats"}

    def close(self) -> None:
        if self._env is not None:
            self._env.close()
            self._env = None


def _main() -> None:  # pragma: no cover - manual probe: python -m tasks.simpler_google.sim_env TASK_ID
    env = GoogleRobotEnv(int(sys.argv[1]), os.environ["MS2_REAL2SIM_ASSET_DIR"], sys.argv[2])
    obs = env.reset(0, 0)
    print({k: getattr(v, "shape", v) for k, v in obs.items()})


if __name__ == "__main__":
    _main()
