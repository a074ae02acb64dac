"""Evaluation scenes vs training scenes: the protocol every number obeys.

- **Evaluation scenes** are a suite's fixed scenes: LIBERO's 50 init states per task, SIMPLER's fixed
  configurations. ``EpisodeSpec(split="eval", init_index=i)`` is evaluation scene i. They are never used
  for training.
- **Training scenes** are sampled from the same placement distribution with seeds disjoint from anything
  evaluation uses (``split="train"``, ``init_index=k``: training scene k). Demonstrations, clips and
  world-model data come from them.

Every demo written by ``harness.data.generate`` records its scene (``scene_split`` and ``init_index``
attributes). Every checkpoint records the scenes of its training data (``data.scenes`` in config.json),
including those of the checkpoints it starts from (world-model stages, frozen encoders).
``check_no_training_scenes`` is what ``harness.eval`` / ``harness.compare`` call before a run starts.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable, Sequence

import h5py

from harness.errors import HarnessError

EVAL, TRAIN = "eval", "train"
SPLITS = (EVAL, TRAIN)
TRAIN_SEED_BASE = 1_000_000  # training scene k of a task is sampled with seed TRAIN_SEED_BASE + k
UNKNOWN = "unknown"  # a checkpoint that does not say which scenes it was trained on


def scene_id(task_name: str, split: str, index: int) -> str:
    """``put_carrot_on_plate#eval3``: one scene of one task (task names are unique per init-state file)."""
    if split not in SPLITS:
        raise HarnessError(f"scene split must be one of {', '.join(SPLITS)}, got {split!r}")
    return f"{task_name}#{split}{int(index)}"


def scenes_of_file(path: Path) -> list[str]:
    """Scene ids of every demo / clip of a demo file. Demos without a ``scene_split`` attribute (files
    written before training scenes existed, or LIBERO's own files) count as evaluation scenes when they
    name an ``init_index``, since that index named a fixed init state."""
    out: list[str] = []
    try:
        with h5py.File(path, "r") as f:
            data = f["data"]
            problem = json.loads(data.attrs.get("problem_info", "{}"))
            for name in data:
                attrs = data[name].attrs
                task = attrs.get("task") or problem.get("task") or problem.get("problem_name") or Path(path).stem
                if "init_index" not in attrs:
                    out.append(f"{task}#{UNKNOWN}")
                    continue
                split = str(attrs.get("scene_split", EVAL))
                out.append(scene_id(str(task), split, int(attrs["init_index"])))
                out.extend(json.loads(attrs.get("source_scenes", "[]")))  # MimicGen: its source demos' scenes
    except (OSError, KeyError, ValueError, json.JSONDecodeError) as exc:
        raise HarnessError(f"cannot read the scenes of {path}: {exc}") from exc
    return sorted(set(out))


def checkpoint_scenes(folder: str | Path) -> list[str] | None:
    """Scenes a checkpoint folder was trained on (None: it does not record them)."""
    config = Path(folder) / "config.json"
    try:
        meta = json.loads(config.read_text())
    except (OSError, json.JSONDecodeError):
        return None
    scenes = meta.get("data", {}).get("scenes")
    return list(scenes) if isinstance(scenes, list) else None


def training_scenes(paths: Sequence[Path], model_cfg: Any) -> list[str]:
    """Scenes behind a new checkpoint: its data files plus every checkpoint it builds on (the ``init`` of a
    later training stage, a frozen ``encoder`` trained here, a frozen ``vision=ckpt:DIR`` image encoder, the ``laq``
    quantizer that labels LAPA's clips, and any field a config class names in its ``PARENT_CHECKPOINTS``).
    A parent without a record makes the result contain ``*#unknown``, which evaluation treats as possibly
    overlapping."""
    scenes: set[str] = set()
    for path in paths:
        scenes.update(scenes_of_file(Path(path)))
    fields = ("init", "encoder", "laq", *getattr(model_cfg, "PARENT_CHECKPOINTS", ()))
    parents = [getattr(model_cfg, f, "") for f in fields]
    vision = str(getattr(model_cfg, "vision", ""))
    if vision.startswith("ckpt:"):  # a frozen image encoder trained here: its training frames count too
        parents.append(vision.removeprefix("ckpt:"))
    for parent in parents:
        if not parent or str(parent).startswith("hf:") or not (Path(parent) / "config.json").exists():
            continue
        recorded = checkpoint_scenes(parent)
        scenes.update(recorded if recorded is not None else [f"{parent}#{UNKNOWN}"])
    return sorted(scenes)


def overlap(evaluated: Iterable[str], trained: Iterable[str]) -> list[str]:
    """Evaluated scene ids that were training scenes (or all of them when the record is unknown)."""
    trained = set(trained)
    unknown = any(s.endswith("#" + UNKNOWN) for s in trained)
    return sorted(s for s in evaluated if unknown or s in trained)


def check_no_training_scenes(
    evaluated: Sequence[str], checkpoints: dict[str, str | None], allow: bool
) -> list[str]:
    """Refuse (HarnessError) when an evaluated scene was a training scene of one of ``checkpoints``
    ({role: folder}); with ``allow``, return warning lines instead (the caller prints and records them)."""
    warnings: list[str] = []
    for role, folder in checkpoints.items():
        if not folder or not Path(folder).expanduser().is_dir():
            continue  # none, a single file (an action file) or no folder (a component that needs none)
        folder = str(Path(folder).expanduser())
        trained = checkpoint_scenes(folder)
        if trained is None:
            problem = f"{role} checkpoint {folder} does not record its training scenes (made before held-out scenes)"
        else:
            hits = overlap(evaluated, trained)
            if not hits:
                continue
            shown = ", ".join(hits[:3]) + (f" (+{len(hits) - 3} more)" if len(hits) > 3 else "")
            problem = f"{len(hits)} evaluated scene(s) were training scenes of the {role} checkpoint {folder}: {shown}"
        if not allow:
            raise HarnessError(f"{problem}; retrain on training scenes or pass --allow-train-scenes")
        warnings.append(f"WARNING: {problem} (allowed by --allow-train-scenes; results are not held-out)")
    return warnings
