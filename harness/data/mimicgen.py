"""MimicGen-style demo generation (our implementation of Mandlekar et al., 2023; MimicGen itself is not used).

A source demo is split into object-centric subtask segments. In a new scene each segment's end-effector
poses are carried along with its reference object,

    T_eef_new(t) = T_obj_new @ inv(T_obj_src) @ T_eef_src(t),

where T_obj_src / T_obj_new are the reference object's poses at the segment start in the source and the new
scene. The robot first moves from its current pose to the first transformed pose (linear position,
slerped rotation), then follows the transformed poses, each converted into a delta end-effector action,
with the source's gripper commands and small Gaussian action noise. Only successful episodes are kept
(the generation CLI does that), and the yield is reported.

Segments for pick-and-place goals ("in"/"on" obj target): grasp (reference: the object; ends when the object
is lifted 3 cm) and place (reference: the target, or the object that owns the target region; ends when the
goal predicate first holds).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation, Slerp

from harness.data.collect import pose7_to_matrix
from harness.data.hdf5_io import Demo, iter_demos
from harness.errors import HarnessError
from harness.protocols import EpisodeSpec, Obs

LIFT_THRESHOLD = 0.03  # m: the grasp segment ends once the object is this much above its start height
INTERP_STEPS = 10
MAX_DPOS, MAX_DROT = 0.05, 0.5  # OSC_POSE delta scaling: action 1.0 = 5 cm / 0.5 rad


@dataclass
class Segment:
    """Source steps [start, end) whose poses follow ``ref`` (an object name, or None for the world frame)."""

    start: int
    end: int
    ref: str | None


def transform_segment(eef_src: np.ndarray, obj_src: np.ndarray, obj_new: np.ndarray) -> np.ndarray:
    """T_obj_new @ inv(T_obj_src) @ T_eef_src(t): eef poses [T, 4, 4] carried with the object [4, 4] -> [T, 4, 4]."""
    return obj_new @ np.linalg.inv(obj_src) @ eef_src


def interpolate_poses(start: np.ndarray, end: np.ndarray, steps: int) -> np.ndarray:
    """``steps`` poses [steps, 4, 4] from ``start`` (exclusive) to ``end`` (inclusive): lerp + slerp."""
    alphas = np.linspace(0.0, 1.0, steps + 1)[1:]
    rots = Slerp([0.0, 1.0], Rotation.from_matrix(np.stack([start[:3, :3], end[:3, :3]])))(alphas).as_matrix()
    out = np.tile(np.eye(4), (steps, 1, 1))
    out[:, :3, :3] = rots
    out[:, :3, 3] = start[:3, 3] + alphas[:, None] * (end[:3, 3] - start[:3, 3])
    return out


def pose_to_delta_action(current: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Delta action [6] (OSC_POSE scaling, clipped to [-1, 1]) moving ``current`` [4, 4] toward ``target``."""
    dpos = (target[:3, 3] - current[:3, 3]) / MAX_DPOS
    drot = Rotation.from_matrix(target[:3, :3] @ current[:3, :3].T).as_rotvec() / MAX_DROT
    return np.clip(np.concatenate([dpos, drot]), -1.0, 1.0)


def owner_of(target: str, objects: list[str]) -> str | None:
    """The object a BDDL target names or whose region it is ("basket_1_contain_region" -> "basket_1")."""
    if target in objects:
        return target
    owners = [o for o in objects if target.startswith(o + "_")]
    return max(owners, key=len) if owners else None


def segment_demo(demo: Demo, goal: list[tuple[str, ...]]) -> list[Segment]:
    """Object-centric segments of a source demo from its datagen info and pick-and-place goals."""
    poses = demo.datagen["object_poses"]
    signals = demo.datagen["subtask_term_signals"]
    T = len(demo.actions)
    segments: list[Segment] = []
    start = 0
    for k, g in enumerate(goal):
        if g[0] not in ("in", "on") or len(g) != 3 or g[1] not in poses:
            continue
        obj, target = g[1], g[2]
        z = poses[obj][:, 2, 3]
        lifted = np.nonzero(z[start:] > z[start] + LIFT_THRESHOLD)[0]
        grasp_end = start + int(lifted[0]) if len(lifted) else T
        done = np.nonzero(signals[f"goal_{k}"][grasp_end:] > 0)[0]
        place_end = grasp_end + int(done[0]) + 1 if len(done) else T
        segments += [Segment(start, grasp_end, obj), Segment(grasp_end, place_end, owner_of(target, list(poses)))]
        start = place_end
    if start < T:
        segments.append(Segment(start, T, None))
    return [s for s in segments if s.end > s.start]


class MimicGenPolicy:
    """Policy that replays transformed source segments (see module docstring). Needs obs["privileged"]."""

    def __init__(self, sources: str | None, noise: float = 0.05):
        if not sources:
            raise HarnessError("MimicGen needs a source demo file")
        self.sources = [d for d in iter_demos(Path(sources), obs_keys=()) if d.datagen]
        if not self.sources:
            raise HarnessError(f"{sources}: no demo with datagen_info (generate sources with harness.data.generate)")
        self.noise = noise
        self._queue: list[tuple[np.ndarray, float]] = []

    def reset(self, episode: EpisodeSpec) -> None:
        from harness.registry import SUITES

        pool = [d for d in self.sources if int(d.attrs.get("task_id", -1)) == episode.task.task_id]
        if not pool:
            raise HarnessError(f"no source demo for task {episode.task.task_id} ({episode.task.name})")
        self.rng = np.random.default_rng(episode.seed)
        self.source = pool[int(self.rng.integers(len(pool)))]
        self.quat_order = SUITES.build(episode.task.suite).quat_order
        self._segments: list[Segment] | None = None
        self._queue = []

    def _plan_segment(self, seg: Segment, obs: Obs, current: np.ndarray) -> None:
        eef_src = self.source.datagen["eef_pose"][seg.start : seg.end]
        if seg.ref is not None and seg.ref in obs["privileged"]["objects"]:
            obj_src = self.source.datagen["object_poses"][seg.ref][seg.start]
            obj_new = pose7_to_matrix(obs["privileged"]["objects"][seg.ref], self.quat_order)
            targets = transform_segment(eef_src, obj_src, obj_new)
        else:
            targets = eef_src
        grip = self.source.datagen["gripper_action"][seg.start : seg.end, 0]
        lead = interpolate_poses(current, targets[0], INTERP_STEPS)
        self._queue = [(p, float(grip[0])) for p in lead] + list(zip(targets, grip.astype(float), strict=True))

    def act(self, obs: Obs) -> np.ndarray:
        """float32 [1, 7]: delta end-effector action toward the next transformed pose, source gripper command."""
        priv = obs["privileged"]
        current = pose7_to_matrix(priv["ee_pose"], self.quat_order)
        if self._segments is None:
            self._segments = segment_demo(self.source, priv.get("goal", []))
        if not self._queue and self._segments:
            self._plan_segment(self._segments.pop(0), obs, current)
        if not self._queue:
            return np.concatenate([np.zeros(6), [float(self.source.datagen["gripper_action"][-1, 0])]])[None].astype(
                np.float32
            )
        target, grip = self._queue.pop(0)
        delta = pose_to_delta_action(current, target) + self.rng.normal(0.0, self.noise, 6)
        return np.concatenate([np.clip(delta, -1, 1), [grip]])[None].astype(np.float32)

    def sample(self, obs: Obs, n: int, rng: np.random.Generator) -> np.ndarray:
        return np.repeat(self.act(obs)[None], n, axis=0)
