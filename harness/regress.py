"""``python -m harness.regress --baseline FILE --run RUN_DIR``: statistical regression check.

For every task present in both, and overall (summed over those tasks), the difference
d = p_run - p_baseline of the headline success rate is bounded with Newcombe's hybrid score
interval. A *regression* is declared when the one-sided upper bound of d lies below -margin
(the run is significantly worse than the baseline by more than the margin); *non-inferior* when
the lower bound lies above -margin; otherwise *inconclusive* (more episodes needed).
Per-task tests use a Bonferroni-corrected level alpha / n_tasks; the overall test uses alpha.
Exit code: 0 no significant regression, 1 regression, 2 bad input.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Sequence

from rich.console import Console
from rich.table import Table

from harness.config import OneLineParser
from harness.errors import HarnessError, cli_entry
from harness.results import RunStore
from harness.stats import NonInferiority, non_inferiority


def load_summary(path: Path) -> dict[str, Any]:
    """A summary.json (file, or a run dir containing one), validated for the fields the check needs."""
    if path.is_dir():
        path = RunStore.open(path).summary_path
    if not path.is_file():
        raise HarnessError(f"summary not found: {path}")
    try:
        data = json.loads(path.read_text())
        for task in data["per_task"].values():
            int(task["n"]), int(task["successes"])
        data["suite"]
    except (OSError, json.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as exc:
        raise HarnessError(f"{path} is not a harness summary.json ({type(exc).__name__}: {exc})") from exc
    return data


def compare(
    baseline: dict[str, Any], run: dict[str, Any], margin: float, alpha: float
) -> list[tuple[str, dict, dict, NonInferiority]]:
    """Rows (label, baseline stats, run stats, test) per shared task, then the overall row."""
    if baseline["suite"] != run["suite"]:
        raise HarnessError(f"baseline is for suite {baseline['suite']!r} but the run is {run['suite']!r}")
    shared = [t for t in baseline["per_task"] if t in run["per_task"]]
    if not shared:
        raise HarnessError("baseline and run have no task in common")
    alpha_task = alpha / len(shared)
    rows = []
    totals = {"base": [0, 0], "run": [0, 0]}
    for tid in shared:
        b, r = baseline["per_task"][tid], run["per_task"][tid]
        test = non_inferiority(r["successes"], r["n"], b["successes"], b["n"], margin, alpha_task)
        rows.append((f"{tid}: {b.get('task', '')[:50]}", b, r, test))
        totals["base"][0] += b["successes"]
        totals["base"][1] += b["n"]
        totals["run"][0] += r["successes"]
        totals["run"][1] += r["n"]
    (sb, nb), (sr, nr) = totals["base"], totals["run"]
    overall = non_inferiority(sr, nr, sb, nb, margin, alpha)
    rows.append(("overall", {"successes": sb, "n": nb}, {"successes": sr, "n": nr}, overall))
    return rows


@cli_entry
def main(argv: Sequence[str] | None = None) -> int:
    parser = OneLineParser(prog="python -m harness.regress", description=__doc__.split("\n")[0])
    parser.add_argument("--baseline", required=True, help="baseline summary.json (e.g. results/baselines/...)")
    parser.add_argument("--run", required=True, help="run dir (or its summary.json) to check")
    parser.add_argument("--margin", type=float, default=0.05, help="non-inferiority margin on the success rate")
    parser.add_argument("--alpha", type=float, default=0.05, help="one-sided significance level")
    args = parser.parse_args(argv)
    if not (0 <= args.margin < 1 and 0 < args.alpha < 0.5):
        raise HarnessError("--margin must be in [0, 1) and --alpha in (0, 0.5)")
    baseline = load_summary(Path(args.baseline))
    run = load_summary(Path(args.run))
    rows = compare(baseline, run, args.margin, args.alpha)
    table = Table(title=f"{run['suite']}: run vs baseline (margin {args.margin:.0%}, alpha {args.alpha})")
    for col in ("task", "baseline", "run", "diff", "CI of diff", "verdict"):
        table.add_column(col)
    colours = {"regression": "red", "non-inferior": "green", "inconclusive": "yellow"}
    for label, b, r, t in rows:
        table.add_row(
            label,
            f"{b['successes']}/{b['n']}",
            f"{r['successes']}/{r['n']}",
            f"{t.diff:+.1%}",
            f"[{t.lower:+.1%}, {t.upper:+.1%}]",
            f"[{colours[t.verdict]}]{t.verdict}[/]",
        )
    Console(width=140).print(table)
    if not run.get("complete", True):
        print("note: the run is incomplete (finish it with python -m harness.eval --resume)", file=sys.stderr)
    regressions = [label for label, _, _, t in rows if t.verdict == "regression"]
    if regressions:
        print(f"REGRESSION: {', '.join(regressions)}")
        return 1
    print("no significant regression")
    return 0


if __name__ == "__main__":
    sys.exit(main())
