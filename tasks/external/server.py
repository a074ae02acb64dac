"""The child side: ``<other python> -m tasks.external.server --read-fd R --write-fd W``.

Runs in the simulator's own Python environment (see ``tasks.external.process``). The first message names a
factory ``"module:callable"`` and its keyword arguments; the object it builds declares the methods the parent
may call in ``REMOTE_METHODS``. Every reply is ``{"ok": result}`` or ``{"error": one line, "kind": ...}``.
"""

from __future__ import annotations

import argparse
import importlib
import platform
import sys
import time
import traceback
from typing import Any

from harness.engine.manifest import package_versions
from tasks.external.framing import PROTOCOL, ChannelClosed, read_message, write_message


def _error(exc: BaseException) -> dict[str, str]:
    from harness.errors import HarnessError

    if isinstance(exc, HarnessError):
        return {"error": str(exc), "kind": "harness"}
    traceback.print_exc(file=sys.stderr)  # the full trace goes to the child's log; the parent shows one line
    text = str(exc).strip().splitlines()
    return {"error": f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": "), "kind": "crash"}


def serve(read_fd: int, write_fd: int) -> None:
    """Build the object the first message asks for, then answer calls until ``__close__`` or end of stream."""
    build = read_message(read_fd)
    try:
        module, _, name = str(build["factory"]).partition(":")
        obj: Any = getattr(importlib.import_module(module), name)(**build.get("kwargs", {}))
        allowed = set(getattr(obj, "REMOTE_METHODS", ()))
    except BaseException as exc:  # noqa: BLE001 - reported to the parent as one line
        write_message(write_fd, _error(exc))
        return
    hello = {"hello": PROTOCOL, "python": platform.python_version()}
    hello["packages"] = package_versions(tuple(build.get("report_versions", [])))
    write_message(write_fd, hello)
    while True:
        try:
            request = read_message(read_fd)
        except ChannelClosed:
            break
        method = request.get("call")
        if method == "__close__":
            close = getattr(obj, "close", None)
            if close is not None:
                close()
            write_message(write_fd, {"ok": None})
            break
        if method not in allowed:
            write_message(write_fd, {"error": f"method {method!r} is not offered by the simulator", "kind": "harness"})
            continue
        try:
            t0 = time.perf_counter()
            result = getattr(obj, method)(**request.get("kwargs", {}))
            write_message(write_fd, {"ok": result, "served_s": time.perf_counter() - t0})
        except BaseException as exc:  # noqa: BLE001 - the parent decides what a failed call means
            write_message(write_fd, _error(exc))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--read-fd", type=int, required=True)
    parser.add_argument("--write-fd", type=int, required=True)
    args = parser.parse_args()
    serve(args.read_fd, args.write_fd)


if __name__ == "__main__":
    main()
