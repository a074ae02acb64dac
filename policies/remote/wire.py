"""What travels over a policy-server connection: msgpack with NumPy arrays (``harness.msgpack_numpy``, openpi's
wire format), and the harness's own fields.

Harness fields (``HARNESS_KEY`` in a request, sent only to servers whose metadata has ``harness_protocol``):
    {"reset": episode (``episode_to_wire``), "observed": [obs, ...], "sample": {"n": n, "rng": rng state}}
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import numpy as np

from harness.msgpack_numpy import packb, unpackb  # noqa: F401  (re-exported: client and server use them)
from harness.protocols import EpisodeSpec, TaskSpec

HARNESS_KEY = "__harness__"
HARNESS_PROTOCOL = 1
_BIT_GENERATORS = ("PCG64", "PCG64DXSM", "Philox", "SFC64", "MT19937")


def episode_to_wire(episode: EpisodeSpec) -> dict[str, Any]:
    return dataclasses.asdict(episode)


def episode_from_wire(data: dict[str, Any]) -> EpisodeSpec:
    """Inverse of ``episode_to_wire`` (msgpack turns tuples into lists)."""
    task = dict(data["task"])
    task.update(
        action_low=tuple(task["action_low"]),
        action_high=tuple(task["action_high"]),
        extra=tuple(tuple(pair) for pair in task.get("extra", ())),
    )
    return EpisodeSpec(**{**data, "task": TaskSpec(**task)})


def rng_to_wire(rng: np.random.Generator) -> dict[str, str]:
    """A generator's exact state, so the server draws what this process would have drawn."""
    state = rng.bit_generator.state
    return {"bit_generator": state["bit_generator"], "state": json.dumps(state, default=lambda a: a.tolist())}


def rng_from_wire(data: dict[str, str]) -> np.random.Generator:
    name = data["bit_generator"]
    if name not in _BIT_GENERATORS:
        raise ValueError(f"unknown bit generator {name!r}")
    bits = getattr(np.random, name)()
    state = json.loads(data["state"])
    if name == "MT19937":
        state["state"]["key"] = np.asarray(state["state"]["key"], dtype=np.uint32)
    bits.state = state
    return np.random.Generator(bits)


def set_rng_state(rng: np.random.Generator, data: dict[str, str]) -> None:
    """Advance ``rng`` to the state the server's copy reached."""
    rng.bit_generator.state = rng_from_wire(data).bit_generator.state
