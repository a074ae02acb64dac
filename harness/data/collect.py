"""Recording demonstrations: roll a (scripted) policy out, keep per-step states, actions, poses and
subtask signals; render observations from saved states afterwards where the env can run without cameras.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from scipy.spatial.transform import Rotation

from harness.data.features import DERIVED_KEYS, proprio_features, resize_image
from harness.data.hdf5_io import Demo
from harness.episode import seed_everything, validate_chunk
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


def rollout(
    env: TaskEnv, policy: Policy, episode: EpisodeSpec, max_steps: int, stop_on_success: bool, headline: str
) -> dict[str, Any]:
    """Run one episode, recording what a demo file needs.

    Returns a dict: success (headline), steps, actions [T, Da], states [T, Ds] (before each action),
    obs list (T observation dicts, images only if the env renders), ee_pose [T, 7], objects {name: [T, 7]},
    progress [T, G] (goal predicates / success flags after each action), step_s (seconds in env.step).
    """
    seed_everything(episode.seed)
    obs = env.reset(episode.init_index, episode.seed, episode.split)
    seed_everything(episode.seed)  # LIBERO reseeds global NumPy inside reset
    policy.reset(episode)
    rec: dict[str, Any] = {"actions": [], "states": [], "obs": [], "ee_pose": [], "objects": {}, "progress": []}
    success_once, info, step_s = False, {"success": False}, 0.0
    done = False
    while not done:
        chunk, _ = validate_chunk(policy.act(obs), episode, "clip")
        for action in chunk:
            priv = obs["privileged"]
            rec["states"].append(env.get_state())  # type: ignore[attr-defined]
            rec["obs"].append({k: v for k, v in obs.items() if k not in ("privileged", "instruction")})
            rec["ee_pose"].append(priv["ee_pose"])
            for name, pose in priv["objects"].items():
                rec["objects"].setdefault(name, []).append(pose)
            rec["actions"].append(action)
            t = time.perf_counter()
            obs, info = env.step(action)
            step_s += time.perf_counter() - t
            progress = env.goal_progress() if hasattr(env, "goal_progress") else [bool(info["success"])]  # type: ignore[attr-defined]
            rec["progress"].append(progress)
            success_once |= bool(info["success"])
            if (stop_on_success and info["success"]) or len(rec["actions"]) >= max_steps:
                done = True
                break
    rec["success"] = success_once if headline == "success_once" else bool(info["success"])
    rec["steps"] = len(rec["actions"])
    rec["step_s"] = step_s
    return rec


def to_demo(rec: dict[str, Any], episode: EpisodeSpec, quat_order: str, image_size: int) -> Demo:
    """Pack a rendered rollout into the LIBERO/robomimic demo layout (+ MimicGen ``datagen_info``)."""
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
        "gripper_action": actions[:, -1:],
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
