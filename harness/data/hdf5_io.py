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
import os
import shutil
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from harness.engine.atomic_io import fsync_dir, replace_atomic
from harness.errors import HarnessError

DEMO_PREFIX, CLIP_PREFIX = "demo_", "clip_"  # groups with actions / action-free clips
GROUP_PREFIXES = (DEMO_PREFIX, CLIP_PREFIX)


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
    """Writes demos crash-safely: each demo goes to its own part file, and the HDF5 file is (re)assembled from
    the parts into a temp file that then atomically replaces it, so ``path`` is never half-written.

    Parts live in ``<path>.parts/<key>.hdf5`` (temp file + fsync + rename: a part under its final name is
    complete). ``commit()`` assembles every part, in natural order of their keys, as groups ``<prefix>_0``,
    ``<prefix>_1``, ...; each group records its key in the attribute ``part_key``. With ``autocommit`` (the
    default) every ``append`` commits (simple, but it rewrites the whole file: O(n^2) for n demos); long runs
    pass ``autocommit=False`` and call ``commit()`` when done (and on resume). Opening a writer on a file
    that has no parts folder yet adopts its groups as parts, so an existing file can be extended.
    """

    def __init__(
        self,
        path: Path,
        instruction: str,
        env_args: dict[str, Any],
        bddl_file: str | None = None,
        prefix: str = "demo",
        autocommit: bool = True,
    ):
        self.path, self.prefix, self.autocommit = Path(path), prefix, autocommit
        self.parts = self.path.with_name(self.path.name + ".parts")
        problem = {"language_instruction": instruction, "problem_name": env_args.get("task", "")}
        self.file_attrs: dict[str, str] = {
            "problem_info": json.dumps(problem),
            "env_args": json.dumps(env_args, default=str),
            **({"bddl_file_name": bddl_file} if bddl_file else {}),
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if not self.parts.is_dir():
            self._adopt_existing()
        for stale in [*self.parts.glob(".*.tmp"), *self.path.parent.glob(f".{self.path.name}.*.tmp")]:
            stale.unlink()  # temp files of a killed writer
        if autocommit and not self.path.exists():
            self.commit()  # the file exists (with its attributes) from the start

    def _part(self, key: str) -> Path:
        return self.parts / f"{key}.hdf5"

    def existing(self) -> list[str]:
        """Keys of the parts written so far, in assembly order (used to resume)."""
        return sorted((p.stem for p in self.parts.glob("*.hdf5") if not p.name.startswith(".")), key=_natural_key)

    def append(self, demo: Demo, key: str | None = None) -> str:
        """Write one demo as a part (durably) and return its key; a part with the same key is replaced.

        Keys order the demos in the assembled file (default: ``<prefix>_<number of parts>``)."""
        key = key or self._next_key()
        if "/" in key or key.startswith("."):
            raise ValueError(f"bad demo key {key!r}")
        with self._temp(self.parts, key) as tmp:
            with _h5py().File(tmp, "w") as f:
                _write_demo(f.create_group("demo"), demo)
                f.attrs["prefix"] = self.prefix
            _fsync_file(tmp)
            replace_atomic(tmp, self._part(key))
        if self.autocommit:
            self.commit()
        return key

    def _next_key(self) -> str:
        taken, n = set(self.existing()), len(self.existing())
        while f"{self.prefix}_{n}" in taken:
            n += 1
        return f"{self.prefix}_{n}"

    def prune(self, keep: set[str]) -> list[str]:
        """Delete the parts whose key is not in ``keep`` (written by a run killed before it logged them)."""
        dropped = [k for k in self.existing() if k not in keep]
        for key in dropped:
            self._part(key).unlink()
        if dropped:
            fsync_dir(self.parts)
        return dropped

    def commit(self) -> list[str]:
        """Assemble all parts into a temp file and atomically replace ``path`` with it; returns the group names
        (``<prefix>_<i>``, numbered per prefix in key order)."""
        h5py = _h5py()
        names: list[str] = []
        with self._temp(self.path.parent, self.path.name) as tmp:
            with h5py.File(tmp, "w") as out:
                data = out.create_group("data")
                data.attrs.update(self.file_attrs)
                for key in self.existing():
                    with h5py.File(self._part(key), "r") as part:
                        prefix = str(part.attrs.get("prefix", self.prefix))
                        name = f"{prefix}_{sum(n.startswith(prefix + '_') for n in names)}"
                        part.copy(part["demo"], data, name=name)
                    data[name].attrs["part_key"] = key
                    names.append(name)
                data.attrs["num_demos"] = len(names)
                data.attrs["total"] = int(sum(data[n].attrs.get("num_samples", 0) for n in names))
            _fsync_file(tmp)
            replace_atomic(tmp, self.path)
        return names

    def _adopt_existing(self) -> None:
        """Turn the groups of an existing ``path`` (written before parts existed) into parts."""
        tmp_dir = self.parts.with_name(f".{self.parts.name}.tmp")
        shutil.rmtree(tmp_dir, ignore_errors=True)
        tmp_dir.mkdir()
        if self.path.exists():
            h5py = _h5py()
            try:
                src = h5py.File(self.path, "r")
            except OSError as exc:
                raise HarnessError(f"{self.path} is not a readable HDF5 file ({exc}); move it away") from exc
            with src:
                data = src.get("data", {})
                for name in (k for k in data if k.startswith(GROUP_PREFIXES)):
                    key = str(data[name].attrs.get("part_key", name))
                    with h5py.File(tmp_dir / f"{key}.hdf5", "w") as part:
                        src.copy(data[name], part, name="demo")
                        part.attrs["prefix"] = name.rpartition("_")[0]
                    _fsync_file(tmp_dir / f"{key}.hdf5")
        replace_atomic(tmp_dir, self.parts)

    @staticmethod
    @contextmanager
    def _temp(folder: Path, name: str) -> Iterator[Path]:
        """A unique temp path in ``folder`` (removed unless it was renamed away)."""
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".tmp")
        os.close(fd)
        try:
            yield Path(tmp)
        finally:
            Path(tmp).unlink(missing_ok=True)


def _write_demo(g: Any, demo: Demo) -> None:
    """One demo's datasets and attributes into group ``g``."""
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


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


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
    """Validate a LIBERO/robomimic-style file; a foreign or corrupt file raises one HarnessError naming the gap.

    ``require_actions`` (policy / world-model training) selects the ``demo_*`` groups only; without it
    (action-free use) the ``clip_*`` groups are selected too. Other groups are ignored."""
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
        names = _select_groups(path, data, require_actions)
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


def _select_groups(path: Path, data: Any, require_actions: bool) -> list[str]:
    """Names of the ``demo_*`` (and, without ``require_actions``, ``clip_*``) groups in natural order."""
    groups = [k for k in data if isinstance(data[k], _h5py().Group)]
    prefixes = (DEMO_PREFIX,) if require_actions else GROUP_PREFIXES
    names = sorted((k for k in groups if k.startswith(prefixes)), key=_natural_key)
    if names:
        return names
    clips = [k for k in groups if k.startswith(CLIP_PREFIX)]
    if require_actions and clips:
        raise HarnessError(
            f"{path}: no demo_* groups; its {len(clips)} clip_* group(s) are missing actions (action-free clips)"
        )
    raise HarnessError(f"{path}: group 'data' holds no demos (no demo_* or clip_* groups)")


def _natural_key(name: str) -> tuple[str, int]:
    prefix, _, num = name.rpartition("_")
    return (prefix, int(num)) if num.isdigit() else (name, -1)


def read_demo(path: Path, name: str, obs_keys: tuple[str, ...] | None = None, missing_ok: bool = False) -> Demo:
    """Load one demo group (all obs keys, or only ``obs_keys``; ``missing_ok``: those of them the group has)."""
    with _h5py().File(path, "r") as f:
        g = f["data"][name]
        obs_group = g["obs"]
        keys = obs_keys if obs_keys is not None else tuple(obs_group.keys())
        if missing_ok:
            keys = tuple(k for k in keys if k in obs_group)
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
