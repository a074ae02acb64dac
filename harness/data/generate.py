"""``python -m harness.data.generate``: demonstrations from scripted experts (or MimicGen) into one HDF5 file.

    python -m harness.data.generate --suite libero_object --tasks 0,1 --episodes 50 --out data/obj.hdf5
    python -m harness.data.generate --suite libero_object --tasks 0 --episodes 50 --out data/mg.hdf5 \\
        --mimicgen --sources data/obj.hdf5

Attempt a of task t runs on TRAINING scene first_scene + a (sampled from the task's placement distribution,
never an evaluation scene; see harness.engine.scenes) with seed SeedSequence([seed, t, a]); the
first ``--episodes`` successful attempts per task are kept, written in attempt order, so the same seed
gives the same file whatever the worker count (demos are numbered task by task, in the order of --tasks).
LIBERO attempts run without cameras and only successful ones are rendered, by replaying their saved states.
Every attempt is logged in ``<out>.attempts.jsonl`` (``demo``: the kept demo's part key, else null); re-running
the same command resumes. Kept demos are first written, crash-safely, to ``<out>.parts/``; ``<out>`` is
assembled from them (temp file + atomic rename) when a run completes, so a killed run never leaves it
half-written; re-running the command finishes the parts and assembles ``<out>``.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from harness.engine.atomic_io import append_line_atomic, read_jsonl, write_json_atomic
from harness.config import EXECUTION_FIELDS, BackendConfig, OneLineParser, add_flags
from harness.data.collect import rollout, to_demo
from harness.data.hdf5_io import DemoWriter, open_demo_file
from harness.errors import HarnessError, cli_entry
from harness.engine.manifest import provenance
from harness.engine.episodes import episode_seed
from harness.protocols import EpisodeSpec, TaskSpec
from harness.registry import POLICIES, SUITES
from harness.engine.scenes import EVAL, SPLITS, TRAIN, scenes_of_file
from harness.engine.ray_backend import connect
from harness.engine.workers import crash_message, run_jobs


@dataclass(frozen=True)
class GenContext:
    suite: str
    policy: str  # "expert" or "mimicgen"
    sources: str | None
    image_size: int
    max_steps: int | None
    noise: float


class GenerationRunner:
    """Runs attempts in a worker: state-only rollout, then (on success) rendering from saved states."""

    def __init__(self, ctx: GenContext):
        self.ctx = ctx
        self.suite = SUITES.build(ctx.suite)
        self.source_scenes: list[str] = []  # MimicGen: the scenes of the source demos travel with each new demo
        if ctx.policy == "mimicgen":
            from harness.data.mimicgen import MimicGenPolicy

            self.policy = MimicGenPolicy(ctx.sources, noise=ctx.noise)
            self.source_scenes = scenes_of_file(Path(ctx.sources))
        else:
            self.policy = POLICIES.build(ctx.policy)
        self._envs: dict[tuple[int, bool], Any] = {}

    def _env(self, task: TaskSpec, cameras: bool) -> Any:
        key = (task.task_id, cameras)
        if key not in self._envs:
            for k in [k for k in self._envs if k[0] != task.task_id]:
                self._envs.pop(k).close()
            self._envs[key] = (
                self.suite.make_env(task, cameras=cameras) if self.suite.state_only_env else self.suite.make_env(task)
            )
        return self._envs[key]

    def run(self, job: EpisodeSpec) -> dict[str, Any]:
        task = job.task
        result: dict[str, Any] = {
            "task_id": task.task_id,
            "attempt": job.episode,
            "init_index": job.init_index,
            "scene_split": job.split,
            "seed": job.seed,
            "success": False,
            "error": None,
            "demo": None,
        }
        try:
            env = self._env(task, cameras=not self.suite.state_only_env)
            t0 = time.perf_counter()
            rec = rollout(
                env,
                self.policy,
                job,
                self.ctx.max_steps or task.max_steps,
                stop_on_success=self.suite.headline == "success_once",
                headline=self.suite.headline,
            )
            result.update(
                success=rec["success"], steps=rec["steps"], rollout_s=time.perf_counter() - t0, step_s=rec["step_s"]
            )
            if rec["success"]:
                if self.suite.state_only_env:
                    renderer = self._env(task, cameras=True)
                    renderer.reset(job.init_index, job.seed, job.split)  # same scene (fixtures) as the rollout
                    t1 = time.perf_counter()
                    rec["obs"] = [renderer.obs_from_state(s) for s in rec["states"]]
                    result["render_s"] = time.perf_counter() - t1
                result["demo"] = to_demo(
                    rec, job, self.suite.quat_order, self.ctx.image_size, self.suite.gripper_action_index
                )
                if self.source_scenes:  # a MimicGen demo also depends on the scenes of its source demos
                    result["demo"].attrs["source_scenes"] = json.dumps(self.source_scenes)
        except HarnessError:
            raise
        except Exception as exc:  # noqa: BLE001 - a failed attempt is recorded, generation goes on
            result["error"] = f"{type(exc).__name__}: {exc}"
        return result

    def close(self) -> None:
        for env in self._envs.values():
            env.close()
        self._envs.clear()


def _crashed(job: EpisodeSpec, code: int | None) -> dict[str, Any]:
    return {
        "task_id": job.task.task_id,
        "attempt": job.episode,
        "init_index": job.init_index,
        "scene_split": job.split,
        "seed": job.seed,
        "success": False,
        "error": crash_message(code),
        "demo": None,
    }


def _part_key(position: int, task_id: int, k: int) -> str:
    """Part key of the k-th kept demo of the task at ``position`` in --tasks (orders the assembled file)."""
    return f"p{position:03d}_task{task_id:03d}_{k:05d}"


def parse_args(argv: Sequence[str] | None) -> Any:
    p = OneLineParser(prog="python -m harness.data.generate", description=__doc__.split("\n")[0])
    p.add_argument("--suite", required=True)
    p.add_argument("--tasks", default=None, help="comma list of task indices or names (default: all)")
    p.add_argument("--episodes", type=int, default=50, help="successful demos per task")
    p.add_argument("--out", required=True, help="output HDF5 file (appended to / resumed if it exists)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--max-attempts", type=int, default=None, help="per task (default: 3 x --episodes)")
    p.add_argument("--image-size", type=int, default=128, help="stored images are resized to SIZE x SIZE")
    p.add_argument("--max-steps", type=int, default=None)
    p.add_argument("--first-scene", type=int, default=0, help="attempt a runs on scene FIRST_SCENE + a")
    p.add_argument(
        "--scenes",
        default=TRAIN,
        choices=SPLITS,
        help="train (default): sampled training scenes; eval: the fixed evaluation scenes (anything trained on "
        "such data is refused by harness.eval on those scenes)",
    )
    p.add_argument("--mimicgen", action="store_true", help="generate with MimicGen from --sources demos")
    p.add_argument("--sources", default=None, help="source demo HDF5 for --mimicgen")
    p.add_argument("--noise", type=float, default=0.05, help="MimicGen action noise std (action units)")
    p.add_argument("--action-free", action="store_true", help="write clip_i groups (frames + instruction, no actions)")
    p.add_argument("--no-progress", action="store_true")
    add_flags(p, BackendConfig)
    args = p.parse_args(argv)
    if args.episodes < 1 or args.workers < 0 or args.image_size < 16 or args.seed < 0 or args.first_scene < 0:
        raise HarnessError("--episodes must be >= 1, --workers >= 0, --image-size >= 16, --seed, --first-scene >= 0")
    if args.mimicgen and not args.sources:
        raise HarnessError("--mimicgen needs --sources FILE (source demos)")
    BackendConfig.from_args(args).validate_backend(args.workers)
    if args.sources:
        open_demo_file(Path(args.sources))  # fail fast on a missing / foreign source file
    return args


@cli_entry
def main(argv: Sequence[str] | None = None) -> int:
    from tqdm import tqdm

    args = parse_args(argv)
    ray = BackendConfig.from_args(args).ray_options()
    connect(ray)  # --backend ray: Ray installed and the cluster reachable, before anything is written
    suite = SUITES.build(args.suite)
    tasks = suite.select(args.tasks)
    suite.preflight()
    if not args.mimicgen and suite.expert:  # every task has a scripted expert, before anything is written
        POLICIES.build("expert").check_tasks(tasks)
    if args.scenes == TRAIN and not suite.training_scenes:
        raise HarnessError(f"suite {suite.name} declares no training scenes; demonstrations need them")
    out = Path(args.out)
    log_path = out.with_name(out.name + ".attempts.jsonl")
    ctx = GenContext(
        args.suite, "mimicgen" if args.mimicgen else "expert", args.sources, args.image_size, args.max_steps, args.noise
    )
    manifest_path = out.with_name(out.name + ".manifest.json")
    if out.exists() and not manifest_path.exists():
        raise HarnessError(
            f"{out} exists and was not made by this tool (no {manifest_path.name}); choose another --out"
        )
    try:
        previous = json.loads(manifest_path.read_text()) if manifest_path.exists() else None
    except (OSError, json.JSONDecodeError) as exc:
        raise HarnessError(f"cannot read {manifest_path}: {exc}") from exc
    skip = {*EXECUTION_FIELDS, "no_progress"}  # how attempts run, not what they produce
    config = {k: v for k, v in vars(args).items() if k not in skip}
    if previous and previous["config"] != config:
        raise HarnessError(f"{out} was generated with a different config; use another --out (or delete it)")
    out.parent.mkdir(parents=True, exist_ok=True)
    if previous is None:
        write_json_atomic(
            manifest_path,
            {
                "kind": "generate",
                "config": config,
                "context": asdict(ctx),
                **provenance(),
                "simulator_packages": suite.simulator_packages(),
                "asset_notes": suite.asset_notes(),
                "seed_rule": "SeedSequence([seed, task_id, attempt])",
            },
        )
    instruction = tasks[0].instruction if len(tasks) == 1 else "; ".join(t.instruction for t in tasks)
    writer = DemoWriter(
        out,
        instruction,
        {"suite": suite.name, "tasks": [t.name for t in tasks], "generator": ctx.policy},
        prefix="clip" if args.action_free else "demo",
        autocommit=False,
    )
    log = read_jsonl(log_path, repair=True)
    writer.prune({r["demo"] for r in log if r.get("demo")})  # parts of a run killed before it logged them
    position = {t.task_id: i for i, t in enumerate(tasks)}
    done = {(r["task_id"], r["attempt"]) for r in log}
    kept = {t.task_id: sum(1 for r in log if r["task_id"] == t.task_id and r.get("demo")) for t in tasks}
    tried = {t.task_id: sum(1 for r in log if r["task_id"] == t.task_id) for t in tasks}
    max_attempts = args.max_attempts or 3 * args.episodes
    if args.scenes == EVAL:
        print("WARNING: --scenes eval: demonstrations on evaluation scenes; whatever is trained on them is "
              "refused by harness.eval on those scenes", file=sys.stderr)
    bar = tqdm(
        total=args.episodes * len(tasks),
        initial=sum(min(k, args.episodes) for k in kept.values()),
        unit="demo",
        disable=args.no_progress,
        file=sys.stderr,
        dynamic_ncols=True,
    )
    timing = {"steps": 0, "step_s": 0.0, "frames": 0, "render_s": 0.0}
    while True:
        jobs: list[EpisodeSpec] = []
        for task in tasks:
            need = args.episodes - kept[task.task_id]
            if need <= 0:
                continue
            start = tried[task.task_id]
            ok = kept[task.task_id]
            rate = ok / start if start and ok else (1.0 if not start else 0.2)  # observed yield so far
            batch = max(int(np.ceil(need / rate)), args.workers or 1)
            last = min(max_attempts, start + batch)
            if args.scenes == EVAL:  # evaluation scenes are finite and never repeat
                last = min(last, task.num_init_states - args.first_scene)
            for a in range(start, last):
                if (task.task_id, a) not in done:
                    jobs.append(
                        EpisodeSpec(
                            index=len(jobs),
                            task=task,
                            episode=a,
                            init_index=args.first_scene + a,
                            seed=episode_seed(args.seed, task.task_id, a),
                            split=args.scenes,
                        )
                    )
        if not jobs:
            break
        buffered: dict[tuple[int, int], dict[str, Any]] = {}
        order = [(j.task.task_id, j.episode) for j in jobs]
        cursor = 0
        for result in run_jobs(partial(GenerationRunner, ctx), jobs, args.workers, _crashed, ray=ray):
            buffered[(result["task_id"], result["attempt"])] = result
            while cursor < len(order) and order[cursor] in buffered:  # write in attempt order
                r = buffered.pop(order[cursor])
                cursor += 1
                tid = r["task_id"]
                tried[tid] += 1
                keep = r["success"] and kept[tid] < args.episodes and r["demo"] is not None
                if keep and args.action_free:  # latent-action pretraining data: frames + instruction only
                    r["demo"].actions = r["demo"].states = r["demo"].datagen = None
                name = writer.append(r["demo"], _part_key(position[tid], tid, kept[tid])) if keep else None
                if keep:
                    kept[tid] += 1
                    bar.update(1)
                timing["steps"] += r.get("steps", 0)
                timing["step_s"] += r.get("step_s", 0.0)
                if r.get("render_s"):
                    timing["frames"] += r["steps"]
                    timing["render_s"] += r["render_s"]
                append_line_atomic(log_path, {k: v for k, v in r.items() if k != "demo"} | {"demo": name})
                bar.set_postfix_str(f"yield {sum(kept.values())}/{sum(tried.values())}")
        if all(kept[t.task_id] >= args.episodes or tried[t.task_id] >= max_attempts for t in tasks):
            break
    bar.close()
    writer.commit()  # <out> := all kept demos (atomically replaced)
    log = read_jsonl(log_path)
    print(f"{'task':<60} {'kept':>5} {'attempts':>8} {'yield':>6}")
    for task in tasks:
        rs = [r for r in log if r["task_id"] == task.task_id]
        ok = sum(r["success"] for r in rs)
        print(f"{task.task_id}: {task.name[:56]:<57} {kept[task.task_id]:>5} {len(rs):>8} {ok / max(1, len(rs)):>6.0%}")
    if timing["step_s"]:
        print(
            f"rollout: {timing['steps'] / timing['step_s']:.1f} env steps/s"
            + (" (no cameras)" if suite.state_only_env else " (rendering)")
            + (
                f" | rendering saved states: {timing['frames'] / timing['render_s']:.1f} frames/s"
                if timing["render_s"]
                else ""
            )
        )
    short = [t.name for t in tasks if kept[t.task_id] < args.episodes]
    if short:
        print(
            f"note: fewer than {args.episodes} demos for {', '.join(short)} after {max_attempts} attempts",
            file=sys.stderr,
        )
    print(f"demos: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
