"""What travels over a policy-server connection: msgpack with NumPy arrays, and the harness's own fields.

NumPy encoding (the wire format of openpi's ``openpi_client.msgpack_numpy``, read in
``packages/openpi-client/src/openpi_client/msgpack_numpy.py``; this is our own implementation of it): an array
is the map ``{b"__ndarray__": True, b"data": its bytes in C order, b"dtype": dtype.str, b"shape": [...]}``, a
NumPy scalar ``{b"__npgeneric__": True, b"data": value.item(), b"dtype": dtype.str}``, the keys msgpack
binaries. Object, void and complex dtypes are refused (nothing is ever pickled). Decoded arrays are writable
copies (openpi returns read-only views of the message).

Harness fields (``HARNESS_KEY`` in a request, sent only to servers whose metadata has ``harness_protocol``):
    {"reset": episode (``episode_to_wire``), "observed": [obs, ...], "sample": {"n": n, "rng": rng state}}
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import numpy as np

from harness.protocols import EpisodeSpec, TaskSpec

HARNESS_KEY = "__harness__"
HARNESS_PROTOCOL = 1
_ARRAY, _SCALAR = b"__ndarray__", b"__npgeneric__"
_DATA, _DTYPE, _SHAPE = b"data", b"dtype", b"shape"
_BIT_GENERATORS = ("PCG64", "PCG64DXSM", "Philox", "SFC64", "MT19937")


def _encode(obj: Any) -> Any:
    """msgpack's hook for what it cannot pack itself."""
    if isinstance(obj, (np.ndarray, np.generic)):
        if obj.dtype.kind in "OVc":
            raise TypeError(f"cannot send NumPy dtype {obj.dtype} (object, void and complex are refused)")
        if isinstance(obj, np.ndarray):
            return {_ARRAY: True, _DATA: obj.tobytes(), _DTYPE: obj.dtype.str, _SHAPE: list(obj.shape)}
        return {_SCALAR: True, _DATA: obj.item(), _DTYPE: obj.dtype.str}
    raise TypeError(f"cannot send a {type(obj).__name__}")


def _decode(obj: dict) -> Any:
    if _ARRAY in obj:
        return np.frombuffer(obj[_DATA], dtype=np.dtype(obj[_DTYPE])).reshape(obj[_SHAPE]).copy()
    if _SCALAR in obj:
        return np.dtype(obj[_DTYPE]).type(obj[_DATA])
    return obj


def packb(obj: Any) -> bytes:
    """msgpack bytes of ``obj`` (dicts, lists, str, numbers, NumPy arrays and scalars). Raises TypeError."""
    import msgpack

    return msgpack.packb(obj, default=_encode)


def unpackb(data: bytes) -> Any:
    """The object in ``data``. Raises ValueError (or msgpack's errors, all ValueError subclasses) on bad input."""
    import msgpack

    return msgpack.unpackb(data, object_hook=_decode)


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
