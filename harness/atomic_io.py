"""Crash-safe file writes: whole-file replace and single-write line appends."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


def write_json_atomic(path: Path, data: Any) -> None:
    """Write JSON to ``path`` via a temp file + rename, so readers never see a partial file."""
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=2, sort_keys=True, default=str)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def append_line_atomic(path: Path, record: dict[str, Any]) -> None:
    """Append one JSON line with a single O_APPEND write + fsync (a kill leaves a whole line or none;
    a torn tail, should the OS split the write, is dropped by ``read_jsonl``)."""
    line = (json.dumps(record, sort_keys=True, default=str) + "\n").encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
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
