"""Which policy, world model (and their checkpoints) a run uses when the command line does not say."""

from __future__ import annotations

from typing import Any

from harness.engine.manifest import PROJECT_ROOT
from harness.errors import HarnessError


def resolve_policy(suite: Any, policy: str | None, checkpoint: str | None) -> tuple[str, str | None]:
    """(policy name, checkpoint): ``--policy`` wins; otherwise the suite's default policy with its shipped
    checkpoint (a folder inside the repository), unless ``--checkpoint`` names another one."""
    if policy is not None:
        return policy, checkpoint
    shipped = getattr(suite, "default_checkpoint", None)
    if checkpoint is None and shipped is not None:
        checkpoint = str(PROJECT_ROOT / shipped)
    return suite.default_policy, checkpoint


def resolve_world_model(
    suite: Any, world_model: str | None, wm_checkpoint: str | None, wanted: bool
) -> tuple[str | None, str | None]:
    """(world model name, checkpoint) from ``--world-model`` / ``--wm-checkpoint`` and the suite's shipped
    ``world_models``: a name without a checkpoint takes the one shipped for it; a checkpoint without a name is
    the world model its ``config.json`` names; no name takes the suite's first shipped world model when
    ``wanted`` (a planner that needs one), else none. HarnessError (one line) when a name has no checkpoint to
    use or a checkpoint's name cannot be read."""
    shipped = dict(getattr(suite, "world_models", ()) or ())
    if world_model is None:
        if wm_checkpoint is not None:
            return _named_by_checkpoint(wm_checkpoint), wm_checkpoint
        if not wanted or not shipped:
            return None, None
        world_model = next(iter(shipped))
    if wm_checkpoint is None:
        if world_model not in shipped:
            ships = ", ".join(shipped) or "none"
            raise HarnessError(
                f"--world-model {world_model} needs --wm-checkpoint DIR "
                f"(suite {suite.name} ships world models: {ships})"
            )
        wm_checkpoint = str(PROJECT_ROOT / shipped[world_model])
    return world_model, wm_checkpoint


def _named_by_checkpoint(folder: str) -> str:
    """The world model a checkpoint folder was trained as (``name`` in its ``config.json``)."""
    from harness.nn.checkpoint import read_checkpoint_meta

    try:
        meta = read_checkpoint_meta(folder, component="world_model")
    except HarnessError as exc:
        raise HarnessError(f"--wm-checkpoint {folder} names no world model ({exc}); add --world-model NAME") from exc
    if not meta.get("name"):
        raise HarnessError(f"--wm-checkpoint {folder} names no world model; add --world-model NAME")
    return str(meta["name"])
