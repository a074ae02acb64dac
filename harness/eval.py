"""``python -m harness.eval``: evaluate a policy (+ planner) on a suite; resumable, crash-safe.

The last line printed is ``results: <run dir>``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Sequence

from harness.config import EvalConfig, parse_eval_args
from harness.defaults import resolve_policy
from harness.errors import HarnessError, cli_entry
from harness.manifest import environment_info, git_info, package_versions
from harness.plan_episodes import make_episodes
from harness.registry import PLANNERS, POLICIES, SUITES, WORLD_MODELS
from harness.report import print_summary_table
from harness.results import RunStore, summarize
from harness.workers import RunContext, run_episodes

RESUME_KEEPS = {"workers", "progress", "resume"}  # flags that may change on --resume


def _progress(total: int, initial: int, enabled: bool):  # type: ignore[no-untyped-def]
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, disable=not enabled, unit="ep", dynamic_ncols=True, file=sys.stderr)


@cli_entry
def main(argv: Sequence[str] | None = None) -> int:
    cfg, given = parse_eval_args(argv)
    run_dir = evaluate(cfg, given, list(sys.argv[1:] if argv is None else argv))
    print(f"results: {run_dir}")
    return 0


def evaluate(cfg: EvalConfig, given: set[str], argv: list[str]) -> Path:
    """Run (or resume) one evaluation; prints the summary table and returns the run dir."""
    store: RunStore | None = None
    if cfg.resume:
        store = RunStore.open(Path(cfg.resume))
        manifest = store.manifest()
        ignored = sorted(given - RESUME_KEEPS)
        if ignored:
            flags = ", ".join("--" + i.replace("_", "-") for i in ignored)
            print(f"note: --resume uses the run's recorded config; ignoring {flags}", file=sys.stderr)
        cfg = EvalConfig.from_dict(
            {**manifest["config"], "workers": cfg.workers, "progress": cfg.progress, "resume": cfg.resume}
        ).validate()  # workers None -> suite default below

    suite = SUITES.build(cfg.suite)
    tasks = suite.select(cfg.tasks)
    policy_name, checkpoint = resolve_policy(suite, cfg.policy, cfg.checkpoint)
    POLICIES.get(policy_name)
    PLANNERS.get(cfg.planner)
    POLICIES.build(policy_name, checkpoint=checkpoint)  # fail fast on a missing / malformed checkpoint
    PLANNERS.build(cfg.planner, options=cfg.planner_options())
    if cfg.world_model is not None:
        WORLD_MODELS.build(cfg.world_model, checkpoint=cfg.wm_checkpoint)
    if cfg.goal != "none" and "expert" not in POLICIES:
        raise HarnessError("--goal needs the scripted 'expert' policy for the suite")
    workers = cfg.workers if cfg.workers is not None else suite.default_workers
    cfg = EvalConfig.from_dict({**cfg.to_dict(), "policy": policy_name, "checkpoint": checkpoint, "workers": workers})
    episodes = make_episodes(tasks, cfg.episodes_per_task, cfg.seed, cfg.first_episode)

    if store is None:
        manifest = {
            "kind": "eval",
            "config": {**cfg.to_dict(), "resume": None},
            "suite": {
                "name": suite.name,
                "headline": suite.headline,
                "tasks": [
                    {
                        "task_id": t.task_id,
                        "name": t.name,
                        "instruction": t.instruction,
                        "max_steps": cfg.max_steps or t.max_steps,
                    }
                    for t in tasks
                ],
            },
            "seeds": {
                "run_seed": cfg.seed,
                "episode_seed_rule": "SeedSequence([run_seed, task_id, episode])",
                "episodes": {e.key: e.seed for e in episodes},
            },
            "asset_notes": suite.asset_notes(),
            "privileged": (
                [f"goal images ({cfg.goal}) come from the scripted expert's demonstration from the same init state"]
                if cfg.goal != "none"
                else []
            ),
            "git": git_info(),
            "packages": package_versions(),
            "environment": environment_info(),
            "argv": argv,
        }
        store = RunStore.create(Path(cfg.out), suite.name, f"{policy_name}-{cfg.planner}-s{cfg.seed}", manifest)
    else:
        resumes = store.manifest().get("resumes", [])
        store.update_manifest(resumes=resumes + [{"git": git_info(), "workers": cfg.workers}])

    done = {r["key"] for r in store.episodes(repair=True)}
    todo = [e for e in episodes if e.key not in done]
    ctx = RunContext(
        suite=suite.name,
        policy=policy_name,
        checkpoint=cfg.checkpoint,
        planner=cfg.planner,
        max_steps=cfg.max_steps,
        out_of_range=cfg.out_of_range,
        videos=cfg.videos,
        video_dir=str(store.videos_dir) if cfg.videos else None,
        threads_per_worker=max(1, (os.cpu_count() or 1) // cfg.workers) if cfg.workers > 1 else 0,
        planner_options=cfg.planner_options(),
        world_model=cfg.world_model,
        wm_checkpoint=cfg.wm_checkpoint,
        goal=cfg.goal,
        first_episode=cfg.first_episode,
        episode_timeout_s=cfg.episode_timeout or suite.episode_timeout_s,
    )
    print(
        f"run: {store.run_dir}  suite={suite.name} tasks={len(tasks)} episodes={len(episodes)} "
        f"(to run: {len(todo)}) policy={policy_name} planner={cfg.planner} workers={cfg.workers}",
        file=sys.stderr,
    )
    successes = sum(bool(r["success"]) for r in store.episodes())
    finished = len(done)
    bar = _progress(len(episodes), finished, cfg.progress)
    try:
        for record in run_episodes(ctx, todo, cfg.workers):
            store.append(record)
            finished += 1
            successes += bool(record["success"])
            bar.set_postfix_str(f"success {successes}/{finished} ({successes / finished:.0%})")
            bar.update(1)
    finally:
        bar.close()
        records = store.episodes()
        summary = summarize(records, suite.name, suite.headline, expected=len(episodes))
        summary["asset_notes"] = store.manifest().get("asset_notes", [])  # stand-ins travel with the numbers
        store.write_summary(summary)
    print_summary_table(summary)
    if summary["overall"]["errors"]:
        first = next(r for r in sorted(records, key=lambda r: r["index"]) if r.get("error"))
        print(
            f"note: {summary['overall']['errors']} episode(s) ended in error, e.g. episode {first['key']}: "
            f"{first['error']}",
            file=sys.stderr,
        )
    return store.run_dir


if __name__ == "__main__":
    sys.exit(main())
