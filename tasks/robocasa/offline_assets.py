"""Builds the offline RoboCasa asset tree (runs in the RoboCasa venv, from ``tasks/robocasa/install.sh``).

RoboCasa's git tree ships procedural fixtures (counters, cabinets, drawers, handles), the fixture registry and
the layout / style YAMLs, but no textures, no appliance meshes and no objects: those come from RoboCasa's
``download_kitchen_assets`` (about 10 GB), which is not reachable here. This script writes an asset root that
``ROBOCASA_ASSETS_PATH`` can point at:

* a copy of the git assets of the installed RoboCasa (about 3 MB);
* STAND-IN textures for every ``textures/**.png`` the registry or the fixture XMLs name: solid colours for
  ``flat/*``, otherwise one of robosuite's bundled textures chosen by keyword (wood, marble, bricks, ...),
  downscaled to 256 px;
* STAND-IN objects under ``objects/harness_offline/<category>/<model>/model.xml``: robosuite's bundled objects
  (bread, can, cereal, lemon, milk, bottle) and a few primitive-only models (rolling pin, wooden spoon, apple,
  orange), each with the ``reg_bbox`` geom RoboCasa's samplers read, computed by compiling it in MuJoCo.

None of this is RoboCasa's art: every result on this tree is labelled "stand-in" (see ``suites.py``).

    python -m tasks.robocasa.offline_assets OUT_DIR
"""

from __future__ import annotations

import json
import re
import shutil
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

FORMAT = 3  # bump when the tree's content changes (install.sh rebuilds on mismatch)
MARKER = "harness_offline_kitchen.json"
REGISTRY = "harness_offline"
TEXTURE_SIZE = 256

# flat/<name>.png -> RGB (names used by RoboCasa's registry; unknown names get a neutral grey)
FLAT_COLOURS = {
    "white": (235, 235, 230), "black": (25, 25, 25), "gray": (128, 128, 128), "grey": (128, 128, 128),
    "dark_gray": (70, 70, 72), "light_gray": (190, 190, 190), "dark_blue": (30, 45, 80), "blue": (60, 90, 150),
    "light_blue": (150, 180, 210), "green": (70, 110, 70), "dark_green": (35, 60, 40), "sage": (150, 165, 135),
    "beige": (220, 205, 175), "cream": (240, 230, 205), "red": (150, 40, 40), "brown": (110, 75, 50),
    "navy": (25, 35, 70), "yellow": (220, 200, 90), "orange": (210, 120, 50), "pink": (220, 170, 180),
}  # fmt: skip
# keyword in the missing path -> robosuite texture (first match wins)
KEYWORD_TEXTURES = (
    ("dark_wood", "dark-wood.png"), ("gray_wood", "gray-woodgrain.png"), ("wood", "light-wood.png"),
    ("marble", "white-plaster.png"), ("brick", "white-bricks.png"), ("tile", "light-gray-floor-tile.png"),
    ("concrete", "gray-plaster.png"), ("plaster", "cream-plaster.png"), ("steel", "steel-brushed.png"),
    ("metal", "metal.png"), ("ceramic", "ceramic.png"), ("brass", "brass-ambra.png"), ("glass", "glass.png"),
    ("cabinet", "wood-varnished-panels.png"),
)  # fmt: skip
DEFAULT_TEXTURE = "gray-plaster.png"

# robosuite's bundled objects -> RoboCasa category (mesh and texture copied next to each model.xml, because
# RoboCasa's Kitchen.edit_model_xml rewrites any path containing models/assets/objects into its own tree)
ROBOSUITE_OBJECTS = {"bread": "bread", "can": "can", "cereal": "cereal", "lemon": "lemon", "milk": "milk",
                     "bottle": "water_bottle"}  # fmt: skip
# primitive-only stand-ins: category -> geoms (type, size, pos, rgba, wxyz quat) in the object frame (z up, origin
# at the centre; sizes of 2 or 3 numbers: RoboCasa's scaling refuses 1-number sizes); the drawer tasks sample from
# "tool" / "utensil", which robosuite has no object for
PRIMITIVES = {
    "rolling_pin": [("capsule", "0.022 0.09", "0 0 0", "0.78 0.6 0.4 1", "0.7071068 0 0.7071068 0"),
                    ("capsule", "0.011 0.04", "0.13 0 0", "0.55 0.38 0.22 1", "0.7071068 0 0.7071068 0"),
                    ("capsule", "0.011 0.04", "-0.13 0 0", "0.55 0.38 0.22 1", "0.7071068 0 0.7071068 0")],
    "wooden_spoon": [("capsule", "0.012 0.08", "-0.04 0 0", "0.72 0.52 0.3 1", "0.7071068 0 0.7071068 0"),
                     ("ellipsoid", "0.035 0.024 0.011", "0.085 0 0", "0.72 0.52 0.3 1", "1 0 0 0")],
    "apple": [("ellipsoid", "0.032 0.032 0.030", "0 0 0", "0.75 0.12 0.1 1", "1 0 0 0")],
    "orange": [("ellipsoid", "0.032 0.032 0.031", "0 0 0", "0.95 0.55 0.1 1", "1 0 0 0")],
}  # fmt: skip


def robosuite_assets() -> Path:
    import robosuite

    return Path(robosuite.__file__).parent / "models" / "assets"


def robocasa_git_assets() -> Path:
    import robocasa

    return Path(robocasa.__file__).parent / "models" / "assets"


def _stand_in_texture(rel: str, out: Path) -> None:
    from PIL import Image

    out.parent.mkdir(parents=True, exist_ok=True)
    stem = Path(rel).stem.lower()
    if "/flat/" in f"/{rel}":
        colour = FLAT_COLOURS.get(stem, (150, 150, 150))
        Image.new("RGB", (16, 16), colour).save(out)
        return
    name = next((tex for key, tex in KEYWORD_TEXTURES if key in rel.lower()), DEFAULT_TEXTURE)
    with Image.open(robosuite_assets() / "textures" / name) as img:
        img.convert("RGB").resize((TEXTURE_SIZE, TEXTURE_SIZE)).save(out)


def missing_textures(root: Path) -> list[Path]:
    """Every PNG the registry YAMLs (``textures/...``, relative to the root) or the fixture XMLs (relative to
    the XML) name that does not exist, restricted to paths inside ``root`` (generative textures excluded)."""
    wanted: set[Path] = set()
    for yml in (root / "fixtures" / "fixture_registry").glob("*.yaml"):
        for rel in re.findall(r"(textures/[A-Za-z0-9_./-]+\.png)", yml.read_text()):
            wanted.add((root / rel).resolve())
    for xml in (root / "fixtures").rglob("*.xml"):
        for rel in re.findall(r'file="([^"]+\.png)"', xml.read_text()):
            wanted.add((xml.parent / rel).resolve())
    inside = [p for p in wanted if p.is_relative_to(root.resolve())]
    return sorted(p for p in inside if not p.exists())


def _bbox_of(xml_text: str, folder: Path) -> tuple[np.ndarray, np.ndarray]:
    """(centre, half size) of the object's geoms in its body frame, from MuJoCo's compiled model."""
    import mujoco

    with tempfile.NamedTemporaryFile("w", suffix=".xml", dir=folder, delete=False) as tmp:
        tmp.write(xml_text)
    try:
        model = mujoco.MjModel.from_xml_path(tmp.name)
    finally:
        Path(tmp.name).unlink()
    data = mujoco.MjData(model)
    mujoco.mj_forward(model, data)
    lo, hi = np.full(3, np.inf), np.full(3, -np.inf)
    signs = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)], dtype=float)
    for g in range(model.ngeom):
        centre, half = model.geom_aabb[g, :3], model.geom_aabb[g, 3:]
        corners = centre + signs * half  # geom frame
        world = data.geom_xpos[g] + corners @ data.geom_xmat[g].reshape(3, 3).T
        lo, hi = np.minimum(lo, world.min(0)), np.maximum(hi, world.max(0))
    return (lo + hi) / 2, (hi - lo) / 2


def _object_xml(name: str, assets: str, geoms: str, centre: np.ndarray | None, half: np.ndarray | None) -> str:
    bbox = sites = ""
    if centre is not None and half is not None:
        c, h = (" ".join(f"{v:.5f}" for v in a) for a in (centre, half))
        bbox = f'\n      <geom name="reg_bbox" type="box" pos="{c}" size="{h}" group="1" contype="0" conaffinity="0" ' \
               f'rgba="0 0 0 0" mass="0"/>'  # fmt: skip
        bottom, top, radius = centre[2] - half[2], centre[2] + half[2], float(np.linalg.norm(half[:2]))
        sites = (
            f'\n    <site rgba="0 0 0 0" size="0.005" pos="0 0 {bottom:.5f}" name="bottom_site"/>'
            f'\n    <site rgba="0 0 0 0" size="0.005" pos="0 0 {top:.5f}" name="top_site"/>'
            f'\n    <site rgba="0 0 0 0" size="0.005" pos="{radius:.5f} {radius:.5f} 0" name="horizontal_radius_site"/>'
        )
    return (
        f'<mujoco model="{name}">\n  <asset>{assets}\n  </asset>\n  <worldbody>\n  <body>\n    <body name="object">'
        f"{geoms}{bbox}\n    </body>{sites}\n  </body>\n  </worldbody>\n</mujoco>\n"
    )


def _write_object(folder: Path, name: str, assets: str, geoms: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    centre, half = _bbox_of(_object_xml(name, assets, geoms, None, None), folder)
    (folder / "model.xml").write_text(_object_xml(name, assets, geoms, centre, half))


def write_robosuite_object(source: str, category: str, objects: Path) -> None:
    src_xml = robosuite_assets() / "objects" / f"{source}.xml"
    root = ET.parse(src_xml).getroot()
    folder = objects / category / f"robosuite_{source}"
    folder.mkdir(parents=True, exist_ok=True)
    for elem in root.find("asset"):
        if "file" in elem.attrib:
            src_file = (src_xml.parent / elem.get("file")).resolve()
            shutil.copyfile(src_file, folder / src_file.name)
            elem.set("file", src_file.name)
    assets = "".join("\n    " + ET.tostring(e, encoding="unicode").strip() for e in root.find("asset"))
    geoms = ""
    for geom in root.iter("geom"):
        geom.attrib.pop("name", None)
        geom.set("group", "0")
        geoms += "\n      " + ET.tostring(geom, encoding="unicode").strip()
    _write_object(folder, f"robosuite_{source}", assets, geoms)


def write_primitive_object(category: str, parts: list[tuple[str, str, str, str, str]], objects: Path) -> None:
    geoms = "".join(
        f'\n      <geom type="{kind}" size="{size}" pos="{pos}" quat="{quat}" rgba="{rgba}" group="0" condim="4"/>'
        for kind, size, pos, rgba, quat in parts
    )
    _write_object(objects / category / f"primitive_{category}", f"primitive_{category}", "", geoms)


def build(out: Path) -> dict[str, object]:
    """Write the tree into ``out`` (replaced atomically: built beside it, then renamed)."""
    import mujoco
    import robocasa

    out = out.resolve()
    staging = out.with_name(out.name + ".building")
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(robocasa_git_assets(), staging)
    textures = missing_textures(staging)
    for path in textures:
        _stand_in_texture(str(path.relative_to(staging)), path)
    objects = staging / "objects" / REGISTRY
    for source, category in ROBOSUITE_OBJECTS.items():
        write_robosuite_object(source, category, objects)
    for category, parts in PRIMITIVES.items():
        write_primitive_object(category, parts, objects)
    summary: dict[str, object] = {
        "format": FORMAT,
        "robocasa": getattr(robocasa, "__version__", "unknown"),
        "mujoco": mujoco.__version__,
        "stand_in_textures": len(textures),
        "stand_in_objects": sorted(p.parent.relative_to(objects).as_posix() for p in objects.rglob("model.xml")),
        "note": "stand-in textures and objects (not RoboCasa's asset packs); results are not comparable to "
        "published RoboCasa numbers",
    }
    (staging / MARKER).write_text(json.dumps(summary, indent=1))
    shutil.rmtree(out, ignore_errors=True)
    staging.rename(out)
    return summary


def main() -> None:
    if len(sys.argv) != 2:
        raise SystemExit("usage: python -m tasks.robocasa.offline_assets OUT_DIR")
    summary = build(Path(sys.argv[1]))
    print(f"offline kitchen assets: {summary['stand_in_textures']} stand-in textures, "
          f"{len(summary['stand_in_objects'])} stand-in objects -> {sys.argv[1]}")  # fmt: skip


if __name__ == "__main__":
    main()
