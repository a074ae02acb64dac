"""``python -m harness.suites [SUITE ...]``: list suites and their tasks (instruction, step limit)."""

from __future__ import annotations

import sys
from typing import Sequence

from rich.console import Console
from rich.table import Table

from harness.config import OneLineParser
from harness.errors import cli_entry
from harness.registry import SUITES


@cli_entry
def main(argv: Sequence[str] | None = None) -> int:
    parser = OneLineParser(prog="python -m harness.suites", description="List suites and their tasks.")
    parser.add_argument("suites", nargs="*", help="suite names (default: all)")
    parser.add_argument("--names-only", action="store_true", help="only list suite names")
    args = parser.parse_args(argv)
    console = Console(width=160)
    names = args.suites or SUITES.names()
    seen: set[str] = set()
    for name in names:
        suite = SUITES.build(name)
        if suite.name in seen:
            continue
        seen.add(suite.name)
        aliases = f" (alias: {', '.join(suite.aliases)})" if suite.aliases else ""
        if args.names_only:
            console.print(f"{suite.name}{aliases}")
            continue
        tasks = suite.tasks()
        table = Table(
            title=f"{suite.name}{aliases}: {suite.description} | {len(tasks)} tasks, headline "
            f"{suite.headline}, default policy {suite.default_policy}"
        )
        for col in ("id", "name", "instruction", "max steps", "evaluation scenes", "runs here"):
            table.add_column(col, overflow="fold")
        for t in tasks:
            runs = "yes" if suite.unavailable(t) is None else "no: assets missing"
            table.add_row(str(t.task_id), t.name, t.instruction, str(t.max_steps), str(t.num_init_states), runs)
        console.print(table)
        console.print(f"  training scenes: {suite.training_scenes or 'none (no demonstrations can be generated)'}")
        if suite.world_models:
            shipped = ", ".join(f"{name} ({folder})" for name, folder in suite.world_models)
            console.print(f"  shipped world models (the first is wm_topk's default): {shipped}")
        for note in suite.asset_notes():
            console.print(f"  [yellow]asset note:[/yellow] {note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
