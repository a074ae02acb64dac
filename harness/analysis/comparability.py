"""Run identity: the resolved config that decides whether two runs measure the same thing.

``run_identity`` is stored in ``summary.json`` under ``"config"``. Only the fields below count; keys that
appear later in the manifest's config (e.g. ``episode_timeout``, ``videos``, and where episodes ran:
``workers``, ``backend``, ``ray_address``, ``ray_gpus_per_worker``, see ``harness.config.EXECUTION_FIELDS``)
are ignored, so they never make two runs incomparable: a Ray run is the same experiment as a local one.

- STRICT fields must match for a regression check (``harness.regress``) or a pooled comparison
  (``harness.compare --merge``): suite, headline, per-task name and max steps, policy, checkpoint content
  hash, the policy's sampling flags, planner and its options, world model and its checkpoint hash, goal mode,
  out-of-range handling.
- SAMPLE fields (seed, episodes per task, first episode) only choose *which* episodes of the same
  distribution were run; they may differ between a run and its baseline.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Iterable

CHECKPOINT_FILES = ("config.json", "model.safetensors", "stats.json")  # what a checkpoint folder's output depends on
PLANNER_OPTIONS = ("n_samples", "top_k", "subgoal_every")  # raw flags, for manifests without resolved options
POLICY_SAMPLING = ("policy_sample_noise", "policy_sample_noise_kind")  # flags that change how a policy samples
STRICT_FIELDS = (
    "headline",
    "policy",
    "checkpoint",
    "policy_sampling",
    "planner",
    "planner_options",
    "world_model",
    "wm_checkpoint",
    "goal",
    "held_out",
    "out_of_range",
)
SAMPLE_FIELDS = ("seed", "episodes_per_task", "first_episode")


def _hash_files(root: Path, files: Iterable[Path]) -> str:
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        with path.open("rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def checkpoint_hash(path: str | None) -> str | None:
    """sha256 of a checkpoint: a file's bytes, or a folder's config.json + model.safetensors + stats.json
    (every file in it when it has none of those). None when there is no checkpoint or it does not exist."""
    if not path:
        return None
    p = Path(path).expanduser()
    try:
        if not p.is_dir():
            return _hash_files(p.parent, [p]) if p.is_file() else None
        known = [p / name for name in CHECKPOINT_FILES if (p / name).is_file()]
        return _hash_files(p, known or sorted(f for f in p.rglob("*") if f.is_file()))
    except OSError:
        return None  # unreadable: recorded as missing rather than losing the run's summary


def _checkpoint(path: str | None) -> dict[str, Any] | None:
    return None if path is None else {"path": str(path), "sha256": checkpoint_hash(path)}


def run_identity(manifest_config: dict[str, Any], suite: Any, tasks: Iterable[Any]) -> dict[str, Any]:
    """The comparability-relevant part of a run's resolved config (see the module docstring).

    ``suite`` has ``name`` and ``headline``; each task has ``task_id``, ``name`` and ``max_steps`` (the
    suite's limit; ``manifest_config["max_steps"]`` overrides it, as in the run).
    """
    cfg = manifest_config
    override = cfg.get("max_steps")
    return {
        "suite": suite.name,
        "headline": suite.headline,
        "tasks": {str(t.task_id): {"name": t.name, "max_steps": override or t.max_steps} for t in tasks},
        "policy": cfg.get("policy"),
        "checkpoint": _checkpoint(cfg.get("checkpoint")),
        # sampling flags given (None when none was: older runs, whose summaries lack the key, compare equal)
        "policy_sampling": {k: cfg[k] for k in POLICY_SAMPLING if cfg.get(k) is not None} or None,
        "planner": cfg.get("planner"),
        # the planner's resolved Options (defaults filled in) where the manifest has them, else the raw flags
        "planner_options": (
            cfg["planner_options"]
            if cfg.get("planner_options") is not None
            else {k: cfg.get(k) for k in PLANNER_OPTIONS}
        ),
        "world_model": cfg.get("world_model"),
        "wm_checkpoint": _checkpoint(cfg.get("wm_checkpoint")) if cfg.get("world_model") else None,
        "goal": cfg.get("goal"),
        "held_out": not cfg.get("allow_train_scenes", False),  # False: evaluated on training scenes (warned)
        "out_of_range": cfg.get("out_of_range"),
        "seed": cfg.get("seed"),
        "episodes_per_task": cfg.get("episodes_per_task"),
        "first_episode": cfg.get("first_episode"),
    }


def identity_from_manifest(manifest: dict[str, Any]) -> dict[str, Any]:
    """``run_identity`` rebuilt from a run's manifest.json (checkpoints are hashed now)."""
    suite = manifest["suite"]
    tasks = [SimpleNamespace(**t) for t in suite["tasks"]]
    config = {**manifest["config"], "planner_options": manifest.get("planner_options")}
    return run_identity(config, SimpleNamespace(name=suite["name"], headline=suite["headline"]), tasks)


def _short(value: Any) -> str:
    if isinstance(value, dict) and "sha256" in value:
        sha = value["sha256"]
        return f"sha256 {sha[:12]}" if sha else f"{value['path']} (missing)"
    return repr(value)


def _same(field: str, a: Any, b: Any) -> bool:
    if field in ("checkpoint", "wm_checkpoint") and a and b and a.get("sha256") and b.get("sha256"):
        return a["sha256"] == b["sha256"]  # same content at another path is the same checkpoint
    return a == b


def task_mismatches(base: dict[str, Any], run: dict[str, Any]) -> list[str]:
    """Differences in name or max steps of the tasks both identities contain."""
    out = []
    for tid in sorted(set(base["tasks"]) & set(run["tasks"]), key=int):
        for key in ("name", "max_steps"):
            a, b = base["tasks"][tid].get(key), run["tasks"][tid].get(key)
            if a != b:
                out.append(f"task {tid} {key} ({a!r} vs {b!r})")
    return out


def identity_mismatches(
    base: dict[str, Any], run: dict[str, Any], fields: tuple[str, ...] = STRICT_FIELDS
) -> list[str]:
    """One 'field (baseline vs run)' string per differing strict field, then per-task differences."""
    out = [
        f"{f} ({_short(base.get(f))} vs {_short(run.get(f))})" for f in fields if not _same(f, base.get(f), run.get(f))
    ]
    if base.get("suite") != run.get("suite"):
        out.insert(0, f"suite ({base.get('suite')!r} vs {run.get('suite')!r})")
    return out + task_mismatches(base, run)


def sample_differences(base: dict[str, Any], run: dict[str, Any]) -> list[str]:
    """Differences in seed / episode counts: allowed (other samples of the same distribution), reported."""
    return [f"{f} ({base.get(f)!r} vs {run.get(f)!r})" for f in SAMPLE_FIELDS if base.get(f) != run.get(f)]
