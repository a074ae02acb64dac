"""Crash-safe file writes: whole-file replace and single-write line appends."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any


def fsync_dir(path: Path) -> None:
    """Flush a directory entry (a rename or a new file in it) to disk; a no-op where unsupported."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some filesystems (and Windows) cannot fsync a directory
    finally:
        os.close(fd)


def replace_atomic(tmp: Path, path: Path) -> None:
    """Rename a fully written (and fsynced) ``tmp`` over ``path`` and make the rename durable."""
    os.replace(tmp, path)
    fsync_dir(path.parent)


def write_json_atomic(path: Path, data: Any) -> None:
    """Write JSON to ``path`` via a unique temp file + fsync + rename, so readers never see a partial file."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=2, sort_keys=True, default=str)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        replace_atomic(Path(tmp), path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_all(fd: int, data: bytes) -> None:
    """``os.write`` until every byte is written (a single write may be partial)."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def append_line_atomic(path: Path, record: dict[str, Any]) -> None:
    """Append one JSON line with O_APPEND writes + fsync (a kill leaves a whole line or a torn tail,
    which ``read_jsonl`` drops)."""
    line = (json.dumps(record, sort_keys=True, default=str) + "\n").encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        write_all(fd, line)
        os.fsync(fd)
    finally:
        os.close(fd)


def read_jsonl(path: Path, repair: bool = False) -> list[dict[str, Any]]:
    """Read complete JSON lines; a torn final line (no newline / bad JSON) is ignored, and with
    ``repair`` the file is truncated back to its last complete line."""
    if not path.exists():
        return []
    raw = path.read_bytes()
    records: list[dict[str, Any]] = []
    good_end = 0
    pos = 0
    while pos < len(raw):
        nl = raw.find(b"\n", pos)
        if nl < 0:
            break
        try:
            records.append(json.loads(raw[pos:nl]))
        except json.JSONDecodeError as exc:
            if raw.find(b"\n", nl + 1) >= 0:  # not the tail: the file is corrupt, refuse to guess
                raise ValueError(f"{path}: corrupt line at byte {pos}") from exc
            break
        pos = nl + 1
        good_end = pos
    if repair and good_end < len(raw):
        with open(path, "r+b") as f:
            f.truncate(good_end)
    return records
