"""Building a registered policy with the policy flags it declares.

A policy factory (function or class) may declare ``Options``: a frozen dataclass whose fields are named like
the ``--policy-*`` flags (``harness.protocols.PolicyOptions``), with a ``validate()`` that raises HarnessError.
Such a factory is called as ``factory(checkpoint=..., options=Options(...))``; every other factory as
``factory(checkpoint=...)``. A factory may also declare ``needs_server = True``: it cannot run without an
outside process (a policy server), so generic contract tests leave it to its own tests.
"""

from __future__ import annotations

from typing import Any

from harness.protocols import Policy, PolicyOptions
from harness.registry import POLICIES
from planners.setup import resolve_options, unused_options


def build_policy(name: str, checkpoint: str | None = None, options: PolicyOptions | None = None) -> Policy:
    """The registered policy ``name``; bad names, checkpoints or flags raise one HarnessError line."""
    factory = POLICIES.get(name)
    declared = getattr(factory, "Options", None)
    if declared is None:
        return factory(checkpoint=checkpoint)
    return factory(checkpoint=checkpoint, options=resolve_options(declared, options or PolicyOptions()))


def unused_policy_flags(name: str, options: PolicyOptions) -> list[str]:
    """``--policy-*`` flags given that policy ``name`` does not declare (the caller prints a note)."""
    return unused_options(POLICIES.get(name), options)


def close_policy(policy: Any) -> None:
    """Release what a policy holds open (a server connection), where it has a ``close()``."""
    close = getattr(policy, "close", None)
    if callable(close):
        close()
