"""Messages between the harness and a simulator running in another Python environment.

A message is a 4-byte big-endian length, then that many bytes of msgpack (``harness.msgpack_numpy``: NumPy
arrays as raw bytes + dtype + shape, nothing pickled). Each side owns one pipe per direction (dedicated file
descriptors, so whatever the simulator prints on stdout cannot corrupt the stream).

Protocol (``PROTOCOL``; the child announces it first and the parent refuses any other):
    child -> parent  {"hello": PROTOCOL, "python": "3.11.7", "packages": {...}}   once, after building
    parent -> child  {"call": method, "kwargs": {...}}
    child -> parent  {"ok": result, "served_s": seconds inside the call}  or  {"error": "one line", "kind": ...}
    parent -> child  {"call": "__close__"}  then the child exits
Imports only the standard library and msgpack/numpy: it runs on both sides.
"""

from __future__ import annotations

import os
import struct
from typing import Any

from harness.msgpack_numpy import packb, unpackb

PROTOCOL = 1
_HEADER = struct.Struct(">I")
MAX_MESSAGE = 1 << 30  # 1 GiB: anything larger is a broken stream, not a message


class ChannelClosed(EOFError):
    """The other side closed its pipe (it exited or crashed)."""


def write_message(fd: int, message: Any) -> None:
    """Send one message on file descriptor ``fd`` (loops over partial writes)."""
    payload = packb(message)
    data = memoryview(_HEADER.pack(len(payload)) + payload)
    while data:
        written = os.write(fd, data)
        data = data[written:]


def _read_exact(fd: int, n: int) -> bytes:
    chunks, left = [], n
    while left:
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            raise ChannelClosed("the other side closed the connection")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def read_message(fd: int) -> Any:
    """Receive one message from ``fd``. Raises ChannelClosed at end of stream, ValueError on a bad frame."""
    (length,) = _HEADER.unpack(_read_exact(fd, _HEADER.size))
    if length > MAX_MESSAGE:
        raise ValueError(f"message of {length} bytes announced: not a harness simulator stream")
    return unpackb(_read_exact(fd, length))
