"""Training batches through a ``torch.utils.data.DataLoader``, identical for any number of workers.

Batch ``s`` (the ``s``-th optimiser step) is a pure function of (seed, stream, s): its sample indices and its
augmentation noise come from a generator seeded with ``SeedSequence([seed, stream, s])``, so the batches do not
depend on ``num_workers``, on prefetching, or on where a resumed run restarts. Workers run the whole CPU side
of batch assembly (``Dataset.__getitem__``, collation and the component's ``to_batch`` on CPU); the training
loop only moves the finished batch to the device.
"""

from __future__ import annotations

import os
import random
from typing import Any, Callable, Iterator

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, default_collate

TRAIN_STREAM, VAL_STREAM = 0, 1
ToBatch = Callable[[dict[str, Any], torch.Generator, torch.device, bool], dict[str, torch.Tensor]]


def step_seed(seed: int, stream: int, step: int) -> int:
    """A 63-bit seed for batch ``step`` of ``stream`` (train / val) of a run seeded with ``seed``."""
    return int(np.random.SeedSequence([seed % 2**32, stream, step]).generate_state(2, np.uint64)[0] >> np.uint64(1))


class StepBatches(Dataset):
    """Item ``s`` = the CPU batch of step ``s``: ``batch_size`` indices drawn uniformly (with replacement, as
    before this module) from ``dataset``, collated and passed through ``to_batch(raw, generator, cpu, train)``.

    Items are dicts of CPU tensors shaped as ``to_batch`` returns them (e.g. images [B, To, V, 3, H, W]).
    """

    def __init__(self, dataset: Dataset, to_batch: ToBatch, batch_size: int, seed: int, stream: int, train: bool):
        self.dataset, self.to_batch = dataset, to_batch
        self.batch_size, self.seed, self.stream, self.train = batch_size, seed, stream, train

    def __len__(self) -> int:
        return 2**62  # indexed by step; the loader's sampler picks the range

    def __getitem__(self, step: int) -> dict[str, Any]:
        gen = torch.Generator().manual_seed(step_seed(self.seed, self.stream, step))
        idx = torch.randint(len(self.dataset), (self.batch_size,), generator=gen)  # type: ignore[arg-type]
        raw = default_collate([self.dataset[int(i)] for i in idx])
        return self.to_batch(raw, gen, torch.device("cpu"), self.train)


def worker_init(worker_id: int) -> None:
    """DataLoader ``worker_init_fn``: one torch thread per worker (the main process trains the model) and
    numpy / random seeded from the loader's seeded base seed (batches themselves never read them)."""
    torch.set_num_threads(1)
    seed = torch.initial_seed() % 2**32
    np.random.seed(seed)
    random.seed(seed)


def auto_workers(requested: int, device: str) -> int:
    """``requested`` >= 0 as given; -1 (auto): 0 on CPU (the model needs every core; batch assembly is a few
    per cent of a CPU step, see README), else up to 4 workers leaving one core to the main process."""
    if requested >= 0:
        return requested
    if not device.startswith("cuda"):
        return 0
    return max(0, min(4, (os.cpu_count() or 1) - 1))


def step_loader(batches: StepBatches, start: int, stop: int, num_workers: int, seed: int, pin: bool) -> DataLoader:
    """A loader yielding ``batches[start] .. batches[stop - 1]`` in order (worker-count independent)."""
    extra: dict[str, Any] = {}
    if num_workers > 0:
        extra = {"prefetch_factor": 2, "persistent_workers": False, "worker_init_fn": worker_init}
        if "fork" in torch.multiprocessing.get_all_start_methods():
            extra["multiprocessing_context"] = "fork"  # to_batch closures and in-memory datasets, no pickling
    return DataLoader(
        batches,
        batch_size=None,
        sampler=range(start, stop),  # type: ignore[arg-type]
        num_workers=num_workers,
        generator=torch.Generator().manual_seed(seed),
        pin_memory=pin,
        **extra,
    )


def to_device(batch: dict[str, Any], device: torch.device) -> dict[str, Any]:
    """Every tensor of ``batch`` on ``device`` (non-blocking from pinned memory); other values unchanged."""
    return {k: v.to(device, non_blocking=True) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}


def iterate(loader: DataLoader, device: torch.device) -> Iterator[dict[str, Any]]:
    """The loader's batches, moved to ``device``."""
    for batch in loader:
        yield to_device(batch, device)
