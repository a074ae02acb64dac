"""``python -m harness.train``: one training CLI for every trainable component.

    python -m harness.train --component policy --name diffusion --data demos.hdf5 [more.hdf5] --out DIR
        [--steps N] [--batch-size B] [--lr LR] [--seed S] [--device cpu|cuda] [--set key=value ...] [--resume]

DIR becomes a checkpoint folder (config.json, model.safetensors, stats.json) plus train_state.pt (resume),
train_log.jsonl, loss.png and train_summary.json. ``--set`` overrides a field of the component's config
dataclass (``--list-fields`` prints them). ``--resume`` continues DIR from its last save with its recorded
configs (``--steps`` may raise the total; the LR schedule keeps its recorded length ``schedule_steps``, and
steps past it run at ``lr * min_lr_ratio``). config.json and train_manifest.json keep the first run's
``command`` and list each resume's command under ``resumes``.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path
from typing import Any, Sequence

from harness.engine.atomic_io import write_json_atomic
from harness.config import OneLineParser
from harness.errors import HarnessError, cli_entry
from harness.engine.manifest import provenance
from harness.nn.checkpoint import CONFIG_FILE
from harness.policy.chunk_policy import config_from_dict, config_to_dict
from harness.nn.text import resolve_text_encoder
from harness.nn.training import STATE_FILE, TrainConfig, train
from harness.registry import TRAINABLES
from harness.engine.scenes import training_scenes


def _parse_value(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def apply_overrides(cfg: Any, pairs: Sequence[str]) -> Any:
    """``key=value`` strings (JSON values; bare words are strings) -> a new config dataclass."""
    values = config_to_dict(cfg)
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep:
            raise HarnessError(f"--set expects key=value, got {pair!r}")
        if key not in values:
            raise HarnessError(f"--set {key}: unknown field; known: {', '.join(values)}")
        value = _parse_value(raw)
        default = values[key]
        if isinstance(default, list) and not isinstance(value, list):
            value = [value] if not isinstance(value, str) else [v for v in value.split(",") if v]
        if isinstance(default, (int, float)) and not isinstance(default, bool):
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                raise HarnessError(f"--set {key}: expected a number, got {raw!r}")
        values[key] = value
    return config_from_dict(type(cfg), values)


def _parser() -> OneLineParser:
    p = OneLineParser(prog="python -m harness.train", description=__doc__.split("\n")[0])
    p.add_argument("--component", default="policy", help="policy | world_model")
    p.add_argument("--name", required=True, help="registered trainable name (e.g. diffusion, baku)")
    p.add_argument("--data", nargs="+", default=[], help="demo HDF5 file(s)")
    p.add_argument("--out", help="checkpoint folder to create (or continue with --resume)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--resume", action="store_true", help="continue OUT from its last checkpoint")
    p.add_argument("--list-fields", action="store_true", help="print the component's config fields and exit")
    p.add_argument("--no-progress", dest="progress", action="store_false")
    for f in dataclasses.fields(TrainConfig):
        kind = type(f.default)
        p.add_argument("--" + f.name.replace("_", "-"), type=kind, default=None, help=f"default {f.default}")
    return p


def _fresh_setup(spec: Any, args: Any, out: Path, given: dict[str, Any]) -> tuple[Any, TrainConfig, list[Path]]:
    """(model config, train config with its schedule length resolved, data files) of a new run."""
    if (out / CONFIG_FILE).exists():
        raise HarnessError(f"{out} already holds a checkpoint; pass --resume to continue it or choose a new --out")
    if not args.data:
        raise HarnessError("--data FILE [FILE ...] is required")
    paths = [Path(p) for p in args.data]
    for path in paths:
        if not path.is_file():
            raise HarnessError(f"--data: file not found: {path}")
    model_cfg = apply_overrides(spec.config_cls(), args.overrides)
    if hasattr(model_cfg, "text_encoder"):
        model_cfg = dataclasses.replace(model_cfg, text_encoder=resolve_text_encoder(model_cfg.text_encoder))
    return model_cfg, TrainConfig(**given).resolved(), paths


def _resume_setup(
    spec: Any, args: Any, out: Path, given: dict[str, Any], command: list[str]
) -> tuple[Any, TrainConfig, list[Path], dict[str, Any]]:
    """(model config, train config, data files, command history) recorded in OUT; only --steps may change.
    The schedule length is the recorded one (checkpoints from before ``schedule_steps``: their recorded steps)."""
    key = f"{args.component}/{args.name}"
    if not (out / CONFIG_FILE).exists() or not (out / STATE_FILE).exists():
        raise HarnessError(f"--resume: {out} has no checkpoint to continue ({CONFIG_FILE} + {STATE_FILE})")
    meta = json.loads((out / CONFIG_FILE).read_text())
    if meta.get("component") != args.component or meta.get("name") != args.name:
        raise HarnessError(f"--resume: {out} holds {meta.get('component')}/{meta.get('name')}, not {key}")
    model_cfg = config_from_dict(spec.config_cls, meta["config"])
    tcfg = TrainConfig(**meta["train"]).resolved()
    tcfg = dataclasses.replace(
        tcfg, steps=given.get("steps", tcfg.steps), num_workers=given.get("num_workers", tcfg.num_workers)
    )  # the worker count does not change the batches
    if args.overrides or set(given) - {"steps", "num_workers"}:
        msg = "note: --resume uses the recorded configs; only --steps and --num-workers are taken from the command line"
        print(msg, file=sys.stderr)
    if tcfg.steps > tcfg.schedule_steps:
        print(
            f"note: --steps {tcfg.steps} runs past the recorded LR schedule ({tcfg.schedule_steps} steps); "
            f"later steps use lr x min_lr_ratio = {tcfg.lr * tcfg.min_lr_ratio:g}",
            file=sys.stderr,
        )
    history = {"command": meta.get("command", []), "resumes": [*meta.get("resumes", []), command]}
    return model_cfg, tcfg, [Path(p) for p in meta["data"]["files"]], history


@cli_entry
def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    key = f"{args.component}/{args.name}"
    if key not in TRAINABLES:
        raise HarnessError(f"unknown trainable {key!r}; choose from: {', '.join(TRAINABLES.names())}")
    spec = TRAINABLES.get(key)()
    if args.list_fields:
        for name, value in config_to_dict(spec.config_cls()).items():
            print(f"{name} = {json.dumps(value)}")
        return 0
    if not args.out:
        raise HarnessError("--out DIR is required")
    out = Path(args.out)
    given = {
        f.name: getattr(args, f.name) for f in dataclasses.fields(TrainConfig) if getattr(args, f.name) is not None
    }
    command = ["python", "-m", "harness.train", *(argv if argv is not None else sys.argv[1:])]
    history: dict[str, Any] = {"command": command}
    if args.resume:
        model_cfg, tcfg, paths, history = _resume_setup(spec, args, out, given, command)
    else:
        model_cfg, tcfg, paths = _fresh_setup(spec, args, out, given)
    tcfg.validate()
    validate = getattr(model_cfg, "validate", None)
    if callable(validate):
        validate()
    data = spec.make_data(model_cfg, paths, tcfg.seed, tcfg.val_fraction)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise HarnessError(f"cannot create --out {out}: {exc}") from exc
    meta = {
        "component": args.component,
        "name": args.name,
        "config": config_to_dict(model_cfg),
        "data": {
            **data.info,
            "files": [str(p.resolve()) for p in paths],
            "scenes": training_scenes(paths, model_cfg),  # checked by harness.eval against evaluated scenes
        },
        "train": dataclasses.asdict(tcfg),
        **provenance(),
        **history,
    }
    write_json_atomic(out / "train_manifest.json", meta)
    n_val = len(data.val) if data.val is not None else 0
    print(
        f"training {key}: {len(data.train)} train / {n_val} validation samples, "
        f"{tcfg.steps} steps, batch {tcfg.batch_size}, device {tcfg.device}",
        file=sys.stderr,
    )
    summary = train(spec, model_cfg, data, tcfg, out, meta, args.resume, args.progress)
    print(json.dumps(summary))
    print(f"checkpoint: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
