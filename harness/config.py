"""Evaluation config: frozen dataclasses, parsed from the CLI with the documented flag names."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from dataclasses import dataclass, field
from typing import Any, Sequence

from harness.engine.ray_backend import RayOptions
from harness.errors import HarnessError
from planners.goals import GOAL_MODES
from harness.protocols import PlannerOptions, PolicyOptions

BACKENDS = ("local", "ray")
# Flags that choose where and how fast episodes run, never what they compute: excluded from the run identity
# (harness.analysis.comparability), free to change on --resume, ignored by the resume check of generate.
EXECUTION_FIELDS = ("workers", "backend", "ray_address", "ray_gpus_per_worker")


@dataclass(frozen=True)
class BackendConfig:
    """Where the workers run: local processes (default) or actors of a Ray cluster."""

    backend: str = field(default="local", metadata={"help": "local: worker processes here; ray: Ray actors"})
    ray_address: str | None = field(
        default=None,
        metadata={"help": "Ray cluster HOST:PORT for --backend ray (default: $RAY_ADDRESS, else a new local Ray)"},
    )
    ray_gpus_per_worker: float = field(
        default=0.0, metadata={"help": "GPUs each Ray worker (actor) reserves for its policy (default: 0)"}
    )

    def validate_backend(self, workers: int | None) -> None:
        if self.backend not in BACKENDS:
            raise HarnessError(f"--backend must be local or ray, got {self.backend!r}")
        if self.backend == "ray" and workers == 0:
            raise HarnessError("--backend ray needs --workers >= 1 (the number of Ray actors)")
        if self.backend != "ray" and (self.ray_address is not None or self.ray_gpus_per_worker):
            raise HarnessError("--ray-address / --ray-gpus-per-worker need --backend ray")
        if self.ray_gpus_per_worker < 0:
            raise HarnessError(f"--ray-gpus-per-worker must be >= 0, got {self.ray_gpus_per_worker}")

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> "BackendConfig":
        """The backend flags of a parser that has them (``add_flags(parser, BackendConfig)``)."""
        return cls(**{f.name: getattr(args, f.name) for f in dataclasses.fields(cls)})

    def ray_options(self) -> RayOptions | None:
        """None for local workers."""
        return RayOptions(self.ray_address, self.ray_gpus_per_worker) if self.backend == "ray" else None


@dataclass(frozen=True)
class EvalConfig(BackendConfig):
    """Everything that determines an evaluation run (written resolved into manifest.json)."""

    suite: str = field(default="libero_long", metadata={"help": "suite name (python -m harness.suites)"})
    tasks: str | None = field(default=None, metadata={"help": "comma list of task indices or names (default: all)"})
    episodes_per_task: int | None = field(
        default=None,
        metadata={"help": "episodes per task; episode i runs on evaluation scene i (default: every scene of the task)"},
    )
    first_episode: int = field(default=0, metadata={"help": "number of the first episode (a later batch of new ones)"})
    policy: str | None = field(default=None, metadata={"help": "policy name (default: the suite's default)"})
    checkpoint: str | None = field(default=None, metadata={"help": "policy checkpoint dir / file"})
    policy_url: str | None = field(
        default=None, metadata={"help": "--policy remote: the policy server, ws://HOST:PORT"}
    )
    policy_adapter: str | None = field(
        default=None,
        metadata={"help": "--policy remote: observation format sent, harness | openpi_libero (default harness)"},
    )
    policy_timeout: float | None = field(
        default=None, metadata={"help": "--policy remote: seconds to wait for each reply (default 120)"}
    )
    policy_connect_timeout: float | None = field(
        default=None, metadata={"help": "--policy remote: seconds to connect to the server (default 10)"}
    )
    policy_execute_steps: int | None = field(
        default=None,
        metadata={
            "help": "--policy remote: env steps executed per chunk (default: the server's metadata, else the "
            "adapter's, else the whole chunk)"
        },
    )
    policy_sample_noise: float | None = field(
        default=None,
        metadata={
            "help": "std of the sampling noise a deterministic chunk policy (BAKU) adds around its chunk when a "
            "planner draws N samples, in normalised action units (default: the checkpoint's)"
        },
    )
    policy_sample_noise_kind: str | None = field(
        default=None,
        metadata={
            "help": "step: an independent draw per step of the chunk | chunk: one draw per sample, held over its "
            "whole chunk, so samples move apart instead of jittering (default: the checkpoint's, else step)"
        },
    )
    planner: str = field(default="direct", metadata={"help": "planner name"})
    world_model: str | None = field(default=None, metadata={"help": "world model for planners that use one"})
    wm_checkpoint: str | None = field(default=None, metadata={"help": "world-model checkpoint dir"})
    n_samples: int | None = field(
        default=None, metadata={"help": "N: candidate chunks per decision (vla_mean, wm_topk; default 64)"}
    )
    top_k: int | None = field(default=None, metadata={"help": "k: best candidates averaged (wm_topk; default 5)"})
    subgoal_every: int | None = field(
        default=None,
        metadata={"help": "p: env steps executed per decision = spacing of subgoal images (sampling planners)"},
    )
    goal: str = field(
        default="none",
        metadata={"help": "none | subgoals | final: goal images from the scripted expert's demo (privileged)"},
    )
    workers: int | None = field(
        default=None, metadata={"help": "worker processes, 0: in this process (default: the suite's measured best)"}
    )
    seed: int = field(default=0, metadata={"help": "run seed; episode seeds derive from (seed, task, episode)"})
    max_steps: int | None = field(default=None, metadata={"help": "override the suite's step limit"})
    videos: int = field(default=1, metadata={"help": "episodes per task recorded as mp4"})
    episode_timeout: float | None = field(
        default=None,
        metadata={
            "help": "wall-clock seconds per episode; a slower episode's worker is killed and the episode is an "
            "error (default: the suite's; needs --workers >= 1)"
        },
    )
    out: str = field(default="results/runs", metadata={"help": "output root; runs go to OUT/<suite>/<run id>"})
    resume: str | None = field(default=None, metadata={"help": "finish an interrupted run in RUN_DIR"})
    out_of_range: str = field(
        default="clip", metadata={"help": "out-of-bound actions: clip (counted) or fail the episode"}
    )
    progress: bool = field(default=True, metadata={"help": "show a progress bar"})
    allow_train_scenes: bool = field(
        default=False,
        metadata={"help": "run even if an evaluated scene was a training scene of a checkpoint (warned, recorded)"},
    )

    def validate(self) -> "EvalConfig":
        if self.episodes_per_task is not None and self.episodes_per_task < 1:
            raise HarnessError(f"--episodes-per-task must be >= 1, got {self.episodes_per_task}")
        if self.workers is not None and self.workers < 0:
            raise HarnessError(f"--workers must be >= 0, got {self.workers}")
        if self.max_steps is not None and self.max_steps < 1:
            raise HarnessError(f"--max-steps must be >= 1, got {self.max_steps}")
        if self.first_episode < 0:
            raise HarnessError(f"--first-episode must be >= 0, got {self.first_episode}")
        if self.seed < 0:
            raise HarnessError(f"--seed must be >= 0, got {self.seed}")
        if self.videos < 0:
            raise HarnessError(f"--videos must be >= 0, got {self.videos}")
        self._validate_timeout()
        self.validate_backend(self.workers)
        for name in ("n_samples", "top_k", "subgoal_every"):  # the planner checks how they fit together
            value = getattr(self, name)
            if value is not None and value < 1:
                raise HarnessError(f"--{name.replace('_', '-')} must be >= 1, got {value}")
        if self.goal not in GOAL_MODES:
            raise HarnessError(f"--goal must be none, subgoals or final, got {self.goal!r}")
        if self.out_of_range not in ("clip", "fail"):
            raise HarnessError(f"--out-of-range must be clip or fail, got {self.out_of_range!r}")
        return self

    def _validate_timeout(self) -> None:
        """An in-process episode (``--workers 0``) cannot be killed safely, so a timeout there is refused."""
        if self.episode_timeout is None:
            return
        if not self.episode_timeout > 0:
            raise HarnessError(f"--episode-timeout must be > 0 seconds, got {self.episode_timeout}")
        if self.workers == 0:
            raise HarnessError("--episode-timeout needs --workers >= 1 (an in-process episode cannot be killed)")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def planner_options(self) -> PlannerOptions:
        return PlannerOptions(self.n_samples, self.top_k, self.subgoal_every)

    def policy_options(self) -> PolicyOptions:
        names = {f.name for f in dataclasses.fields(PolicyOptions)}
        return PolicyOptions(**{k: v for k, v in self.to_dict().items() if k in names})

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "EvalConfig":
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


class OneLineParser(argparse.ArgumentParser):
    """argparse that reports bad input as one line (no usage block) and exits 2.

    Flags must be spelt in full (``allow_abbrev=False``): a prefix such as ``--episodes`` for
    ``--episodes-per-task`` is an error, not a silent match that ``--resume`` would then ignore.
    """

    def __init__(self, *args: Any, **kwargs: Any):
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> None:  # type: ignore[override]
        print(f"error: {message} (see --help)", file=sys.stderr)
        sys.exit(2)


def _arg_type(f: dataclasses.Field) -> Any:
    text = str(f.type)
    if "float" in text:
        return float
    if "int" in text:
        return int
    return str


def parser_for(cls: type, prog: str, description: str, skip: frozenset[str] = frozenset()) -> OneLineParser:
    """An argparse parser with one ``--kebab-name`` flag per dataclass field (except those in ``skip``)."""
    parser = OneLineParser(prog=prog, description=description)
    add_flags(parser, cls, skip)
    return parser


def add_flags(parser: argparse.ArgumentParser, cls: type, skip: frozenset[str] = frozenset()) -> None:
    """One ``--kebab-name`` flag per field of the dataclass ``cls`` (except those in ``skip``)."""
    for f in dataclasses.fields(cls):
        if f.name in skip:
            continue
        flag = "--" + f.name.replace("_", "-")
        help_text = f.metadata.get("help", "")
        if f.type in (bool, "bool"):
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=f.default, help=help_text)
        else:
            shown = "" if f.default is None or "default" in help_text else f" (default: {f.default})"
            parser.add_argument(flag, type=_arg_type(f), default=f.default, help=help_text + shown)


def parse_eval_args(argv: Sequence[str] | None = None) -> tuple[EvalConfig, set[str]]:
    """Parse CLI args; returns the config and the set of field names given explicitly."""
    parser = parser_for(EvalConfig, "python -m harness.eval", "Evaluate a policy (+ planner) on a suite.")
    tokens = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(tokens)
    return EvalConfig(**vars(args)).validate(), given_fields(parser, tokens)


def flag_list(fields: Sequence[str]) -> str:
    """Config field names as the command-line flags a message names: ``["n_samples"]`` -> ``--n-samples``."""
    return ", ".join("--" + name.replace("_", "-") for name in fields)


def given_fields(parser: argparse.ArgumentParser, tokens: Sequence[str]) -> set[str]:
    """Destinations of the flags that appear in ``tokens`` (``--n-samples 8`` or ``--n-samples=8``)."""
    flags = {t.split("=", 1)[0] for t in tokens if t.startswith("--")}
    return {a.dest for a in parser._actions if flags.intersection(a.option_strings)}
