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
    header = _HEADER.pack(len(payload))
    written = os.writev(fd, [header, payload])
    if written < len(header):
        _write_all(fd, memoryview(header)[written:])
        written = len(header)
    _write_all(fd, memoryview(payload)[written - len(header) :])


def _write_all(fd: int, data: memoryview) -> None:
    while data:
        data = data[os.write(fd, data) :]


def _read_exact(fd: int, n: int) -> bytearray:
    buffer = bytearray(n)
    view, got = memoryview(buffer), 0
    while got < n:
        read = os.readv(fd, [view[got:]])
        if not read:
            raise ChannelClosed("the other side closed the connection")
        got += read
    return buffer


def widen_pipe(fd: int, size: int = 1 << 20) -> None:
    """Ask Linux for a pipe buffer of ``size`` bytes (fewer context switches per 1 MB camera frame); best effort."""
    try:
        import fcntl

        fcntl.fcntl(fd, getattr(fcntl, "F_SETPIPE_SZ", 1031), size)
    except OSError:
        pass


def read_message(fd: int) -> Any:
    """Receive one message from ``fd``. Raises ChannelClosed at end of stream, ValueError on a bad frame."""
    (length,) = _HEADER.unpack(_read_exact(fd, _HEADER.size))
    if length > MAX_MESSAGE:
        raise ValueError(f"message of {length} bytes announced: not a harness simulator stream")
    return unpackb(_read_exact(fd, length))
