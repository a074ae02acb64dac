"""Checkpoint folders: config.json + model.safetensors + stats.json. Loading never unpickles objects."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from harness.engine.atomic_io import write_json_atomic
from harness.data.normalize import NormStats
from harness.errors import HarnessError

CONFIG_FILE, WEIGHTS_FILE, STATS_FILE = "config.json", "model.safetensors", "stats.json"


@dataclass
class Checkpoint:
    """A loaded checkpoint folder: ``meta`` is config.json (component, name, model config, data info)."""

    folder: Path
    meta: dict[str, Any]
    state_dict: dict[str, torch.Tensor]
    stats: NormStats | None


def save_checkpoint(
    folder: Path, meta: dict[str, Any], state_dict: dict[str, torch.Tensor], stats: NormStats | None
) -> None:
    """Write (or overwrite) a checkpoint folder; each file is replaced atomically."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in state_dict.items()}
    tmp = folder / f".{WEIGHTS_FILE}.tmp"
    save_file(tensors, str(tmp), metadata={"format": "pt"})
    os.replace(tmp, folder / WEIGHTS_FILE)
    if stats is not None:
        write_json_atomic(folder / STATS_FILE, stats.to_json())
    write_json_atomic(folder / CONFIG_FILE, meta)


def read_checkpoint_meta(folder: str | Path, component: str | None = None, name: str | None = None) -> dict:
    """A checkpoint folder's config.json (no weights read); ``component`` / ``name``, when given, must match.
    A missing folder or a malformed file raises one HarnessError line."""
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise HarnessError(f"checkpoint folder not found: {folder}")
    try:
        meta = json.loads((folder / CONFIG_FILE).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise HarnessError(f"checkpoint {folder}: cannot read {CONFIG_FILE}: {exc}") from exc
    if not isinstance(meta, dict) or "config" not in meta:
        raise HarnessError(f"checkpoint {folder}: {CONFIG_FILE} lacks a 'config' section")
    for key, want in (("component", component), ("name", name)):
        if want is not None and meta.get(key) != want:
            raise HarnessError(f"checkpoint {folder} is a {meta.get(key)!r} {key}, expected {want!r}")
    return meta


def load_checkpoint(folder: str | Path, component: str | None = None, name: str | None = None) -> Checkpoint:
    """Read a checkpoint folder; a missing or malformed file raises one HarnessError line.

    ``component`` / ``name``, when given, must match what config.json records.
    """
    folder = Path(folder).expanduser()
    meta = read_checkpoint_meta(folder, component, name)
    try:
        state = load_file(str(folder / WEIGHTS_FILE))
    except Exception as exc:  # noqa: BLE001 - any decode failure means a bad file
        raise HarnessError(f"checkpoint {folder}: cannot read {WEIGHTS_FILE}: {type(exc).__name__}: {exc}") from exc
    stats = None
    if (folder / STATS_FILE).exists():
        try:
            stats = NormStats.from_json(json.loads((folder / STATS_FILE).read_text()))
        except (OSError, json.JSONDecodeError, KeyError) as exc:
            raise HarnessError(f"checkpoint {folder}: cannot read {STATS_FILE}: {exc}") from exc
    return Checkpoint(folder, meta, state, stats)


def load_state_into(module: torch.nn.Module, state: dict[str, torch.Tensor], where: Path) -> None:
    """Strict load; a shape / key mismatch becomes one HarnessError line."""
    try:
        module.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[0:2]
        raise HarnessError(f"checkpoint {where} does not match its config: {' '.join(first)}") from exc
