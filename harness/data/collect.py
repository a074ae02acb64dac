"""Recording demonstrations: roll a (scripted) policy out, keep per-step states, actions, poses and
subtask signals; render observations from saved states afterwards where the env can run without cameras.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.spatial.transform import Rotation

from harness.data.features import DERIVED_KEYS, proprio_features, resize_image
from harness.data.hdf5_io import Demo
from harness.engine.rollout import StepHook
from harness.engine.rollout import rollout as run_rollout
from harness.protocols import EpisodeSpec, Policy, TaskEnv


def pose7_to_matrix(pose: np.ndarray, quat_order: str) -> np.ndarray:
    """xyz + quaternion [..., 7] ('xyzw' or 'wxyz') -> homogeneous transforms [..., 4, 4]."""
    pose = np.asarray(pose, dtype=np.float64)
    quat = pose[..., 3:7] if quat_order == "xyzw" else pose[..., [4, 5, 6, 3]]
    out = np.zeros((*pose.shape[:-1], 4, 4))
    out[..., :3, :3] = Rotation.from_quat(quat.reshape(-1, 4)).as_matrix().reshape(*pose.shape[:-1], 3, 3)
    out[..., :3, 3] = pose[..., :3]
    out[..., 3, 3] = 1.0
    return out


class DemoRecorder(StepHook):
    """Rollout hook that keeps, before every action, the simulator state, the observation, the end-effector
    and object poses and the action; after it, the goal predicates (or the success flag)."""

    def __init__(self, env: TaskEnv):
        self.env = env
        self.rec: dict[str, Any] = {
            "actions": [], "states": [], "obs": [], "ee_pose": [], "objects": {}, "progress": []
        }  # fmt: skip

    def before_step(self, obs: dict[str, Any], action: np.ndarray) -> None:
        priv = obs["privileged"]
        self.rec["states"].append(self.env.get_state())  # type: ignore[attr-defined]
        self.rec["obs"].append({k: v for k, v in obs.items() if k not in ("privileged", "instruction")})
        self.rec["ee_pose"].append(priv["ee_pose"])
        for name, pose in priv["objects"].items():
            self.rec["objects"].setdefault(name, []).append(pose)
        self.rec["actions"].append(action)

    def after_step(self, obs: dict[str, Any], info: dict[str, Any], steps: int) -> bool:
        goal_progress = getattr(self.env, "goal_progress", None)
        self.rec["progress"].append(goal_progress() if goal_progress else [bool(info["success"])])
        return False


def rollout(
    env: TaskEnv, policy: Policy, episode: EpisodeSpec, max_steps: int, stop_on_success: bool, headline: str
) -> dict[str, Any]:
    """Run one episode through the shared rollout loop, recording what a demo file needs.

    Returns a dict: success (headline), steps, actions [T, Da], states [T, Ds] (before each action),
    obs list (T observation dicts, images only if the env renders), ee_pose [T, 7], objects {name: [T, 7]},
    progress [T, G] (goal predicates / success flags after each action), step_s (seconds in env.step).
    """
    recorder = DemoRecorder(env)
    decide = lambda obs, steps: policy.act(obs)  # noqa: E731
    state = run_rollout(env, episode, decide, (policy,), max_steps, stop_on_success, "clip", (recorder,))
    rec = recorder.rec
    at_end = bool(state.info.get("success", False))
    rec["success"] = state.success_once if headline == "success_once" else at_end
    rec["steps"] = state.steps
    rec["step_s"] = state.step_s
    return rec


def to_demo(
    rec: dict[str, Any], episode: EpisodeSpec, quat_order: str, image_size: int, gripper_index: int = -1
) -> Demo:
    """Pack a rendered rollout into the LIBERO/robomimic demo layout (+ MimicGen ``datagen_info``);
    ``gripper_index``: where the gripper command sits in the action vector (the suite's)."""
    obs_list = rec["obs"]
    proprio = np.stack([o["proprio"] for o in obs_list]).astype(np.float64)  # [T, 9]: pos, quat, 2 fingers
    obs = {
        "agentview_rgb": np.stack([resize_image(o["agentview_rgb"], image_size) for o in obs_list]),
        **{k: v for k, v in proprio_features(proprio, quat_order).items() if k not in DERIVED_KEYS},
        "joint_states": np.stack([o["joint_pos"] for o in obs_list]).astype(np.float64),
    }
    if "wrist_rgb" in obs_list[0]:
        obs["eye_in_hand_rgb"] = np.stack([resize_image(o["wrist_rgb"], image_size) for o in obs_list])
    actions = np.stack(rec["actions"]).astype(np.float64)
    progress = np.asarray(rec["progress"], dtype=np.int64)  # [T, G]
    T = len(actions)
    datagen = {
        "eef_pose": pose7_to_matrix(np.stack(rec["ee_pose"]), quat_order),
        "gripper_action": actions[:, [gripper_index]],
        "object_poses": {n: pose7_to_matrix(np.stack(p), quat_order) for n, p in rec["objects"].items()},
        "subtask_term_signals": {f"goal_{g}": np.maximum.accumulate(progress[:, g]) for g in range(progress.shape[1])},
    }
    dones = np.zeros(T, np.uint8)
    dones[-1] = 1
    rewards = np.zeros(T, np.uint8)
    rewards[-1] = int(rec["success"])
    return Demo(
        obs=obs,
        actions=actions,
        states=np.stack(rec["states"]),
        rewards=rewards,
        dones=dones,
        datagen=datagen,
        attrs={
            "task_id": episode.task.task_id,
            "task": episode.task.name,
            "instruction": episode.task.instruction,
            "init_index": episode.init_index,
            "scene_split": episode.split,
            "seed": episode.seed,
            "attempt": episode.episode,
        },
    )
