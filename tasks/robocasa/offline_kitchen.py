"""The offline kitchen (child side, RoboCasa venv): what RoboCasa's own ``Kitchen`` needs to build without its
asset packs. RoboCasa accepts a layout dict and a style dict in place of its numbered YAMLs; ours name only
fixtures whose models are in RoboCasa's git tree (procedural counters, cabinets, drawer stacks, the outlet and
light-switch meshes), on the stand-in textures and objects of ``tasks.robocasa.offline_assets``.

Deviations from RoboCasa (each result says so): one one-wall layout instead of RoboCasa's 60 kitchens (no
sink, stove, microwave, fridge, dishwasher: their meshes are in the asset packs), three procedural styles,
stand-in textures, and 10 stand-in objects in 10 categories registered as the ``harness_offline`` registry.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

REGISTRY = "harness_offline"

# Layout (RoboCasa's layout YAML schema, as a dict): a 4 m wall of base stacks under a counter, wall cabinets
# above. Adapted from RoboCasa's layout001 with every appliance removed.
_WALLS = [
    {"name": "wall", "type": "wall", "size": [2.75, 1.5, 0.02], "pos": [2.75, 0, 1.5]},
    {"name": "wall_backing", "type": "wall", "backing": True, "backing_extended": [True, True],
     "size": [2.75, 1.5, 0.1], "pos": [2.75, 0, 1.5]},
    {"name": "wall_left", "type": "wall", "wall_side": "left", "size": [1.5, 1.5, 0.02], "pos": [0, -1.5, 1.5]},
    {"name": "wall_left_backing", "type": "wall", "wall_side": "left", "backing": True, "size": [1.5, 1.5, 0.1],
     "pos": [0, -1.5, 1.5]},
    {"name": "wall_right", "type": "wall", "wall_side": "right", "size": [1.5, 1.5, 0.02], "pos": [5.5, -1.5, 1.5]},
    {"name": "wall_right_backing", "type": "wall", "wall_side": "right", "backing": True, "size": [1.5, 1.5, 0.1],
     "pos": [5.5, -1.5, 1.5]},
]  # fmt: skip
LAYOUT: dict[str, Any] = {
    "room": {
        "walls": _WALLS,
        "floor": [
            {"name": "floor", "type": "floor", "size": [2.75, 1.5, 0.02], "pos": [2.75, -1.5, 0]},
            {"name": "floor_backing", "type": "floor", "backing": True, "size": [2.75, 1.5, 0.1],
             "pos": [2.75, -1.5, 0]},
        ],  # fmt: skip
        "wall_accessories": [
            {"name": "outlet", "type": "wall_accessory", "attach_to": "wall", "pos": [3.2, None, 1.2]},
            {"name": "light_switch", "type": "wall_accessory", "config_name": "light_switch", "attach_to": "wall",
             "pos": [1.0, None, 1.2]},
        ],  # fmt: skip
    },
    "main_group": {
        "bottom_row": [
            {"name": "counter_main", "type": "counter", "size": [2.5, 0.65, 0.92], "pos": [1.75, -0.325, 0.46]},
            {"name": "counter_right", "type": "counter", "size": [1.5, 0.65, 0.92], "align_to": "counter_main",
             "alignment": "top_back", "side": "right"},
        ],  # fmt: skip
        "top_row": [
            {"name": "cab_1", "type": "single_cabinet", "orientation": "left", "default_config_name": "cab_top",
             "size": [0.5, 0.4, 0.92], "pos": [0.75, -0.2, 1.85]},
            {"name": "cab_2", "type": "hinge_cabinet", "default_config_name": "cab_top", "size": [1.0, 0.4, 0.92],
             "align_to": "cab_1", "side": "right"},
            {"name": "cab_main", "type": "hinge_cabinet", "default_config_name": "cab_top",
             "size": [1.0, 0.4, 0.92], "align_to": "cab_2", "side": "right"},
            {"name": "cab_3", "type": "hinge_cabinet", "default_config_name": "cab_top", "size": [1.0, 0.4, 0.92],
             "align_to": "cab_main", "side": "right"},
            {"name": "cab_4", "type": "single_cabinet", "orientation": "right", "default_config_name": "cab_top",
             "size": [0.5, 0.4, 0.92], "align_to": "cab_3", "side": "right"},
        ],  # fmt: skip
        "bottom_row_cabinets": [
            {"name": "stack_1", "type": "stack", "levels": ["drawer", "drawer", "drawer", "drawer"],
             "percentages": [0.25, 0.25, 0.25, 0.25], "size": [0.5, 0.6, 0.84], "pos": [0.75, -0.3, 0.47]},
            {"name": "stack_2", "type": "stack", "levels": ["hinge_cabinet", "drawer"], "percentages": [0.75, 0.25],
             "size": [1.0, 0.6, 0.84], "align_to": "stack_1", "side": "right"},
            {"name": "stack_3", "type": "stack", "levels": ["single_cabinet", "drawer"],
             "percentages": [0.75, 0.25], "size": [0.5, 0.6, 0.84], "align_to": "stack_2", "side": "right"},
            {"name": "stack_4", "type": "stack", "levels": ["hinge_cabinet", "panel_cabinet"],
             "percentages": [0.75, 0.25], "size": [1.0, 0.6, 0.84], "align_to": "stack_3", "side": "right"},
            {"name": "stack_5", "type": "stack", "levels": ["drawer", "drawer", "drawer"],
             "percentages": [0.34, 0.33, 0.33], "size": [0.5, 0.6, 0.84], "align_to": "stack_4", "side": "right"},
            {"name": "stack_6", "type": "stack", "levels": ["single_cabinet", "drawer"],
             "percentages": [0.75, 0.25], "size": [0.5, 0.6, 0.84], "align_to": "stack_5", "side": "right"},
        ],  # fmt: skip
    },
}

# Styles (RoboCasa's style YAML schema): procedural registry entries only. Several, so scenes vary in look.
STYLES: tuple[dict[str, Any], ...] = tuple(
    {
        "cabinet": {"default": [texture, panel, handle], "shelves": "light_wood_planks_shelves"},
        "counter": {"default": counter},
        "floor": floor,
        "wall": wall,
        "wall_accessory": "default",
        "accessory": "default",
    }
    for texture, panel, handle, counter, floor, wall in (
        ("white", "shaker", "handle_bar", "default", "wood", "default"),
        ("gray", "slab", "handle_boxed", "gray_base_marble_top", "light_wood", "white_bricks"),
        ("dark_gray", "raised", "handle_bar", "light_wood_base_white_top", "wood_2", "default"),
    )
)


def asset_root() -> Path:
    return Path(os.environ["ROBOCASA_ASSETS_PATH"])


def is_offline_tree(root: Path) -> bool:
    from tasks.robocasa.offline_assets import MARKER

    return (root / MARKER).exists()


def register_objects() -> list[str]:
    """Add the stand-in objects as RoboCasa registry ``harness_offline`` (categories keep RoboCasa's flags:
    graspable, types); returns the categories that have a model. Must run after ``import robocasa`` with
    ``ROBOCASA_ASSETS_PATH`` set to the offline tree."""
    from robocasa.models.objects.kitchen_object_utils import OBJ_CATEGORIES, ObjCat

    root = asset_root() / "objects" / REGISTRY
    categories = sorted(p.name for p in root.iterdir() if p.is_dir())
    for cat in categories:
        existing = next(iter(OBJ_CATEGORIES[cat].values()))
        OBJ_CATEGORIES[cat][REGISTRY] = ObjCat(
            name=cat,
            types=existing.types,
            model_folders=[str(root / cat)],
            graspable=existing.graspable,
            washable=existing.washable,
            microwavable=existing.microwavable,
            cookable=existing.cookable,
            fridgable=existing.fridgable,
            freezable=existing.freezable,
            dishwashable=existing.dishwashable,
            reg_type=REGISTRY,
        )
    return categories


def cache_yaml_parsing() -> None:
    """RoboCasa re-parses the fixture registry YAMLs ~40 times per reset (pure-Python PyYAML, most of a reset's
    time). Parse each file once (C loader when present) and hand out deep copies: same content, faster."""
    import yaml

    if getattr(yaml.safe_load, "_harness_cached", False):
        return
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    original = yaml.safe_load
    cache: dict[str, Any] = {}

    def safe_load(stream: Any) -> Any:
        name = getattr(stream, "name", None)
        if not isinstance(name, str) or not name.endswith(".yaml"):
            return original(stream)
        if name not in cache:
            cache[name] = yaml.load(stream, Loader=loader)  # noqa: S506 - safe loader
        return copy.deepcopy(cache[name])

    safe_load._harness_cached = True  # type: ignore[attr-defined]
    yaml.safe_load = safe_load
