"""msgpack with NumPy arrays, nothing pickled: what crosses a process or network boundary (policy servers,
simulators running in their own Python environment).

NumPy encoding (the wire format of openpi's ``openpi_client.msgpack_numpy``, read in
``packages/openpi-client/src/openpi_client/msgpack_numpy.py``; this is our own implementation of it): an array
is the map ``{b"__ndarray__": True, b"data": its bytes in C order, b"dtype": dtype.str, b"shape": [...]}``, a
NumPy scalar ``{b"__npgeneric__": True, b"data": value.item(), b"dtype": dtype.str}``, the keys msgpack
binaries. Object, void and complex dtypes are refused (nothing is ever pickled). Decoded arrays are writable
copies (openpi returns read-only views of the message). Imports only numpy and msgpack, so it runs in any
Python environment the project manages.
"""

from __future__ import annotations

from typing import Any

import numpy as np

_ARRAY, _SCALAR = b"__ndarray__", b"__npgeneric__"
_DATA, _DTYPE, _SHAPE = b"data", b"dtype", b"shape"


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
