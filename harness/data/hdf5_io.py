"""Demonstrations in the LIBERO / robomimic HDF5 layout (read and write), plus action-free clips.

Layout (the official LIBERO datasets use the same names, so their files load with this code)::

    data/                              attrs: problem_info (JSON: language_instruction, ...), env_args (JSON),
                                              bddl_file_name, num_demos, total
      demo_<i>/                        attrs: num_samples, init_index, seed (ours; optional when reading)
        actions        float [T, Da]
        states         float [T, Ds]   flattened simulator state before each action (optional when reading)
        rewards        uint8 [T]       dones uint8 [T]
        obs/agentview_rgb uint8 [T, H, W, 3]  eye_in_hand_rgb, joint_states [T, 7], gripper_states [T, 2],
            ee_states [T, 6] (pos + axis-angle), ee_pos, ee_ori, ...
        datagen_info/  (ours, MimicGen's names) eef_pose [T, 4, 4], gripper_action [T, 1],
                       object_poses/<name> [T, 4, 4], subtask_term_signals/<name> [T]

Action-free clips (for latent-action pretraining) use the same file layout with ``clip_<i>`` groups that
hold ``obs/...`` and no ``actions``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from harness.errors import HarnessError


@dataclass
class Demo:
    """One episode. Arrays are time-major with T steps."""

    obs: dict[str, np.ndarray]
    actions: np.ndarray | None = None  # [T, Da]; None for action-free clips
    states: np.ndarray | None = None  # [T, Ds]
    rewards: np.ndarray | None = None  # [T]
    dones: np.ndarray | None = None  # [T]
    datagen: dict[str, Any] = field(default_factory=dict)  # MimicGen-style info (nested dict of arrays)
    attrs: dict[str, Any] = field(default_factory=dict)

    @property
    def length(self) -> int:
        return len(next(iter(self.obs.values()))) if self.obs else len(self.actions)  # type: ignore[arg-type]


def _h5py():  # type: ignore[no-untyped-def]
    import h5py

    return h5py


def _write_tree(group: Any, tree: dict[str, Any]) -> None:
    for key, value in tree.items():
        if isinstance(value, dict):
            _write_tree(group.require_group(key), value)
        else:
            arr = np.asarray(value)
            kwargs = {"compression": "gzip", "compression_opts": 4} if arr.dtype == np.uint8 and arr.ndim >= 3 else {}
            group.create_dataset(key, data=arr, **kwargs)


def _read_tree(group: Any) -> dict[str, Any]:
    h5py = _h5py()
    return {k: (_read_tree(v) if isinstance(v, h5py.Group) else v[()]) for k, v in group.items()}


class DemoWriter:
    """Appends demos to an HDF5 file (creating it with file-level attributes); safe to reopen and extend."""

    def __init__(
        self, path: Path, instruction: str, env_args: dict[str, Any], bddl_file: str | None = None, prefix: str = "demo"
    ):
        self.path, self.prefix = Path(path), prefix
        h5py = _h5py()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with h5py.File(self.path, "a") as f:
            data = f.require_group("data")
            problem = {"language_instruction": instruction, "problem_name": env_args.get("task", "")}
            data.attrs["problem_info"] = json.dumps(problem)
            data.attrs["env_args"] = json.dumps(env_args, default=str)
            if bddl_file:
                data.attrs["bddl_file_name"] = bddl_file

    def existing(self) -> list[str]:
        """Names of the demo groups already in the file (used to resume)."""
        with _h5py().File(self.path, "r") as f:
            return sorted(k for k in f["data"].keys() if k.startswith(self.prefix + "_"))

    def append(self, demo: Demo, name: str | None = None) -> str:
        """Write one demo group; returns its name. A demo is written whole in one file session."""
        h5py = _h5py()
        with h5py.File(self.path, "a") as f:
            data = f["data"]
            if name is None:
                name = f"{self.prefix}_{len([k for k in data if k.startswith(self.prefix + '_')])}"
            if name in data:
                del data[name]
            g = data.create_group(name)
            if demo.actions is not None:
                g.create_dataset("actions", data=np.asarray(demo.actions, dtype=np.float64))
            for key, value in (("states", demo.states), ("rewards", demo.rewards), ("dones", demo.dones)):
                if value is not None:
                    g.create_dataset(key, data=np.asarray(value))
            _write_tree(g.create_group("obs"), demo.obs)
            if demo.datagen:  # None or {} for action-free clips
                _write_tree(g.create_group("datagen_info"), demo.datagen)
            g.attrs["num_samples"] = demo.length
            for key, value in demo.attrs.items():
                g.attrs[key] = value
            names = [k for k in data if k.startswith(self.prefix + "_")]
            data.attrs["num_demos"] = len(names)
            data.attrs["total"] = int(sum(data[k].attrs.get("num_samples", 0) for k in names))
        return name


@dataclass
class DemoFile:
    """File-level metadata of a demo file."""

    path: Path
    instruction: str
    env_args: dict[str, Any]
    names: list[str]


def open_demo_file(
    path: Path, require_actions: bool = True, obs_keys: tuple[str, ...] = ("agentview_rgb",)
) -> DemoFile:
    """Validate a LIBERO/robomimic-style file; a foreign or corrupt file raises one HarnessError naming the gap."""
    path = Path(path)
    if not path.is_file():
        raise HarnessError(f"demo file not found: {path}")
    h5py = _h5py()
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise HarnessError(f"{path} is not a readable HDF5 file ({exc})") from exc
    with f:
        if "data" not in f:
            raise HarnessError(f"{path}: missing group 'data' (not a LIBERO/robomimic demo file)")
        data = f["data"]
        names = sorted((k for k in data if isinstance(data[k], h5py.Group)), key=_natural_key)
        if not names:
            raise HarnessError(f"{path}: group 'data' holds no demos")
        for name in names:
            g = data[name]
            needed = (["actions"] if require_actions else []) + [f"obs/{k}" for k in obs_keys]
            missing = [k for k in needed if k not in g]
            if missing:
                raise HarnessError(f"{path}: data/{name} is missing {', '.join(missing)}")
        try:
            problem = json.loads(data.attrs.get("problem_info", "{}"))
            env_args = json.loads(data.attrs.get("env_args", "{}"))
        except (TypeError, json.JSONDecodeError) as exc:
            raise HarnessError(f"{path}: data attrs problem_info / env_args are not JSON ({exc})") from exc
        instruction = problem.get("language_instruction", "")
        if isinstance(instruction, list):
            instruction = " ".join(instruction)
    return DemoFile(path, str(instruction), env_args, names)


def _natural_key(name: str) -> tuple[str, int]:
    prefix, _, num = name.rpartition("_")
    return (prefix, int(num)) if num.isdigit() else (name, -1)


def read_demo(path: Path, name: str, obs_keys: tuple[str, ...] | None = None) -> Demo:
    """Load one demo group (all obs keys, or only ``obs_keys``)."""
    with _h5py().File(path, "r") as f:
        g = f["data"][name]
        obs_group = g["obs"]
        keys = obs_keys if obs_keys is not None else tuple(obs_group.keys())
        obs = {k: obs_group[k][()] for k in keys}
        get = lambda k: g[k][()] if k in g else None  # noqa: E731
        return Demo(
            obs=obs,
            actions=get("actions"),
            states=get("states"),
            rewards=get("rewards"),
            dones=get("dones"),
            datagen=_read_tree(g["datagen_info"]) if "datagen_info" in g else {},
            attrs=dict(g.attrs),
        )


def iter_demos(path: Path, obs_keys: tuple[str, ...] | None = None, require_actions: bool = True) -> Iterator[Demo]:
    meta = open_demo_file(path, require_actions=require_actions)
    for name in meta.names:
        yield read_demo(path, name, obs_keys)
