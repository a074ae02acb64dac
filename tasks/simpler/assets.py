"""SIMPLER (ManiSkill3 Bridge) asset directory: the user's data + clearly-labelled stand-ins.

Source data: ``$SIMPLER_ASSETS`` (a folder with ``data/`` laid out like ManiSkill's asset dir), else
``../shared/assets/simpler`` beside the project, else an existing ``$MS_ASSET_DIR``. Files missing
from the source (Bridge table stage meshes, some visual meshes) get generated stand-ins in a cache
dir that links everything else to the source; nothing is copied into the project. Users with
ManiSkill's own download (complete data) get no stand-ins at all.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from harness.errors import HarnessError
from harness.engine.manifest import PROJECT_ROOT

BRIDGE = Path("data/tasks/bridge_v2_real2sim_dataset")
STAGES = ("bridge_table_1_v1.glb", "bridge_table_1_v2.glb")
STAGE_TOP_Z = 0.86  # metres; the height the scene's objects are spawned to rest on
# ManiSkill loads the stage rotated +90 deg about x (glTF is Y-up) and shifted by this offset:
# world = (x_file + 2.0634, -z_file + 2.8313, y_file).
STAGE_OFFSET = (2.0634, 2.8313, 0.0)
VISUAL_NAMES = ("textured.obj", "textured.dae", "textured.glb")  # ManiSkill's lookup order
CACHE_VERSION = "v2"
# Diffuse colours for visual stand-ins (collision mesh + flat material), so the object keeps its hue.
STAND_IN_COLOURS = {"eggplant": (0.30, 0.12, 0.38)}


def source_dir() -> Path:
    """Folder holding ``data/`` with SIMPLER's robots and Bridge task data."""
    candidates = [
        os.environ.get("SIMPLER_ASSETS"),
        str(PROJECT_ROOT.parent / "shared" / "assets" / "simpler"),
        os.environ.get("MS_ASSET_DIR"),
    ]
    for c in candidates:
        if c and (Path(c) / BRIDGE).is_dir() and (Path(c) / "data" / "robots" / "widowx").is_dir():
            return Path(c)
    raise HarnessError(
        "SIMPLER assets not found: set SIMPLER_ASSETS to a folder with data/tasks/"
        "bridge_v2_real2sim_dataset and data/robots/widowx (ManiSkill's download works too)"
    )


def missing_files(src: Path) -> list[str]:
    """Paths (relative to ``src``) that the Bridge tasks load but the source lacks."""
    missing = [str(BRIDGE / "stages" / s) for s in STAGES if not (src / BRIDGE / "stages" / s).exists()]
    models = src / BRIDGE / "custom" / "models"
    for model in sorted(p for p in models.iterdir() if p.is_dir()):
        if not any((model / n).exists() for n in VISUAL_NAMES):
            missing.append(str((model / "textured.obj").relative_to(src)))
    return missing


def stand_in_notes(models: tuple[str, ...]) -> list[str]:
    """One line per stand-in that tasks using ``models`` meet (empty with complete original data)."""
    src = source_dir()
    notes = [f"SIMPLER data files from {src}"]
    for rel in missing_files(src):
        if not rel.endswith(".glb") and Path(rel).parent.name not in models:
            continue
        if rel.endswith(".glb"):
            notes.append(
                f"STAND-IN {rel}: flat box with its top at z={STAGE_TOP_Z} m in place of the Bridge table "
                "mesh (the camera image shows the real table photo via greenscreen; physics uses the box)"
            )
        else:
            colour = " with a flat colour" if Path(rel).parent.name in STAND_IN_COLOURS else ""
            notes.append(f"STAND-IN {rel}: the object's collision.obj used as its visual mesh{colour}")
    return notes


def _write_stage_box(path: Path) -> None:
    """A box spanning world x [-1, 0.7], y [-0.8, 0.8], z [0, STAGE_TOP_Z], in the stage file's frame."""
    import numpy as np
    import trimesh

    ox, oy, _ = STAGE_OFFSET
    lo_world, hi_world = np.array([-1.0, -0.8, 0.0]), np.array([0.7, 0.8, STAGE_TOP_Z])
    lo = np.array([lo_world[0] - ox, lo_world[2], -(hi_world[1] - oy)])
    hi = np.array([hi_world[0] - ox, hi_world[2], -(lo_world[1] - oy)])
    box = trimesh.creation.box(extents=hi - lo)
    box.apply_translation((hi + lo) / 2)
    box.visual.face_colors = [150, 130, 110, 255]
    box.export(str(path))


def _write_visual_stand_in(missing: Path, path: Path) -> None:
    """The object's collision mesh as its visual mesh, with a flat colour where one is known."""
    collision = missing.parent / "collision.obj"
    colour = STAND_IN_COLOURS.get(missing.parent.name)
    if colour is None:
        path.symlink_to(collision.resolve())
        return
    body = [ln for ln in collision.read_text().splitlines() if not ln.startswith(("mtllib", "usemtl"))]
    r, g, b = colour
    path.with_suffix(".mtl").write_text(f"newmtl stand_in\nKd {r} {g} {b}\nKa 0 0 0\nKs 0.2 0.2 0.2\nNs 30\nd 1\n")
    path.write_text(f"mtllib {path.with_suffix('.mtl').name}\nusemtl stand_in\n" + "\n".join(body) + "\n")


def _mirror(src: Path, dst: Path, generated: set[str], root: Path) -> None:
    """Recreate ``src`` under ``dst`` as symlinks, descending only into folders holding a missing file."""
    dst.mkdir(parents=True, exist_ok=True)
    for item in src.iterdir():
        target = dst / item.name
        rel = str(target.relative_to(root))
        if item.is_dir() and any(g.startswith(rel + "/") for g in generated):
            _mirror(item, target, generated, root)
        else:
            target.symlink_to(item.resolve())


def prepare_ms_asset_dir() -> tuple[Path, list[str]]:
    """A ManiSkill asset dir for the Bridge tasks and the list of stand-ins it contains."""
    src = source_dir()
    missing = missing_files(src)
    if not missing:
        return src, []
    cache = Path(os.environ.get("HARNESS_CACHE", Path.home() / ".cache" / "robot-harness"))
    out = cache / f"simpler-ms-assets-{CACHE_VERSION}"
    marker = out / ".source"
    if marker.is_file() and marker.read_text() == str(src.resolve()):
        return out, missing
    cache.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".simpler-assets-", dir=cache))
    (tmp / BRIDGE / "stages").mkdir(parents=True)
    generated = set(missing) | {str(BRIDGE / "stages" / "placeholder")}
    _mirror(src / "data", tmp / "data", generated, tmp)
    for rel in missing:
        path = tmp / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if rel.endswith(".glb"):
            _write_stage_box(path)
        else:
            _write_visual_stand_in(src / rel, path)
    publish_cache_dir(tmp, out, src)
    return out, missing


def publish_cache_dir(tmp: Path, out: Path, src: Path) -> None:
    """Mark the finished ``tmp`` as built from ``src`` and move it to ``out`` atomically (a concurrent worker
    that finished first wins; ours is dropped)."""
    (tmp / ".source").write_text(str(src.resolve()))
    if out.exists():
        shutil.rmtree(out, ignore_errors=True)
    try:
        os.rename(tmp, out)
    except OSError:  # another process finished first
        shutil.rmtree(tmp, ignore_errors=True)
