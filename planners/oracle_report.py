"""``python -m planners.oracle_report RUN_DIR``: what an ``oracle_topk`` run says about world-model selection.

Reads the run's ``episodes.jsonl`` and prints one JSON object: the oracle's success (Wilson 95 %), how many
decisions it took, how often some candidate reached the task's success within p steps, how far the candidates'
true outcomes lie from the subgoal and from each other (medians over decisions of the median distance and of
the spread, max - min: where candidates end up alike, no selection can matter), and, where the run
had a world model, the rank agreement of its scores with the truth over all decisions: mean Spearman's rho
(world-model distance vs true state distance; 1 = same order) and the mean top-k hit rate against its chance
level k / N (the share of k picks that random scores would place among the true k best).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from harness.analysis.stats import wilson_interval
from harness.config import OneLineParser
from harness.errors import HarnessError, cli_entry


def _finite(decision: dict[str, Any]) -> np.ndarray:
    values = np.asarray(decision["true_distance"], dtype=np.float64)
    values = values[np.isfinite(values)]
    return values if len(values) else np.zeros(1)


def oracle_summary(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Episode records of an ``oracle_topk`` run -> the summary printed by the CLI."""
    decisions = [d for r in records for d in r.get("plan_log", []) if "true_distance" in d]
    if not decisions:
        raise HarnessError("no oracle_topk decisions in this run (was it run with --planner oracle_topk?)")
    successes = sum(bool(r["success"]) for r in records)
    low, high = wilson_interval(successes, len(records))
    out: dict[str, Any] = {
        "episodes": len(records),
        "oracle_success": successes,
        "oracle_success_rate": round(successes / len(records), 4),
        "wilson95": [round(low, 4), round(high, 4)],
        "decisions": len(decisions),
        "decisions_with_a_succeeding_candidate": sum(d["true_success"] > 0 for d in decisions),
        # how different the candidates' true outcomes are: selection can only matter where they differ
        "median_true_distance_m": round(float(np.median([np.median(_finite(d)) for d in decisions])), 5),
        "median_candidate_spread_m": round(float(np.median([np.ptp(_finite(d)) for d in decisions])), 5),
    }
    compared = [d for d in decisions if "topk_hit" in d]
    if compared:
        rhos = [d["spearman"] for d in compared if d.get("spearman") is not None]
        out.update(
            world_model_decisions=len(compared),
            spearman_mean=round(float(np.mean(rhos)), 4) if rhos else None,
            spearman_decisions=len(rhos),
            topk_hit_mean=round(float(np.mean([d["topk_hit"] for d in compared])), 4),
            topk_hit_chance=round(float(np.mean([d["k"] / d["n"] for d in compared])), 4),
        )
    return out


@cli_entry
def main(argv: Sequence[str] | None = None) -> int:
    parser = OneLineParser(prog="python -m planners.oracle_report", description=__doc__.split("\n")[0])
    parser.add_argument("run_dir", help="an evaluation run directory (with episodes.jsonl)")
    args = parser.parse_args(argv)
    path = Path(args.run_dir) / "episodes.jsonl"
    if not path.exists():
        raise HarnessError(f"{path} does not exist: pass a run directory of harness.eval")
    records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    print(json.dumps(oracle_summary(records), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
