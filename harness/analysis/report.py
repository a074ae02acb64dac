"""Human-readable tables of run summaries (rich)."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table


def _fmt_rate(stats: dict[str, Any]) -> str:
    lo, hi = stats["wilson95"]
    return f"{stats['success_rate']:.1%} [{lo:.1%}, {hi:.1%}]"


def _fmt_partial(metrics: dict[str, float]) -> str:
    """Partial metrics: ``*_once`` rates (e.g. grasped at any step) and plain means (goal_fraction)."""
    parts = [f"{k.removesuffix('_once')} {v:.0%}" for k, v in metrics.items() if k.endswith("_once")]
    parts += [f"{k} {v:.2f}" for k, v in metrics.items() if not k.endswith(("_once", "_at_end"))]
    return ", ".join(parts)


def print_summary_table(summary: dict[str, Any], console: Console | None = None) -> None:
    """Per-task and overall success with Wilson 95% intervals."""
    console = console or Console(width=160)
    table = Table(title=f"{summary['suite']}  (headline: {summary['headline']})")
    for col in ("task", "n", "success [95% CI]", "once", "at end", "mean steps", "errors", "partial (any step)"):
        table.add_column(col, overflow="fold")
    rows = [(f"{tid}: {s['task'][:60]}", s) for tid, s in summary["per_task"].items()]
    rows.append(("overall", summary["overall"]))
    for name, s in rows:
        table.add_row(
            name,
            str(s["n"]),
            _fmt_rate(s),
            f"{s['success_once_rate']:.1%}",
            f"{s['success_at_end_rate']:.1%}",
            f"{s['mean_steps']:.1f}",
            str(s["errors"]),
            _fmt_partial(s.get("metrics", {})),
        )
    console.print(table)
    for note in summary.get("asset_notes", []):
        if "STAND-IN" in note:
            console.print(f"[yellow]asset stand-in:[/yellow] {note}")
