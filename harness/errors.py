"""Errors the harness reports to users as one clear line (never a traceback)."""

from __future__ import annotations

import functools
import sys
from typing import Callable, TypeVar

F = TypeVar("F", bound=Callable[..., int])


class HarnessError(Exception):
    """A user-facing, fatal error: printed as one line, exit code 2."""


class EpisodeError(Exception):
    """An error confined to one episode (bad action, simulator fault): recorded, run continues."""


def cli_entry(main: F) -> F:
    """Wrap a CLI ``main`` so HarnessError / KeyboardInterrupt become one line + non-zero exit."""

    @functools.wraps(main)
    def wrapper(*args, **kwargs):  # type: ignore[no-untyped-def]
        try:
            return main(*args, **kwargs)
        except HarnessError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            print("error: interrupted (finished episodes are kept; continue with --resume RUN_DIR)", file=sys.stderr)
            return 130

    return wrapper  # type: ignore[return-value]
