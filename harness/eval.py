"""``python -m harness.eval``: evaluate a policy (+ planner) on a suite; resumable, crash-safe.

The last line printed is ``results: <run dir>``.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from harness.analysis.comparability import identity_from_manifest
from harness.config import EXECUTION_FIELDS, EvalConfig, flag_list, parse_eval_args
from harness.defaults import resolve_policy, resolve_world_model
from harness.errors import cli_entry
from harness.engine.manifest import git_info, provenance
from harness.engine.episodes import make_episodes
from planners.setup import build_world_model, check_planner_setup, unused_options
from harness.protocols import EpisodeSpec, TaskSpec
from harness.policy.build import build_policy, close_policy, unused_policy_flags
from harness.registry import PLANNERS, SUITES
from harness.engine.scenes import check_no_training_scenes
from harness.analysis.report import print_summary_table
from harness.engine.results import RunStore, summarize
from harness.engine.ray_backend import connect
from harness.engine.workers import RunContext, run_episodes

# flags that may change on --resume: how the run is executed, and where its policy server is now
TRANSPORT = {"policy_url", "policy_timeout", "policy_connect_timeout"}
RESUME_KEEPS = {*EXECUTION_FIELDS, "progress", "resume", "allow_train_scenes"} | TRANSPORT


def _progress(total: int, initial: int, enabled: bool):  # type: ignore[no-untyped-def]
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, disable=not enabled, unit="ep", dynamic_ncols=True, file=sys.stderr)


@cli_entry
def main(argv: Sequence[str] | None = None) -> int:
    cfg, given = parse_eval_args(argv)
    run_dir = evaluate(cfg, given, list(sys.argv[1:] if argv is None else argv))
    print(f"results: {run_dir}")
    return 0


@dataclass
class PreparedRun:
    """A run that passed every check (nothing written yet)."""

    cfg: EvalConfig
    suite: Any
    tasks: list[TaskSpec]
    episodes: list[EpisodeSpec]
    scene_warnings: list[str]
    planner_options: dict[str, Any]  # the planner's resolved Options (defaults filled in)
    executed_steps: int | None  # p: env steps per decision (None: the policy's own)
    policy_server: dict[str, Any] | None = None  # a remote policy's server: url and the metadata it sent


def _resumed_config(cfg: EvalConfig, given: set[str]) -> tuple[EvalConfig, RunStore | None]:
    """With --resume: the run's recorded config (workers, backend, progress from the command line) and its store."""
    if not cfg.resume:
        return cfg, None
    store = RunStore.open(Path(cfg.resume))
    ignored = sorted(given - RESUME_KEEPS)
    if ignored:
        print(f"note: --resume uses the run's recorded config; ignoring {flag_list(ignored)}", file=sys.stderr)
    recorded = store.manifest()["config"]
    keep = {**{f: getattr(cfg, f) for f in EXECUTION_FIELDS}, "progress": cfg.progress, "resume": cfg.resume}
    keep.update({name: getattr(cfg, name) for name in TRANSPORT & given})  # e.g. a restarted policy server
    if cfg.allow_train_scenes:  # a run recorded before checkpoints named their scenes can still be finished
        keep["allow_train_scenes"] = True
    return EvalConfig.from_dict({**recorded, **keep}).validate(), store


def prepare(cfg: EvalConfig) -> PreparedRun:
    """Every check a run needs, before anything is written: names, checkpoints, planner vs policy / world
    model / goals, episode counts, and held-out scenes. Raises HarnessError (one line)."""
    connect(cfg.ray_options())  # --backend ray: Ray installed and the cluster reachable
    suite = SUITES.build(cfg.suite)
    tasks = suite.select(cfg.tasks)
    suite.preflight()  # the simulator can start here (its environment, rendering)
    policy_name, checkpoint = resolve_policy(suite, cfg.policy, cfg.checkpoint)
    planner_cls = PLANNERS.get(cfg.planner)
    wm_name, wm_checkpoint = resolve_world_model(
        suite, cfg.world_model, cfg.wm_checkpoint, bool(getattr(planner_cls, "needs_world_model", False))
    )
    _note_unused(f"planner {cfg.planner}", unused_options(planner_cls, cfg.planner_options()))
    unused_policy = unused_policy_flags(policy_name, cfg.policy_options())
    _note_unused(f"policy {policy_name}", unused_policy)
    planner = planner_cls(options=cfg.planner_options())
    # fails fast on a bad checkpoint or an unreachable policy server
    policy = build_policy(policy_name, checkpoint, cfg.policy_options())
    server = getattr(policy, "server_info", None)
    try:
        check_tasks = getattr(policy, "check_tasks", None)  # a policy may refuse tasks it cannot run
        if check_tasks is not None:
            check_tasks(tasks)
        world_model = build_world_model(wm_name, wm_checkpoint, suite) if wm_name else None
        check_planner_setup(
            planner, policy, world_model, cfg.goal, bool(getattr(suite, "expert", None)), cfg.planner,
            suite_branchable=suite.branchable,
        )  # fmt: skip
    finally:
        close_policy(policy)  # workers build their own
    episodes = make_episodes(tasks, cfg.episodes_per_task, cfg.seed, cfg.first_episode)
    scene_warnings = check_no_training_scenes(
        [e.scene for e in episodes],
        {"policy": checkpoint, "world model": wm_checkpoint},
        cfg.allow_train_scenes,
    )
    for line in scene_warnings:
        print(line, file=sys.stderr)
    workers = cfg.workers if cfg.workers is not None else suite.default_workers
    resolved: dict[str, Any] = {"policy": policy_name, "checkpoint": checkpoint, "workers": workers}
    resolved.update({flag: None for flag in unused_policy})  # noted above: not part of what this run is
    resolved.update({"world_model": wm_name, "wm_checkpoint": wm_checkpoint})
    cfg = EvalConfig.from_dict({**cfg.to_dict(), **resolved})
    options = dataclasses.asdict(planner.options)
    return PreparedRun(cfg, suite, tasks, episodes, scene_warnings, options, planner.executed_steps(), server)


def _note_unused(component: str, unused: list[str]) -> None:
    if unused:
        print(f"note: {component} does not use {flag_list(unused)}", file=sys.stderr)


def _manifest(run: PreparedRun, argv: list[str]) -> dict[str, Any]:
    cfg, suite = run.cfg, run.suite
    return {
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
                for t in run.tasks
            ],
        },
        "seeds": {
            "run_seed": cfg.seed,
            "episode_seed_rule": "SeedSequence([run_seed, task_id, episode])",
            "episodes": {e.key: e.seed for e in run.episodes},
        },
        "scenes": {"split": "eval", "rule": "episode i of a task runs on evaluation scene i"},
        "scene_warnings": run.scene_warnings,
        "planner_options": run.planner_options,
        "policy_server": run.policy_server,
        "asset_notes": suite.asset_notes(),
        "privileged": (
            [f"goal images ({cfg.goal}) come from the scripted expert's demonstration from the same init state"]
            if cfg.goal != "none"
            else []
        )
        + (
            [f"planner {cfg.planner} reads, branches and restores the simulator state and reads its success"]
            if getattr(PLANNERS.get(cfg.planner), "needs_simulator", False)
            else []
        ),
        **provenance(),
        "simulator_packages": suite.simulator_packages(),
        "argv": argv,
    }


def evaluate(cfg: EvalConfig, given: set[str], argv: list[str], prepared: PreparedRun | None = None) -> Path:
    """Run (or resume) one evaluation; prints the summary table and returns the run dir. ``prepared``: the
    result of ``prepare(cfg)`` when the caller already checked this (new, not resumed) run."""
    cfg, store = _resumed_config(cfg, given)
    run = prepared if prepared is not None and store is None else prepare(cfg)
    cfg, suite, tasks, episodes = run.cfg, run.suite, run.tasks, run.episodes
    policy_name = cfg.policy
    if store is None:
        store = RunStore.create(
            Path(cfg.out), suite.name, f"{policy_name}-{cfg.planner}-s{cfg.seed}", _manifest(run, argv)
        )
    else:
        resumes = store.manifest().get("resumes", [])
        store.update_manifest(
            resumes=resumes + [{"git": git_info(), "workers": cfg.workers, "backend": cfg.backend}]
        )

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
        policy_options=cfg.policy_options(),
        world_model=cfg.world_model,
        wm_checkpoint=cfg.wm_checkpoint,
        goal=cfg.goal,
        first_episode=cfg.first_episode,
        episode_timeout_s=cfg.episode_timeout or suite.episode_timeout_s,
    )
    print(
        f"run: {store.run_dir}  suite={suite.name} tasks={len(tasks)} episodes={len(episodes)} "
        f"(to run: {len(todo)}) policy={policy_name} planner={cfg.planner} workers={cfg.workers}"
        + (f" backend={cfg.backend}" if cfg.backend != "local" else ""),
        file=sys.stderr,
    )
    successes = sum(bool(r["success"]) for r in store.episodes())
    finished = len(done)
    bar = _progress(len(episodes), finished, cfg.progress)
    try:
        for record in run_episodes(ctx, todo, cfg.workers, cfg.ray_options()):
            store.append(record)
            finished += 1
            successes += bool(record["success"])
            bar.set_postfix_str(f"success {successes}/{finished} ({successes / finished:.0%})")
            bar.update(1)
    finally:
        bar.close()
        records = store.episodes()
        identity = identity_from_manifest(store.manifest())
        summary = summarize(records, suite.name, suite.headline, expected=len(episodes), config=identity)
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
