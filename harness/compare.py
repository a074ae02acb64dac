"""``python -m harness.compare``: several planners on the same episodes, with paired statistics.

    python -m harness.compare --suite simpler_bridge --tasks 2,3 --policy diffusion --checkpoint DIR \\
        --planners vla_random,vla_mean,wm_topk --world-model lac_wm --wm-checkpoint DIR --episodes-per-task 10

Every planner runs as its own evaluation run (same run seed -> same init states and episode seeds), then
the episodes are paired by (task, episode). Output: a table per task and overall with success rates and
Wilson 95% intervals, the paper's partial metrics where the suite reports them (S.R.C.: contact = grasp),
delta_f (mean subgoal embedding distance) and delta_f_g (final-goal distance), an exact McNemar test for
every pair of planners (raw p and Holm-adjusted p over the pairs of each table), compare.json and compare.png
in OUT/<suite>/compare-<time>/.

With no ``--world-model``, a suite that ships world models (``python -m harness.suites`` lists them) gives its
first one to every planner when one of them needs a world model, and its ``compare_defaults`` (tasks,
episodes, N, k, p) fill the flags not given, so ``python -m harness.compare --suite libero_object`` runs as it
is; the filled values are printed and recorded. ``--compute-matched`` adds the arm ``vla_mean_matched``:
``vla_mean`` with the number of samples that fits in ``wm_topk``'s measured time per decision (measured in this
comparison, from the ``vla_mean`` and ``wm_topk`` runs), so a gain of ``wm_topk`` is not just more computation.

``--runs NAME=RUN_DIR ...`` pairs finished evaluation runs of *different policies or checkpoints* instead (e.g. a
pretrained policy against the same architecture from scratch): runs nothing; the runs must share the suite, the
tasks and their max steps, the headline, the goal mode, held-out scenes, out-of-range handling and the run seed
(so episode i of a task is the same scene with the same seed in each, checked per episode), and are paired on
the episodes all of them finished without an error (the others are counted on stderr and left out). The
report is the same (arms named NAME).

``--merge DIR...`` pools batches (e.g. made with ``--first-episode``) into one report. Per planner, every
batch must have the same run identity (``harness.analysis.comparability``: suite, headline, tasks and their max steps,
policy, checkpoint content hash, planner options N / k / p, world model and its checkpoint hash, goal mode,
out-of-range handling) *and the same run seed*, so that the merged episodes are exactly those of one run over
the union of episode numbers; only ``--first-episode`` and ``--episodes-per-task`` may differ.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import sys
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from harness.engine.atomic_io import write_json_atomic
from harness.analysis.comparability import identity_from_manifest, identity_mismatches
from harness.config import EvalConfig, OneLineParser, given_fields, parser_for
from harness.errors import HarnessError, cli_entry
from harness.eval import evaluate, prepare
from harness.defaults import resolve_world_model
from harness.engine.manifest import PROJECT_ROOT
from harness.registry import PLANNERS, SUITES
from harness.engine.results import RunStore
from harness.analysis.stats import holm_adjust, mcnemar_exact, newcombe_paired_interval, wilson_interval



def _parser() -> OneLineParser:
    p = parser_for(
        EvalConfig, "python -m harness.compare", __doc__.split("\n")[0], skip=frozenset({"planner", "resume", "goal"})
    )
    p.add_argument("--planners", default="vla_random,vla_mean,wm_topk", help="comma list of planner names")
    p.add_argument(
        "--merge",
        nargs="+",
        metavar="COMPARE_DIR",
        help="pool earlier comparisons (e.g. batches made with --first-episode) into one report; runs nothing",
    )
    p.add_argument(
        "--runs",
        nargs="+",
        metavar="NAME=RUN_DIR",
        help="pair finished eval runs of different policies / checkpoints on their common episodes; runs nothing",
    )
    p.add_argument(
        "--compute-matched",
        action="store_true",
        help="add the arm vla_mean_matched: vla_mean with as many samples as fit in wm_topk's measured time per "
        "decision (needs vla_mean and wm_topk among --planners; run after them)",
    )
    p.add_argument(
        "--matched-samples",
        type=int,
        metavar="N",
        help="with --compute-matched: use this N instead of measuring it (a later batch reusing the first batch's "
        "N, so that --merge can pool them)",
    )
    p.add_argument("--goal", default="subgoals", help="subgoals | final | none (expert demo frames; privileged)")
    p.set_defaults(videos=0)
    return p


def _rate(successes: int, n: int) -> dict[str, Any]:
    lo, hi = wilson_interval(successes, n)
    return {"successes": successes, "n": n, "rate": successes / n if n else None, "ci95": [lo, hi]}


def _mean(values: list[float | None]) -> float | None:
    vals = [v for v in values if v is not None]
    return float(np.mean(vals)) if vals else None


def partial_metrics(suite_name: str) -> dict[str, str]:
    """{"contact": key, "lift": key}: the episode metrics the suite declares as S.R.C. / S.R.L. (any step)."""
    suite = SUITES.build(suite_name)
    declared = {"contact": getattr(suite, "contact_metric", None), "lift": getattr(suite, "lift_metric", None)}
    return {label: f"{name}_once" for label, name in declared.items() if name}


def planner_stats(records: list[dict[str, Any]], partial: dict[str, str] | None = None) -> dict[str, Any]:
    """Success with Wilson interval, the suite's partial metrics (``partial``: label -> episode metric key),
    delta_f / delta_f_g and compute for one group."""
    out: dict[str, Any] = {"success": _rate(sum(bool(r["success"]) for r in records), len(records))}
    for label, key in (partial or {}).items():
        out[label] = {**_rate(sum(bool(r.get("metrics", {}).get(key)) for r in records), len(records)), "metric": key}
    out["delta_f"] = _mean([r.get("metrics", {}).get("delta_f") for r in records])
    out["delta_f_g"] = _mean([r.get("metrics", {}).get("delta_f_g") for r in records])
    logs = [d for r in records for d in r.get("plan_log", [])]
    out["decisions"] = len(logs)
    out["wm_calls"] = int(sum(d.get("wm_calls", 0) for d in logs))
    out["plan_s_per_decision"] = _mean([d.get("time_s") for d in logs])
    out["errors"] = sum(1 for r in records if r.get("error"))
    return out


def paired_tests(runs: dict[str, dict[str, dict[str, Any]]], keys: list[str]) -> list[dict[str, Any]]:
    """Exact McNemar for every pair of planners over the episodes both finished (``keys``), with Holm-adjusted
    p-values over these pairs (family-wise error of the table's pairwise claims <= alpha), and the paired
    difference of success rates (a - b) with Newcombe's 95% interval for paired data (bounds the effect when
    the test is not significant)."""
    tests = []
    for a, b in itertools.combinations(runs, 2):
        both = [k for k in keys if k in runs[a] and k in runs[b]]
        sa = [bool(runs[a][k]["success"]) for k in both]
        sb = [bool(runs[b][k]["success"]) for k in both]
        a_only = sum(x and not y for x, y in zip(sa, sb, strict=True))
        b_only = sum(y and not x for x, y in zip(sa, sb, strict=True))
        together = sum(x and y for x, y in zip(sa, sb, strict=True))
        diff_ci = newcombe_paired_interval(together, a_only, b_only, len(both) - together - a_only - b_only)
        tests.append(
            {
                "a": a,
                "b": b,
                "pairs": len(both),
                "a_only": a_only,
                "b_only": b_only,
                "p_value": mcnemar_exact(a_only, b_only),
                "diff": (a_only - b_only) / len(both) if both else None,
                "diff_ci95": list(diff_ci),
            }
        )
    for test, adjusted in zip(tests, holm_adjust([t["p_value"] for t in tests]), strict=True):
        test["p_holm"] = adjusted
    return tests


def build_report(
    runs: dict[str, dict[str, dict[str, Any]]], task_names: dict[int, str], partial: dict[str, str] | None = None
) -> dict[str, Any]:
    """runs: planner -> episode key -> record. Per task and overall statistics plus paired tests."""
    keys = sorted({k for recs in runs.values() for k in recs}, key=lambda k: tuple(int(x) for x in k.split(":")))
    groups: dict[str, list[str]] = {"overall": keys}
    for tid, name in task_names.items():
        groups[f"task {tid}: {name}"] = [k for k in keys if int(k.split(":")[0]) == tid]
    report: dict[str, Any] = {}
    for group, group_keys in groups.items():
        report[group] = {
            "planners": {
                p: planner_stats([recs[k] for k in group_keys if k in recs], partial) for p, recs in runs.items()
            },
            "paired": paired_tests(runs, group_keys),
        }
    return report


def plot_report(report: dict[str, Any], out: Path) -> None:
    """Grouped bars of success rate with Wilson 95% intervals, one group per task plus overall."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = list(report)
    planners = list(report["overall"]["planners"])
    width = 0.8 / max(1, len(planners))
    fig, ax = plt.subplots(figsize=(max(6, 1.8 * len(groups)), 3.8))
    for i, planner in enumerate(planners):
        rates, lows, highs = [], [], []
        for g in groups:
            s = report[g]["planners"][planner]["success"]
            rate = s["rate"] or 0.0
            rates.append(rate)
            lows.append(rate - s["ci95"][0])
            highs.append(s["ci95"][1] - rate)
        xs = np.arange(len(groups)) + (i - (len(planners) - 1) / 2) * width
        ax.bar(xs, rates, width, yerr=[lows, highs], capsize=3, label=planner)
    ax.set_xticks(np.arange(len(groups)), [g.split(":")[0] if g != "overall" else g for g in groups])
    ax.set_ylim(0, 1)
    ax.set_ylabel("success rate (Wilson 95%)")
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)


def print_report(report: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(stderr=False, width=140)
    for group, data in report.items():
        table = Table(title=group)
        for col in ("arm", "S.R.", "95% CI", "S.R.C.", "S.R.L.", "delta_f", "delta_f_g", "wm calls", "plan s/dec"):
            table.add_column(col)

        def fmt(x: Any, pct: bool = False) -> str:
            if x is None:
                return "-"
            return f"{x:.0%}" if pct else f"{x:.3g}"

        for planner, st in data["planners"].items():
            s = st["success"]
            table.add_row(
                planner,
                f"{s['successes']}/{s['n']} ({fmt(s['rate'], True)})",
                f"{s['ci95'][0]:.2f}-{s['ci95'][1]:.2f}",
                fmt(st.get("contact", {}).get("rate"), True),
                fmt(st.get("lift", {}).get("rate"), True),
                fmt(st["delta_f"]),
                fmt(st["delta_f_g"]),
                str(st["wm_calls"]),
                fmt(st["plan_s_per_decision"]),
            )
        console.print(table)
        for t in data["paired"]:
            console.print(
                f"  McNemar {t['a']} vs {t['b']}: {t['pairs']} pairs, only {t['a']} {t['a_only']}, "
                f"only {t['b']} {t['b_only']}, exact p = {t['p_value']:.3g}, Holm p = {t['p_holm']:.3g}; "
                + _difference(t)
            )
        if len(data["paired"]) > 1:
            console.print(f"  (Holm p: adjusted for the {len(data['paired'])} pairwise tests of this table)")


def _difference(test: dict[str, Any]) -> str:
    if test.get("diff") is None:
        return "no pairs"
    lo, hi = test["diff_ci95"]
    verdict = "significant" if test["p_holm"] < 0.05 else "not significant"
    return (
        f"S.R. {test['a']} - {test['b']} = {test['diff']:+.2f} [95% CI {lo:+.2f}, {hi:+.2f}], "
        f"{verdict} at 0.05 (Holm-adjusted)"
    )


def _load_runs(run_dirs: dict[str, str], runs: dict, task_names: dict[int, str]) -> None:
    for name, run_dir in run_dirs.items():
        store = RunStore.open(Path(run_dir))
        for record in store.episodes():
            if record["key"] in runs.setdefault(name, {}):
                raise HarnessError(f"episode {record['key']} of {name} appears in two merged runs")
            runs[name][record["key"]] = record
        for task in store.manifest()["suite"]["tasks"]:
            task_names[int(task["task_id"])] = task["name"]


def _finish(runs: dict, task_names: dict[int, str], out_root: Path, suite: str, meta: dict[str, Any]) -> int:
    report = build_report(runs, dict(sorted(task_names.items())), partial_metrics(suite))
    out = out_root / suite / f"compare-{time.strftime('%Y%m%d-%H%M%S')}"
    out.mkdir(parents=True, exist_ok=True)
    write_json_atomic(out / "compare.json", {**meta, "report": report})
    plot_report(report, out / "compare.png")
    print_report(report)
    print(f"compare: {out}")
    return 0


def run_identity_of(run_dir: str) -> dict[str, Any]:
    """The run identity in the run's summary.json, or rebuilt from its manifest (older summaries)."""
    store = RunStore.open(Path(run_dir))
    try:
        config = json.loads(store.summary_path.read_text()).get("config")
    except (OSError, json.JSONDecodeError):
        config = None
    return config or identity_from_manifest(store.manifest())


def batch_mismatches(first: dict[str, str], other: dict[str, str]) -> list[str]:
    """Per planner, how the runs of one batch differ from the first batch's (planner -> run dir each)."""
    out = []
    for planner in first:
        a, b = run_identity_of(first[planner]), run_identity_of(other[planner])
        diffs = identity_mismatches(a, b)
        if set(a["tasks"]) != set(b["tasks"]):
            diffs.append(f"tasks ({', '.join(sorted(a['tasks']))} vs {', '.join(sorted(b['tasks']))})")
        if a.get("seed") != b.get("seed"):
            diffs.append(f"seed ({a.get('seed')!r} vs {b.get('seed')!r})")
        out += [f"{planner}: {d}" for d in diffs]
    return out


PAIRING_FIELDS = ("headline", "goal", "held_out", "out_of_range")  # --runs: what every paired run must share


def pair_runs(specs: list[str], out_root: Path) -> int:
    """Pair finished eval runs (NAME=RUN_DIR each) of different policies / checkpoints (module docstring)."""
    run_dirs: dict[str, str] = {}
    for spec in specs:
        name, sep, folder = spec.partition("=")
        if not sep or not name or not folder:
            raise HarnessError(f"--runs: expected NAME=RUN_DIR, got {spec!r}")
        if name in run_dirs:
            raise HarnessError(f"--runs: the name {name!r} is given twice")
        if not (Path(folder) / "manifest.json").is_file():
            raise HarnessError(f"--runs: {folder} is not an evaluation run folder (no manifest.json)")
        run_dirs[name] = folder
    if len(run_dirs) < 2:
        raise HarnessError("--runs needs at least two NAME=RUN_DIR runs")
    names = list(run_dirs)
    first = run_identity_of(run_dirs[names[0]])
    for name in names[1:]:
        other = run_identity_of(run_dirs[name])
        diffs = identity_mismatches(first, other, PAIRING_FIELDS)
        if first.get("seed") != other.get("seed"):
            diffs.append(f"seed ({first.get('seed')!r} vs {other.get('seed')!r})")
        if diffs:
            raise HarnessError(f"--runs: {name} is not paired with {names[0]}: {'; '.join(diffs)}")
    runs: dict[str, dict[str, dict[str, Any]]] = {}
    task_names: dict[int, str] = {}
    _load_runs(run_dirs, runs, task_names)
    common = set.intersection(*(set(recs) for recs in runs.values()))
    for key in sorted(common):
        scenes = {(r.get("init_index"), r.get("seed")) for r in (runs[n][key] for n in names)}
        if len(scenes) > 1:
            raise HarnessError(f"--runs: episode {key} ran other scenes / seeds in the runs: {sorted(scenes)}")
    errored = {k for k in common if any(runs[n][k].get("error") for n in names)}
    common -= errored  # an infrastructure fault is no outcome of the policy: that pair is left out (and reported)
    if not common:
        raise HarnessError("--runs: the runs have no episode in common (without errors)")
    for name, recs in runs.items():
        left = len(recs) - len(common)
        if left:
            print(f"compare: {name}: {left} of its {len(recs)} episodes unpaired (not in every run or errored)",
                  file=sys.stderr)  # fmt: skip
    runs = {name: {k: r for k, r in recs.items() if k in common} for name, recs in runs.items()}
    paired_tasks = {int(k.split(":")[0]) for k in common}
    task_names = {tid: task for tid, task in task_names.items() if tid in paired_tasks}
    identities = {name: run_identity_of(folder) for name, folder in run_dirs.items()}
    arms = {name: {"policy": i.get("policy"), "checkpoint": i.get("checkpoint"), "planner": i.get("planner"),
                   "policy_sampling": i.get("policy_sampling")}
            for name, i in identities.items()}  # fmt: skip
    meta = {"config": {"suite": first["suite"], "paired_runs": run_dirs, "arms": arms},
            "runs": run_dirs, "errored_pairs_left_out": sorted(errored)}  # fmt: skip
    return _finish(runs, task_names, out_root, first["suite"], meta)


def merge(dirs: list[str], out_root: Path) -> int:
    """Pool the runs of several compare.json folders (same planners, same run identities) into one report."""
    runs: dict[str, dict[str, dict[str, Any]]] = {}
    task_names: dict[int, str] = {}
    batches = []
    for folder in dirs:
        try:
            data = json.loads((Path(folder) / "compare.json").read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise HarnessError(f"--merge: cannot read {folder}/compare.json: {exc}") from exc
        if batches and set(data["runs"]) != set(batches[0]["runs"]):
            raise HarnessError(f"--merge: {folder} compares other planners than {dirs[0]}")
        diffs = batch_mismatches(batches[0]["runs"], data["runs"]) if batches else []
        if diffs:
            raise HarnessError(f"--merge: {folder} is not comparable with {dirs[0]}: {'; '.join(diffs)}")
        batches.append(data)
        _load_runs(data["runs"], runs, task_names)
    suite = batches[0]["config"]["suite"]
    meta = {"config": batches[0]["config"], "merged": dirs, "runs": [b["runs"] for b in batches]}
    if any("compute_matched" in b for b in batches):
        meta["compute_matched"] = [b.get("compute_matched") for b in batches]
    return _finish(runs, task_names, out_root, suite, meta)


def _suite_defaults(suite_name: str, planners: list[str], base: dict[str, Any], given: set[str]) -> dict[str, Any]:
    """The suite's ``compare_defaults`` for flags not given, and one world model for every planner (the suite's
    shipped one when a planner needs it and none is named), so the baselines' delta_f uses the same encoder.
    Prints what it filled in."""
    suite = SUITES.build(suite_name)
    filled = {k: v for k, v in getattr(suite, "compare_defaults", ()) if k not in given}
    wanted = any(bool(getattr(PLANNERS.get(name), "needs_world_model", False)) for name in planners)
    name, checkpoint = resolve_world_model(suite, base.get("world_model"), base.get("wm_checkpoint"), wanted)
    if name is not None and base.get("world_model") is None:
        filled.update({"world_model": name, "wm_checkpoint": checkpoint})
    if filled:
        shown = " ".join(f"--{k.replace('_', '-')} {_show(v)}" for k, v in filled.items())
        print(f"compare: {suite.name} defaults for flags not given: {shown}", file=sys.stderr)
    return filled


def _show(value: Any) -> str:
    try:
        return str(Path(value).relative_to(PROJECT_ROOT)) if Path(str(value)).is_absolute() else str(value)
    except ValueError:
        return str(value)


@cli_entry
def main(argv: Sequence[str] | None = None) -> int:
    tokens = list(sys.argv[1:] if argv is None else argv)
    parser = _parser()
    args = parser.parse_args(tokens)
    if args.merge and args.runs:
        raise HarnessError("--merge and --runs are separate modes; give one")
    if args.merge:
        return merge(args.merge, Path(args.out))
    if args.runs:
        return pair_runs(args.runs, Path(args.out))
    planners = [p.strip() for p in args.planners.split(",") if p.strip()]
    if len(planners) < 2 or len(set(planners)) != len(planners):
        raise HarnessError("--planners needs at least two distinct planner names")
    if args.compute_matched and not {"vla_mean", "wm_topk"} <= set(planners):
        raise HarnessError("--compute-matched needs vla_mean and wm_topk among --planners")
    if args.matched_samples is not None and (not args.compute_matched or args.matched_samples < 1):
        raise HarnessError("--matched-samples N needs --compute-matched and N >= 1")
    fields = {f.name for f in dataclasses.fields(EvalConfig)}
    base = {k: v for k, v in vars(args).items() if k in fields}
    base.update(_suite_defaults(args.suite, planners, base, given_fields(parser, tokens)))
    configs = {name: EvalConfig(**{**base, "planner": name}).validate() for name in planners}
    prepared = {name: prepare(cfg) for name, cfg in configs.items()}  # every setup checked before the first runs
    steps = {name: run.executed_steps for name, run in prepared.items()}
    if len({p for p in steps.values() if p is not None}) > 1:
        shown = ", ".join(f"{name} p={p}" for name, p in steps.items())
        raise HarnessError(f"planners would decide at different times ({shown}); pass one --subgoal-every")
    runs: dict[str, dict[str, dict[str, Any]]] = {}
    run_dirs: dict[str, str] = {}
    task_names: dict[int, str] = {}
    argv = ["python -m harness.compare", *tokens]
    for name, cfg in configs.items():
        print(f"compare: planner {name}", file=sys.stderr)
        run_dirs[name] = str(evaluate(cfg, set(), argv, prepared[name]))
    meta: dict[str, Any] = {"config": {**base, "planners": planners}, "runs": run_dirs}
    if args.compute_matched:
        matched = matched_samples(run_dirs["vla_mean"], run_dirs["wm_topk"], configs["vla_mean"])
        if args.matched_samples is not None:
            matched = {**matched, "n_samples": args.matched_samples, "given": True}
        print(
            f"compare: arm vla_mean_matched: N = {matched['n_samples']} (wm_topk {matched['wm_topk_s']:.3f} s per "
            f"decision, vla_mean {matched['vla_mean_s']:.3f} s with N = {matched['vla_mean_n']})",
            file=sys.stderr,
        )
        cfg = EvalConfig(**{**base, "planner": "vla_mean", "n_samples": matched["n_samples"]}).validate()
        run_dirs["vla_mean_matched"] = str(evaluate(cfg, set(), argv, prepare(cfg)))
        meta["compute_matched"] = matched
    _load_runs(run_dirs, runs, task_names)
    return _finish(runs, task_names, Path(args.out), args.suite, meta)


def mean_decision_s(run_dir: str) -> float:
    """Mean wall time of one planner decision (``plan_log[*].time_s``) over a run's episodes."""
    times = [d["time_s"] for r in RunStore.open(Path(run_dir)).episodes() for d in r.get("plan_log") or []]
    if not times:
        raise HarnessError(f"{run_dir}: no timed decisions to match compute with")
    return float(np.mean(times))


def matched_samples(vla_mean_dir: str, wm_topk_dir: str, vla_mean_cfg: EvalConfig) -> dict[str, Any]:
    """Samples vla_mean can draw in wm_topk's mean time per decision, measured in this comparison on this
    machine: N * t(wm_topk) / t(vla_mean with N), rounded, never below N (drawing samples costs about linearly
    in N, less where a call has fixed overhead; the matched arm's own time per decision is reported beside the
    others to check it)."""
    n = int(PLANNERS.build("vla_mean", options=vla_mean_cfg.planner_options()).options.n_samples)
    t_wm, t_mean = mean_decision_s(wm_topk_dir), mean_decision_s(vla_mean_dir)
    if t_mean <= 0:
        raise HarnessError(f"{vla_mean_dir}: vla_mean's decisions took no measurable time; pass --matched-samples N")
    return {
        "n_samples": max(n, int(round(n * t_wm / t_mean))),
        "vla_mean_n": n,
        "wm_topk_s": round(t_wm, 4),
        "vla_mean_s": round(t_mean, 4),
    }


if __name__ == "__main__":
    sys.exit(main())
