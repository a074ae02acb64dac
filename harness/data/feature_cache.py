"""Frozen image features computed once per demo file and cached as safetensors (never pickle).

One cache file per (demo file, frozen encoder, image keys, image size, demos only or demos + action-free clips):
    ``<cache_dir or the demo file's folder>/<file name>.<key[:16]>.features.safetensors``
holding one float32 tensor [T, V, F] per demo or action-free clip (V = image keys in order, F = the encoder's
feature size) and the full key in its metadata. The key hashes the frozen weights
(``FrozenEncoder.fingerprint``), the demo file's resolved path, size and modification time (not its content:
files are large), the image keys, the image size and ``CACHE_VERSION``; changing any of them selects another
file, so a stale cache is never read.
Old cache files are left in place (delete them by hand).

Frames are resized with ``resize_image`` (as ``DemoChunkDataset`` and live observations are), converted with
``images_to_float`` and encoded with ``FrozenEncoder.features``: the functions a policy uses at evaluation.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from safetensors.numpy import load_file, save_file

from harness.data.features import stacked_views
from harness.data.hdf5_io import open_demo_file, read_demo
from harness.errors import HarnessError
from harness.nn.frozen import FrozenEncoder
from harness.nn.vision import images_to_float

CACHE_VERSION = 2  # 2: the key records whether action-free clip_* groups are included
FeatureTable = dict[str, np.ndarray]  # demo name -> float32 [T, V, F]


def cache_key(
    path: Path, image_keys: Sequence[str], image_size: int, fingerprint: str, with_clips: bool = False
) -> str:
    """sha256 of everything the cached features depend on (see module docstring)."""
    path = Path(path).resolve()
    try:
        st = path.stat()
    except OSError as exc:
        raise HarnessError(f"feature cache: cannot stat demo file {path}: {exc}") from exc
    ident = {
        "version": CACHE_VERSION,
        "file": str(path),
        "size": st.st_size,
        "mtime_ns": st.st_mtime_ns,
        "image_keys": list(image_keys),
        "image_size": int(image_size),
        "encoder": fingerprint,
        "groups": "demos+clips" if with_clips else "demos",
    }
    return hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()


def cache_path(path: Path, key: str, cache_dir: str | Path | None = None) -> Path:
    folder = Path(cache_dir).expanduser() if cache_dir else Path(path).resolve().parent
    return folder / f"{Path(path).name}.{key[:16]}.features.safetensors"


@torch.no_grad()
def frame_features(encoder: FrozenEncoder, frames: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """uint8 frames [N, S, S, 3] (already resized) -> float32 features [N, F] via ``encoder.features``."""
    encoder.eval()
    out = [
        encoder.features(images_to_float(torch.from_numpy(np.ascontiguousarray(frames[i : i + batch_size]))))
        for i in range(0, len(frames), batch_size)
    ]
    return torch.cat(out).numpy().astype(np.float32)


def _compute(
    path: Path, image_keys: Sequence[str], image_size: int, encoder: FrozenEncoder, with_clips: bool
) -> FeatureTable:
    meta = open_demo_file(path, require_actions=not with_clips, obs_keys=tuple(image_keys))
    table: FeatureTable = {}
    for name in meta.names:
        views = stacked_views(read_demo(meta.path, name, tuple(image_keys)).obs, image_keys, image_size)
        table[name] = np.stack([frame_features(encoder, views[:, v]) for v in range(len(image_keys))], axis=1)
    return table


def load_or_build(
    path: Path,
    image_keys: Sequence[str],
    image_size: int,
    encoder: FrozenEncoder,
    cache_dir: str | Path | None = None,
    fingerprint: str | None = None,
    with_clips: bool = False,
) -> tuple[FeatureTable, Path, bool]:
    """The features of every demo (``with_clips``: and action-free clip) of ``path`` -> (table, cache file, True
    when computed now)."""
    key = cache_key(path, image_keys, image_size, fingerprint or encoder.fingerprint(), with_clips)
    file = cache_path(path, key, cache_dir)
    if file.is_file():
        try:
            from safetensors import safe_open

            with safe_open(str(file), framework="numpy") as handle:
                stored = (handle.metadata() or {}).get("key")
            if stored == key:
                return load_file(str(file)), file, False
        except Exception:  # noqa: BLE001 - a damaged cache file is rebuilt
            pass
    table = _compute(Path(path), image_keys, image_size, encoder, with_clips)
    try:
        file.parent.mkdir(parents=True, exist_ok=True)
        tmp = file.with_name(f".{file.name}.{os.getpid()}.tmp")
        save_file({k: np.ascontiguousarray(v) for k, v in table.items()}, str(tmp), metadata={"key": key})
        os.replace(tmp, file)
    except OSError as exc:
        raise HarnessError(f"cannot write feature cache {file}: {exc} (set feature_cache_dir=DIR)") from exc
    return table, file, True


def cached_features(
    paths: Sequence[Path],
    image_keys: Sequence[str],
    image_size: int,
    encoder: FrozenEncoder,
    cache_dir: str | Path | None = None,
    verbose: bool = True,
    with_clips: bool = False,
) -> dict[str, FeatureTable]:
    """{resolved demo-file path: {demo (``with_clips``: or clip) name: float32 [T, V, F]}} for every file, built
    or reused."""
    fingerprint = encoder.fingerprint()
    out: dict[str, FeatureTable] = {}
    for path in paths:
        t0 = time.perf_counter()
        table, file, built = load_or_build(
            Path(path), image_keys, image_size, encoder, cache_dir, fingerprint, with_clips
        )
        out[str(Path(path).resolve())] = table
        if verbose:
            frames = sum(len(v) for v in table.values())
            what = "built" if built else "reused"
            print(f"feature cache {what}: {file} ({frames} frames, {time.perf_counter() - t0:.1f} s)", file=sys.stderr)
    return out
