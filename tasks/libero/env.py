"""LIBERO task env: official BDDL scene, fixed init states, 128x128 agentview + wrist cameras.

Protocol (the OpenVLA convention): hard reset (scene rebuilt), ``set_init_state(init_states[i])``,
then 10 settle steps with a no-op action and the gripper open, then up to ``max_steps`` policy steps.
The episode ends at the first step whose goal predicates all hold (``success``).
"""

from __future__ import annotations

import os
from typing import Any

os.environ.setdefault("MUJOCO_GL", "osmesa")  # CPU rendering; EGL finds no device on CPU-only machines
os.environ.setdefault("PYOPENGL_PLATFORM", os.environ["MUJOCO_GL"])

import numpy as np

from harness.protocols import TaskSpec
from tasks.libero.articulation import articulated_parts, articulation_states
from tasks.libero.cameras import CAMERA_OBSERVABLES, CameraSwitch
from tasks.libero.scene_reuse import built_fixture_poses, soft_reset

SETTLE_STEPS = 10
SETTLE_ACTION = np.array([0, 0, 0, 0, 0, 0, -1], dtype=np.float64)
CAMERA_SIZE = 128


class LiberoTaskEnv:
    """One LIBERO task built from its BDDL file (see module docstring for the protocol)."""

    def __init__(
        self, spec: TaskSpec, camera_size: int = CAMERA_SIZE, cameras: bool = True, reuse_scene: bool = False
    ):
        """``cameras=False`` builds a render-free env (~10x faster steps) for state-only data generation;
        its observations have no images until ``obs_from_state`` is called on a rendering env."""
        from harness.errors import HarnessError
        from tasks.libero.benchmark import load_init_states, quiet_libero

        with quiet_libero():
            from libero.libero.envs import OffScreenRenderEnv
            from libero.libero.envs.env_wrapper import ControlEnv

        bddl = spec.get("bddl_file")
        if not bddl or not os.path.exists(bddl):
            raise HarnessError(f"LIBERO BDDL file missing for task {spec.name!r}: {bddl}")
        self.spec = spec
        self._init_states = load_init_states(spec)
        self.cameras = cameras
        self.renders_on_demand = cameras  # step(action, cameras=...) renders only the cameras asked for
        self.reuse_scene = reuse_scene
        self._built = False
        self._camera_switch = CameraSwitch(camera_size)
        env_cls = OffScreenRenderEnv if cameras else ControlEnv
        extra = {} if cameras else {"has_offscreen_renderer": False, "use_camera_obs": False}
        self._env = env_cls(
            bddl_file_name=bddl,
            camera_heights=camera_size,
            camera_widths=camera_size,
            hard_reset=True,  # the first reset builds the scene; with reuse_scene later ones reuse it
            horizon=spec.max_steps + SETTLE_STEPS + 10,
            ignore_done=True,
            **extra,
        )
        self._keep_one_set_of_property_samplers()
        # fixture poses of the model as built, before LIBERO's placement moves them (reuse_scene only)
        self._fixture_defaults = built_fixture_poses(self._env.env) if reuse_scene else {}

    def reset(self, init_index: int, seed: int, split: str = "eval") -> dict[str, Any]:
        """Rebuild the scene, place the objects, settle. Obs as in harness.protocols.

        ``split="eval"``: LIBERO's fixed init state ``init_index`` (one of the task's 50 evaluation
        scenes). LIBERO's init states hold object poses but not the placement of fixed fixtures (cabinet,
        stove, rack), which robosuite re-samples at every rebuild (measured: up to 9 mm); we seed that
        sampling with the init index, so a scene is the same whatever this process reset before (LIBERO's
        growing list of property samplers, which made the placement depend on the number of earlier rebuilds,
        is cleared before each build: ``_keep_one_set_of_property_samplers``).
        ``split="train"``: training scene ``init_index``: objects (and fixtures) sampled by the task's own
        BDDL placement distribution (robosuite's placement initializer, as LIBERO's released demos were
        collected) with seed TRAIN_SEED_BASE + init_index, disjoint from the evaluation seeds 0..49.
        ``seed`` (policy randomness) does not change the scene, and MuJoCo physics is deterministic.
        """
        from harness.errors import HarnessError
        from harness.engine.scenes import EVAL, TRAIN, TRAIN_SEED_BASE

        if split == EVAL:
            if not 0 <= init_index < len(self._init_states):
                raise HarnessError(
                    f"{self.spec.name}: evaluation scene {init_index} does not exist (0..{len(self._init_states) - 1})"
                )
            self._env.seed(init_index)
            self._reset_scene()
            state = self._init_states[init_index]
        elif split == TRAIN:
            self._env.seed(TRAIN_SEED_BASE + int(init_index))
            self._reset_scene()  # samples the placements (LIBERO's wrapper returns no observation)
            state = self._env.get_sim_state()  # then as the eval path: state -> obs
        else:
            raise HarnessError(f"unknown scene split {split!r}")
        if self.cameras:
            self._camera_switch.after_reset(self._env.env)  # the reset re-created the camera sensors
        self._camera_switch.select(())
        self._env.set_init_state(state)
        self._object_geoms = self._geoms_by_object()
        self._fixture_geoms = self._geoms_by_object(fixtures=True)
        self._articulations = self._articulated_parts()
        for i in range(SETTLE_STEPS):  # only the last settle step's images are returned: only it renders
            self._camera_switch.select(None if i == SETTLE_STEPS - 1 else ())
            raw, _, _, _ = self._env.step(SETTLE_ACTION)
        return self._obs(raw)

    def _reset_scene(self) -> None:
        """Rebuild the scene (hard reset), or with ``reuse_scene`` after the first build reset it in place and
        clear what robosuite's soft reset keeps from the last episode (see ``tasks.libero.scene_reuse``)."""
        self._camera_switch.select(None)  # a reused scene keeps its camera sensors: hand back the real ones
        if self.reuse_scene and self._built:
            soft_reset(self._env, self._fixture_defaults)
        else:
            self._env.reset()
        self._built = True

    def _keep_one_set_of_property_samplers(self) -> None:
        """LIBERO appends the scene's open/close and on/off samplers to ``object_property_initializers`` at every
        model build and never clears it; each one draws from the global RNG before the placement sampler, so the
        fixtures' placement would depend on how many builds the process has done. Every build (rebuilds,
        robosuite's retries after a failed placement) now starts from an empty list."""
        inner = self._env.env
        build = inner._load_model

        def build_with_fresh_samplers() -> None:
            inner.object_property_initializers = []
            build()

        inner._load_model = build_with_fresh_samplers

    def step(
        self, action: np.ndarray, cameras: tuple[str, ...] | None = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Apply a 7-D delta end-effector action in [-1, 1] (last entry: gripper, -1 open, +1 close).
        ``cameras``: the observation's images to render (keys as ``agentview_rgb``; None: all); the others
        are absent from the observation. Physics and success do not depend on it."""
        self._camera_switch.select(cameras)
        raw, _, done, _ = self._env.step(np.asarray(action, dtype=np.float64))
        return self._obs(raw), {"success": bool(done)}

    def final_metrics(self) -> dict[str, float]:
        """Partial progress at episode end: fraction of the BDDL goal predicates that hold."""
        progress = self.goal_progress()
        return {"goal_fraction": sum(progress) / max(1, len(progress))}

    @staticmethod
    def render_frame(obs: dict[str, Any]) -> np.ndarray:
        """Video frame uint8 [H, 2W, 3]: agentview | wrist, turned upright (LIBERO renders upside down)."""
        return np.concatenate([obs["agentview_rgb"][::-1, ::-1], obs["wrist_rgb"][::-1, ::-1]], axis=1)

    @property
    def sim(self) -> Any:
        """The underlying MuJoCo sim (privileged access for experts and tests)."""
        return self._env.sim

    @property
    def raw_env(self) -> Any:
        return self._env

    def get_state(self) -> np.ndarray:
        """Flattened MuJoCo state float64 [Ds] (what LIBERO's demo files store in ``states``)."""
        return np.asarray(self._env.get_sim_state(), dtype=np.float64)

    def obs_from_state(self, state: np.ndarray) -> dict[str, Any]:
        """Set the simulator to ``state`` and return its observation (renders every camera on a camera env)."""
        self._camera_switch.select(None)
        return self._obs(self._env.set_init_state(state))

    def snapshot(self) -> dict[str, Any]:
        """Everything a later ``restore`` needs to continue from here: MuJoCo's state, its controls and solver
        warm start, and robosuite's gripper command state (its grippers move by a rate-limited command kept in
        Python, outside MuJoCo's state: a branch that closed the gripper would otherwise leave it closing)."""
        inner, data = self._env.env, self._env.sim.data
        return {
            "state": self.get_state(),
            "ctrl": np.array(data.ctrl),
            "qacc_warmstart": np.array(data.qacc_warmstart),
            "grippers": [np.array(robot.gripper.current_action) for robot in inner.robots],
        }

    def restore(self, snapshot: dict[str, Any]) -> None:
        """Back to a ``snapshot`` (no rendering)."""
        inner, data = self._env.env, self._env.sim.data
        data.ctrl[:] = snapshot["ctrl"]
        self._env.sim.set_state_from_flattened(snapshot["state"])
        self._env.sim.forward()
        data.qacc_warmstart[:] = snapshot["qacc_warmstart"]
        for robot, command in zip(inner.robots, snapshot["grippers"], strict=True):
            robot.gripper.current_action = np.array(command)
            robot.controller.update(force=True)  # its cached end-effector pose is the branch's otherwise

    def goal_progress(self) -> list[bool]:
        """Which BDDL goal predicates hold now (one flag per predicate, in the BDDL order)."""
        inner = self._env.env
        return [bool(inner._eval_predicate(g)) for g in inner.parsed_problem["goal_state"]]

    def check_success(self) -> bool:
        return bool(self._env.check_success())

    def close(self) -> None:
        self._env.close()

    def _obs(self, raw: dict[str, np.ndarray]) -> dict[str, Any]:
        proprio = np.concatenate([raw["robot0_eef_pos"], raw["robot0_eef_quat"], raw["robot0_gripper_qpos"]])
        images = (
            {key: raw[CAMERA_OBSERVABLES[key]] for key in self._camera_switch.rendering} if self.cameras else {}
        )
        return {
            **images,
            "proprio": proprio.astype(np.float32),
            "joint_pos": raw["robot0_joint_pos"].astype(np.float32),
            "instruction": self.spec.instruction,
            "privileged": self._privileged(raw),
        }

    def _geoms_by_object(self, fixtures: bool = False) -> dict[str, np.ndarray]:
        """Geom ids of each movable object's (or, with ``fixtures``, each fixture's except tables and floors)
        bodies (bodies named ``<name>_...``)."""
        model = self._env.sim.model
        inner = self._env.env
        if fixtures:
            names = [n for n in inner.fixtures_dict if "table" not in n and "floor" not in n]
        else:
            names = list(inner.objects_dict)
        out: dict[str, list[int]] = {n: [] for n in names}
        for g in range(model.ngeom):
            body = model.body_id2name(int(model.geom_bodyid[g])) or ""
            owner = max((n for n in names if body.startswith(n + "_") or body == n), key=len, default=None)
            if owner is not None:
                out[owner].append(g)
        return {n: np.array(ids, dtype=int) for n, ids in out.items() if ids}

    def _extents(self, objects: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Per object [3]: horizontal radius and lowest / highest geom centre z (world), from its geoms."""
        data = self._env.sim.data
        out = {}
        for name, geoms in getattr(self, "_object_geoms", {}).items():
            if name in objects:
                pts = data.geom_xpos[geoms]
                radius = float(np.max(np.linalg.norm(pts[:, :2] - objects[name][:2], axis=1)))
                out[name] = np.array([radius, pts[:, 2].min(), pts[:, 2].max()])
        return out

    def _aabbs(self, objects: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Per object float64 [6]: world-aligned box (min xyz, max xyz) around its collision geoms."""
        return {
            name: box
            for name, geoms in getattr(self, "_object_geoms", {}).items()
            if name in objects and (box := self._box_of(geoms)) is not None
        }

    def _fixture_aabbs(self) -> dict[str, np.ndarray]:
        """Per fixture except tables and floors, float64 [6]: box around its collision geoms (cabinet, stove,
        rack, microwave; drawers and doors where they are now)."""
        return {
            name: box
            for name, geoms in getattr(self, "_fixture_geoms", {}).items()
            if (box := self._box_of(geoms)) is not None
        }

    def _box_of(self, geoms: np.ndarray) -> np.ndarray | None:
        model, data = self._env.sim.model, self._env.sim.data
        solid = geoms[(model.geom_contype[geoms] > 0) | (model.geom_conaffinity[geoms] > 0)]
        if len(solid) == 0:
            return None
        rot = data.geom_xmat[solid].reshape(-1, 3, 3)
        centre = data.geom_xpos[solid] + np.einsum("nij,nj->ni", rot, model.geom_aabb[solid, :3])
        half = np.einsum("nij,nj->ni", np.abs(rot), model.geom_aabb[solid, 3:])
        return np.concatenate([(centre - half).min(axis=0), (centre + half).max(axis=0)])

    def _privileged(self, raw: dict[str, np.ndarray]) -> dict[str, Any]:
        """Simulator poses for scripted experts / data generation (policies under test ignore it).

        Poses are float64 [7] = world xyz + quaternion xyzw (robosuite's order); ``sites`` are region
        centres float64 [3]; ``aabb`` per object and ``fixture_aabb`` per fixture (not tables) are float64 [6]
        boxes (world min xyz, max xyz); ``goal`` lists the BDDL goal predicates, e.g. ("in", "soup_1",
        "basket_1_contain_region"), and ``goal_holds`` which of them hold now.
        """
        objects = {
            key[: -len("_pos")]: np.concatenate([raw[key], raw[key[: -len("_pos")] + "_quat"]]).astype(np.float64)
            for key in raw
            if key.endswith("_pos")
            and not key.startswith("robot0")
            and "_to_" not in key
            and key[: -len("_pos")] + "_quat" in raw
        }
        data = self._env.sim.data
        inner = self._env.env
        return {
            "ee_pose": np.concatenate([raw["robot0_eef_pos"], raw["robot0_eef_quat"]]).astype(np.float64),
            "gripper_qpos": np.asarray(raw["robot0_gripper_qpos"], dtype=np.float64),
            "robot_base": np.array(data.get_body_xpos("robot0_base"), dtype=np.float64),
            "objects": objects,
            "extents": self._extents(objects),
            "aabb": self._aabbs(objects),
            "fixture_aabb": self._fixture_aabbs(),
            "sites": {name: np.array(data.get_site_xpos(name), dtype=np.float64) for name in inner.object_sites_dict},
            "goal": [tuple(str(x) for x in g) for g in inner.parsed_problem["goal_state"]],
            "articulations": self._articulation_states(),
            "goal_holds": self.goal_progress(),
        }

    def _articulated_parts(self) -> dict[str, dict[str, Any]]:
        """Static facts of every articulated part a BDDL predicate can name (a region like
        ``wooden_cabinet_1_top_region`` or a fixture like ``flat_stove_1``): its joint, the fixture that owns
        it, the fixture's open / close / turn-on ranges, and the collision geoms of the moving body."""
        return articulated_parts(self._env.env)

    def _articulation_states(self) -> dict[str, dict[str, Any]]:
        """Per articulated part (see ``_articulated_parts``): ``qpos`` (joint position, m or rad), ``axis``
        world [3], ``anchor`` world [3], ``handle`` world [3] (the moving collision geom farthest along the
        opening direction, or from a hinge axis), ``is_open`` / ``is_closed`` / ``is_on`` flags as LIBERO
        evaluates them, and the ranges."""
        return articulation_states(self._env.env, getattr(self, "_articulations", {}))
