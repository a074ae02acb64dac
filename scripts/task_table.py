"""Print a finished run's per-task results as a markdown table (for the README's measured tables).

    python scripts/task_table.py results/runs/libero_goal/<run> [more runs...]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def rows(run_dir: Path) -> list[str]:
    """One markdown row per task, then the run's overall row: suite, task, successes / n, rate, Wilson 95%."""
    summary = json.loads((run_dir / "summary.json").read_text())
    suite = summary["suite"]
    out = []
    for task_id, task in sorted(summary["per_task"].items(), key=lambda kv: int(kv[0])):
        lo, hi = task["wilson95"]
        out.append(
            f"| `{suite}` | {task_id}: {task['task']} | {task['successes']}/{task['n']} | "
            f"{100 * task['success_rate']:.0f}% [{100 * lo:.0f}, {100 * hi:.0f}] |"
        )
    overall = summary["overall"]
    lo, hi = overall["wilson95"]
    out.append(
        f"| `{suite}` | **all tasks** | {overall['successes']}/{overall['n']} | "
        f"{100 * overall['success_rate']:.1f}% [{100 * lo:.1f}, {100 * hi:.1f}] |"
    )
    return out


def main(argv: list[str]) -> int:
    if not argv:
        print("usage: python scripts/task_table.py RUN_DIR [RUN_DIR ...]", file=sys.stderr)
        return 2
    missing = [a for a in argv if not (Path(a) / "summary.json").is_file()]
    if missing:
        print(f"error: no summary.json in {', '.join(missing)}", file=sys.stderr)
        return 2
    print("| suite | task | successes | rate [Wilson 95%] |")
    print("|---|---|---|---|")
    for arg in argv:
        print("\n".join(rows(Path(arg))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
