"""atomic_io: complete appends despite short writes; unique temp names and a durable rename for JSON."""

import json
import os
import stat

from harness.engine import atomic_io
from harness.engine.atomic_io import append_line_atomic, read_jsonl, write_json_atomic


def test_append_completes_short_writes(tmp_path, monkeypatch):
    real_write = os.write
    monkeypatch.setattr(atomic_io.os, "write", lambda fd, data: real_write(fd, bytes(data[:5])))  # 5 bytes a call
    path = tmp_path / "log.jsonl"
    records = [{"a": 1, "text": "x" * 40}, {"b": [1, 2, 3]}]
    for record in records:
        append_line_atomic(path, record)
    assert read_jsonl(path) == records


def test_json_write_uses_a_unique_temp_and_fsyncs_the_directory(tmp_path, monkeypatch):
    path = tmp_path / "manifest.json"
    (tmp_path / ".manifest.json.tmp").mkdir()  # the old fixed temp name is taken (e.g. by another writer)
    synced_dirs: list[bool] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        synced_dirs.append(stat.S_ISDIR(os.fstat(fd).st_mode))
        real_fsync(fd)

    monkeypatch.setattr(atomic_io.os, "fsync", fsync)
    write_json_atomic(path, {"k": [1, 2]})
    write_json_atomic(path, {"k": [3]})
    assert json.loads(path.read_text()) == {"k": [3]}
    assert synced_dirs.count(True) == 2 and synced_dirs.count(False) == 2  # file, then its directory
    assert sorted(p.name for p in tmp_path.iterdir()) == [".manifest.json.tmp", "manifest.json"]  # no temp left
