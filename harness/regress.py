"""``python -m harness.regress --baseline FILE --run RUN_DIR``: statistical regression check.

Comparability (refused with exit 2 unless ``--allow-mismatch``, which prints a WARNING line and goes on):
- both summaries must carry the run identity under ``"config"`` (``harness.analysis.comparability``). An older
  summary lacks it: regenerate it with ``python -m harness.eval --resume RUN_DIR`` (re-runs no finished
  episode, rewrites summary.json). A different suite is always refused.
- headline metric, policy, checkpoint content hash, planner and its resolved options (N, k, p), world
  model and its checkpoint hash, goal mode, held-out status (``--allow-train-scenes`` runs are not held-out),
  out-of-range handling, and each shared task's name and max steps must match.
- seed, episodes per task and first episode may differ: they pick other samples (episode seeds, init
  states) of the same distribution; the differences are printed as a note.
- every baseline task must be in the run; ``--tasks-subset`` checks only the tasks both have (a partial
  check, noted). Run tasks that the baseline lacks are noted and not checked.

Statistics. Per task, d = p_run - p_baseline of the headline success rate is bounded with Newcombe's
hybrid score interval. The overall row compares the *task-averaged* success rate (every task weighs 1/K,
whatever its episode count), with the MOVER/Wilson interval for a mean of differences
(``stats.task_mean_difference_interval``): pooling episodes would weigh tasks by their n, and with unequal
per-task n that can show a regression as an improvement (Simpson's paradox). A *regression* is declared
when the one-sided upper bound of d lies below -margin; *non-inferior* when the lower bound lies above
-margin; otherwise *inconclusive*. Multiplicity: alpha is split between the overall test (alpha / 2) and
the per-task family (alpha / 2, Bonferroni: alpha / (2 K) per task), so the chance of any false
"regression" is at most alpha (with one task both rows are the same test, at level alpha). Run and baseline
are treated as independent samples; when they share seed and episodes this is conservative.
Exit code: 0 no significant regression, 1 regression, 2 bad input or incomparable runs.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from rich.console import Console
from rich.table import Table

from harness.analysis.comparability import identity_mismatches, sample_differences
from harness.config import OneLineParser
from harness.errors import HarnessError, cli_entry
from harness.engine.results import RunStore
from harness.analysis.stats import NonInferiority, non_inferiority, non_inferiority_task_mean

REGENERATE = "regenerate it with python -m harness.eval --resume RUN_DIR (runs no finished episode)"


@dataclass(frozen=True)
class Row:
    """One line of the verdict table: per-task counts, or (overall) the task-averaged rates."""

    label: str
    base: dict[str, Any]
    run: dict[str, Any]
    test: NonInferiority
    alpha: float


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


def comparability_problems(
    baseline: dict[str, Any], run: dict[str, Any], tasks_subset: bool = False
) -> tuple[list[str], list[str]]:
    """(problems that make the runs incomparable, notes) for two loaded summaries."""
    if baseline["suite"] != run["suite"]:
        raise HarnessError(f"baseline is for suite {baseline['suite']!r} but the run is {run['suite']!r}")
    problems, notes = [], []
    old = [name for name, summary in (("baseline", baseline), ("run", run)) if not summary.get("config")]
    if old:
        problems.append(f"the {' and '.join(old)} summary has no run config (older format): {REGENERATE}")
    if not problems:
        problems += identity_mismatches(baseline["config"], run["config"])
        sample = sample_differences(baseline["config"], run["config"])
        if sample:
            notes.append(f"other samples of the same runs (compared as independent): {', '.join(sample)}")
    missing = [t for t in baseline["per_task"] if t not in run["per_task"]]
    extra = [t for t in run["per_task"] if t not in baseline["per_task"]]
    if missing and tasks_subset:
        notes.append(f"--tasks-subset: baseline tasks {', '.join(missing)} are not in the run and not checked")
    elif missing:
        problems.append(f"baseline tasks {', '.join(missing)} missing from the run (--tasks-subset checks the rest)")
    if extra:
        notes.append(f"run tasks {', '.join(extra)} are not in the baseline and not checked")
    return problems, notes


def split_alpha(alpha: float, n_tasks: int) -> tuple[float, float]:
    """(overall level, per-task level): alpha / 2 and alpha / (2 K); one task: alpha for both (one test)."""
    if n_tasks == 1:
        return alpha, alpha
    return alpha / 2, alpha / (2 * n_tasks)


def compare(baseline: dict[str, Any], run: dict[str, Any], margin: float, alpha: float) -> list[Row]:
    """Rows per shared task (Bonferroni within the task family), then the task-averaged overall row."""
    if baseline["suite"] != run["suite"]:
        raise HarnessError(f"baseline is for suite {baseline['suite']!r} but the run is {run['suite']!r}")
    shared = [t for t in baseline["per_task"] if t in run["per_task"]]
    if not shared:
        raise HarnessError("baseline and run have no task in common")
    alpha_all, alpha_task = split_alpha(alpha, len(shared))
    rows = []
    for tid in shared:
        b, r = baseline["per_task"][tid], run["per_task"][tid]
        test = non_inferiority(r["successes"], r["n"], b["successes"], b["n"], margin, alpha_task)
        rows.append(Row(f"{tid}: {b.get('task', '')[:50]}", b, r, test, alpha_task))
    counts = {side: [(s[tid]["successes"], s[tid]["n"]) for tid in shared] for side, s in
              (("base", baseline["per_task"]), ("run", run["per_task"]))}  # fmt: skip
    overall = non_inferiority_task_mean(counts["run"], counts["base"], margin, alpha_all)
    rows.append(Row("overall (task mean)", _task_mean(counts["base"]), _task_mean(counts["run"]), overall, alpha_all))
    return rows


def _task_mean(counts: list[tuple[int, int]]) -> dict[str, Any]:
    rates = [s / n if n else 0.0 for s, n in counts]
    return {"rate": sum(rates) / len(rates), "n": sum(n for _, n in counts), "tasks": len(counts)}


def _cell(stats: dict[str, Any]) -> str:
    if "rate" in stats:
        return f"{stats['rate']:.1%} ({stats['tasks']} tasks, n={stats['n']})"
    return f"{stats['successes']}/{stats['n']}"


def print_rows(rows: list[Row], suite: str, margin: float) -> None:
    """The verdict table (rich)."""
    table = Table(title=f"{suite}: run vs baseline (margin {margin:.0%})")
    for col in ("task", "baseline", "run", "diff", "CI of diff", "alpha", "verdict"):
        table.add_column(col)
    colours = {"regression": "red", "non-inferior": "green", "inconclusive": "yellow"}
    for row in rows:
        t = row.test
        table.add_row(
            row.label,
            _cell(row.base),
            _cell(row.run),
            f"{t.diff:+.1%}",
            f"[{t.lower:+.1%}, {t.upper:+.1%}]",
            f"{row.alpha:.3g}",
            f"[{colours[t.verdict]}]{t.verdict}[/]",
        )
    Console(width=160).print(table)


def _parser() -> OneLineParser:
    parser = OneLineParser(prog="python -m harness.regress", description=__doc__.split("\n")[0])
    parser.add_argument("--baseline", required=True, help="baseline summary.json (e.g. results/baselines/...)")
    parser.add_argument("--run", required=True, help="run dir (or its summary.json) to check")
    parser.add_argument("--margin", type=float, default=0.05, help="non-inferiority margin on the success rate")
    parser.add_argument("--alpha", type=float, default=0.05, help="one-sided family-wise significance level")
    parser.add_argument("--tasks-subset", action="store_true", help="allow a run of only some baseline tasks")
    parser.add_argument(
        "--allow-mismatch", action="store_true", help="compare runs with other config or tasks (prints a WARNING)"
    )
    return parser


@cli_entry
def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if not (0 <= args.margin < 1 and 0 < args.alpha < 0.5):
        raise HarnessError("--margin must be in [0, 1) and --alpha in (0, 0.5)")
    baseline = load_summary(Path(args.baseline))
    run = load_summary(Path(args.run))
    problems, notes = comparability_problems(baseline, run, args.tasks_subset)
    if problems and not args.allow_mismatch:
        raise HarnessError(f"run and baseline are not comparable: {'; '.join(problems)} (or --allow-mismatch)")
    if problems:
        print(f"WARNING: --allow-mismatch: comparing runs that differ: {'; '.join(problems)}", file=sys.stderr)
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    rows = compare(baseline, run, args.margin, args.alpha)
    print_rows(rows, run["suite"], args.margin)
    if not run.get("complete", True):
        print("note: the run is incomplete (finish it with python -m harness.eval --resume)", file=sys.stderr)
    regressions = [row.label for row in rows if row.test.verdict == "regression"]
    if regressions:
        print(f"REGRESSION: {', '.join(regressions)}")
        return 1
    print("no significant regression")
    return 0


if __name__ == "__main__":
    sys.exit(main())
