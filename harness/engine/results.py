"""Run directory: manifest.json, episodes.jsonl (append-only), summary.json, videos/.

Layout: <out>/<suite>/<run_id>/ (see the README's run-directory table). Summaries contain no timings, so an
interrupted-and-resumed run and an uninterrupted run with the same seed have identical summaries.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from pathlib import Path
from typing import Any, Iterable

from harness.engine.atomic_io import append_line_atomic, read_jsonl, write_json_atomic
from harness.errors import HarnessError
from harness.engine.manifest import SCHEMA_VERSION
from harness.analysis.stats import wilson_interval


class RunStore:
    """Files of one run. Create with ``RunStore.create`` or reopen with ``RunStore.open``."""

    def __init__(self, run_dir: Path):
        self.run_dir = run_dir
        self.manifest_path = run_dir / "manifest.json"
        self.episodes_path = run_dir / "episodes.jsonl"
        self.summary_path = run_dir / "summary.json"
        self.videos_dir = run_dir / "videos"

    @classmethod
    def create(cls, out_root: Path, suite: str, run_name: str, manifest: dict[str, Any]) -> "RunStore":
        """Make a fresh run dir (never reuses an existing one) and write its manifest."""
        stamp = time.strftime("%Y%m%d-%H%M%S")
        base = out_root / suite / f"{stamp}-{run_name}"
        run_dir, i = base, 1
        while run_dir.exists():
            run_dir = base.with_name(f"{base.name}-{i}")
            i += 1
        try:
            run_dir.mkdir(parents=True)
        except OSError as exc:
            raise HarnessError(f"cannot create run dir {run_dir}: {exc.strerror}") from exc
        store = cls(run_dir)
        store.videos_dir.mkdir()
        store.episodes_path.touch()
        write_json_atomic(store.manifest_path, {"schema_version": SCHEMA_VERSION, **manifest})
        return store

    @classmethod
    def open(cls, run_dir: Path) -> "RunStore":
        """Reopen an existing run for --resume / regression checks; validates the layout."""
        store = cls(run_dir)
        if not run_dir.is_dir():
            raise HarnessError(f"run dir not found: {run_dir}")
        if not store.manifest_path.is_file():
            raise HarnessError(f"{run_dir} is not a run dir (no manifest.json)")
        manifest = store.manifest()
        if manifest.get("schema_version") != SCHEMA_VERSION:
            raise HarnessError(
                f"{store.manifest_path}: schema_version {manifest.get('schema_version')} != {SCHEMA_VERSION}"
            )
        return store

    def manifest(self) -> dict[str, Any]:
        try:
            return json.loads(self.manifest_path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise HarnessError(f"cannot read {self.manifest_path}: {exc}") from exc

    def update_manifest(self, **fields: Any) -> None:
        data = self.manifest()
        data.update(fields)
        write_json_atomic(self.manifest_path, data)

    def episodes(self, repair: bool = False) -> list[dict[str, Any]]:
        """Finished episode records; a torn last line (killed mid-write) is dropped."""
        try:
            return read_jsonl(self.episodes_path, repair=repair)
        except ValueError as exc:
            raise HarnessError(str(exc)) from exc

    def append(self, record: dict[str, Any]) -> None:
        append_line_atomic(self.episodes_path, record)

    def write_summary(self, summary: dict[str, Any]) -> None:
        write_json_atomic(self.summary_path, summary)


def _group_stats(records: list[dict[str, Any]], headline: str) -> dict[str, Any]:
    n = len(records)
    successes = sum(bool(r[headline]) for r in records)
    lo, hi = wilson_interval(successes, n)
    metrics: dict[str, list[float]] = defaultdict(list)
    for r in records:
        for key, value in (r.get("metrics") or {}).items():
            if isinstance(value, (bool, int, float)):
                metrics[key].append(float(value))
    return {
        "n": n,
        "successes": successes,
        "success_rate": successes / n if n else 0.0,
        "wilson95": [lo, hi],
        "success_once_rate": sum(bool(r["success_once"]) for r in records) / n if n else 0.0,
        "success_at_end_rate": sum(bool(r["success_at_end"]) for r in records) / n if n else 0.0,
        "mean_steps": sum(r["steps"] for r in records) / n if n else 0.0,
        "errors": sum(r.get("error") is not None for r in records),
        "clipped_steps": sum(r.get("clipped_steps", 0) for r in records),
        "metrics": {k: sum(v) / len(v) for k, v in sorted(metrics.items())},
    }


def summarize(
    records: Iterable[dict[str, Any]],
    suite: str,
    headline: str,
    expected: int,
    config: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Per task, per suite and overall statistics. Errored episodes count as failures (and in ``errors``).

    ``success`` is the suite's headline metric (``success_once`` or ``success_at_end``). ``config`` is the
    run's identity (``harness.analysis.comparability.run_identity``), stored under ``"config"`` so that
    ``harness.regress`` can tell whether two summaries are comparable.
    """
    recs = sorted(records, key=lambda r: r["index"])
    by_task: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for r in recs:
        by_task[r["task_id"]].append(r)
    per_task = {}
    for task_id in sorted(by_task):
        rs = by_task[task_id]
        per_task[str(task_id)] = {"task": rs[0]["task"], **_group_stats(rs, headline)}
    overall = _group_stats(recs, headline)
    return {
        "schema_version": SCHEMA_VERSION,
        "suite": suite,
        "headline": headline,
        "complete": len(recs) == expected,
        "expected_episodes": expected,
        "config": config,
        "per_task": per_task,
        "per_suite": {suite: overall},
        "overall": overall,
    }
