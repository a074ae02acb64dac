"""Which policy (and checkpoint) a run uses when the command line does not say."""

from __future__ import annotations

from typing import Any

from harness.engine.manifest import PROJECT_ROOT


def resolve_policy(suite: Any, policy: str | None, checkpoint: str | None) -> tuple[str, str | None]:
    """(policy name, checkpoint): ``--policy`` wins; otherwise the suite's default policy with its shipped
    checkpoint (a folder inside the repository), unless ``--checkpoint`` names another one."""
    if policy is not None:
        return policy, checkpoint
    shipped = getattr(suite, "default_checkpoint", None)
    if checkpoint is None and shipped is not None:
        checkpoint = str(PROJECT_ROOT / shipped)
    return suite.default_policy, checkpoint
