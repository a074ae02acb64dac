"""The asset folder SIMPLER's ManiSkill2_real2sim reads (``MS2_REAL2SIM_ASSET_DIR``): its ``custom/`` and
``real_inpainting/`` from the SIMPLER data (``tasks.simpler.assets.source_dir``), mirrored into a cache as real
folders of symlinked files (SAPIEN writes mesh caches beside the files it loads: they land in the cache, never
in the source), plus the one stage mesh the offline data has. Nothing is copied into the project.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from tasks.simpler.assets import BRIDGE, publish_cache_dir, source_dir

CACHE_VERSION = "v1"
STAGE = Path("data/hab2_bench_assets/stages/frl_apartment_stage_simple.glb")


def _mirror_tree(src: Path, dst: Path) -> None:
    for folder, _, files in os.walk(src):
        out = dst / Path(folder).relative_to(src)
        out.mkdir(parents=True, exist_ok=True)
        for name in files:
            (out / name).symlink_to((Path(folder) / name).resolve())


def prepare_asset_dir() -> Path:
    """The cache folder for ``MS2_REAL2SIM_ASSET_DIR`` (built once per source, atomically)."""
    src = source_dir()
    cache = Path(os.environ.get("HARNESS_CACHE", Path.home() / ".cache" / "robot-harness"))
    out = cache / f"simpler-google-assets-{CACHE_VERSION}"
    marker = out / ".source"
    if marker.is_file() and marker.read_text() == str(src.resolve()):
        return out
    cache.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".simpler-google-", dir=cache))
    for part in ("custom", "real_inpainting"):
        _mirror_tree(src / BRIDGE / part, tmp / part)
    if (src / STAGE).exists():
        (tmp / "hab2_bench_assets" / "stages").mkdir(parents=True)
        (tmp / "hab2_bench_assets" / "stages" / STAGE.name).symlink_to((src / STAGE).resolve())
    publish_cache_dir(tmp, out, src)
    return out
