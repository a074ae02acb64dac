"""The one train / validation split of demonstrations, shared by policies, the frame autoencoder and
world models: by demonstration (never by frame), per file.

For each file, its demo names are permuted with ``seed`` and the first ``round(n * val_fraction)`` (at most
``n - 1``: every file keeps a training demo) go to validation. The result depends only on (the file's demo
names, val_fraction, seed), so the same files and seed give the same validation demos to every trainer,
whatever the order or number of the other files. Statistics are computed on the training demos only.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from harness.data.hdf5_io import open_demo_file


def split_episodes(names: Sequence[str], val_fraction: float, seed: int) -> tuple[list[str], list[str]]:
    """Demo names of one file -> (train, val) in file order; deterministic, at least one train demo."""
    names = list(names)
    order = np.random.default_rng(seed).permutation(len(names))
    n_val = max(0, min(len(names) - 1, int(round(len(names) * val_fraction))))
    val = {names[i] for i in order[:n_val]}
    return [n for n in names if n not in val], [n for n in names if n in val]


def _file_key(path: Path | str) -> str:
    return str(Path(path).resolve())


@dataclass(frozen=True)
class DemoSplit:
    """Validation membership of every (file, demo name) of a set of demo files."""

    val: frozenset[tuple[str, str]]  # (resolved file path, demo name)

    def is_val(self, path: Path | str, name: str) -> bool:
        return (_file_key(path), name) in self.val

    def count(self) -> int:
        return len(self.val)


def split_files(
    paths: Sequence[Path | str], val_fraction: float, seed: int, require_actions: bool = True
) -> DemoSplit:
    """The split of every demo of ``paths`` (files are opened for their demo names only); without
    ``require_actions``, of every demo_* and clip_* group (action-free training)."""
    val: set[tuple[str, str]] = set()
    for path in paths:
        meta = open_demo_file(Path(path), require_actions=require_actions, obs_keys=())
        val.update((_file_key(path), name) for name in split_episodes(meta.names, val_fraction, seed)[1])
    return DemoSplit(frozenset(val))
