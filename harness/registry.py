"""One small generic registry per component kind (policies, planners, world models, suites).

Entries are registered with a decorator; duplicate names raise. Built-in components are discovered, not
listed: the first time a registry is queried it imports every module of its packages (``policies/*``,
``planners/*``, ``world_models/*``, ``tasks/*/suites.py``), so adding a component touches only its own
folder. ``import harness`` stays cheap. Extra modules named in the ``HARNESS_PLUGINS`` environment variable
(comma list) are imported too, in every worker process, so user components register without packaging;
installed packages can use the entry-point groups below.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import pkgutil
from importlib.metadata import entry_points
from typing import Callable, Generic, Iterator, TypeVar

from harness.errors import HarnessError

T = TypeVar("T")


def discover(package: str, submodule: str | None = None) -> tuple[str, ...]:
    """Modules directly inside ``package`` (names not starting with "_"), or with ``submodule`` the module
    ``package.<sub>.<submodule>`` of every subpackage that has one (``tasks.libero.suites``)."""
    root = importlib.import_module(package)
    found = []
    for info in pkgutil.iter_modules(root.__path__):
        if info.name.startswith("_"):
            continue
        if submodule is None:
            found.append(f"{package}.{info.name}")
        elif info.ispkg and importlib.util.find_spec(f"{package}.{info.name}.{submodule}") is not None:
            found.append(f"{package}.{info.name}.{submodule}")
    return tuple(sorted(found))


class Registry(Generic[T]):
    """Name -> factory mapping for one kind of component.

    Args:
        kind: human name used in error messages ("policy", "suite", ...).
        builtin_modules: modules whose import registers the built-in entries, or a callable returning them
            (called on first use: discovery).
        entry_point_group: optional ``importlib.metadata`` group for third-party plugins.
    """

    def __init__(
        self,
        kind: str,
        builtin_modules: tuple[str, ...] | Callable[[], tuple[str, ...]] = (),
        entry_point_group: str | None = None,
    ):
        self.kind = kind
        self._builtin_modules = builtin_modules
        self._entry_point_group = entry_point_group
        self._factories: dict[str, Callable[..., T]] = {}
        self._loaded = False

    def register(self, name: str) -> Callable[[Callable[..., T]], Callable[..., T]]:
        """Decorator registering ``factory`` under ``name``; raises on duplicates."""

        def decorator(factory: Callable[..., T]) -> Callable[..., T]:
            if name in self._factories and self._factories[name] is not factory:
                raise ValueError(f"duplicate {self.kind} name {name!r}")
            self._factories[name] = factory
            return factory

        return decorator

    def _load(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        plugins = [m.strip() for m in os.environ.get("HARNESS_PLUGINS", "").split(",") if m.strip()]
        builtins = self._builtin_modules() if callable(self._builtin_modules) else self._builtin_modules
        for module in (*builtins, *plugins):
            try:
                importlib.import_module(module)
            except ImportError as exc:
                if module in plugins:
                    raise HarnessError(f"cannot import plugin module {module!r} (HARNESS_PLUGINS): {exc}") from exc
                raise
        if self._entry_point_group:
            for ep in entry_points(group=self._entry_point_group):
                if ep.name not in self._factories:
                    self._factories[ep.name] = ep.load()

    def names(self) -> list[str]:
        """Sorted registered names."""
        self._load()
        return sorted(self._factories)

    def get(self, name: str) -> Callable[..., T]:
        """Factory for ``name``; unknown names raise a one-line HarnessError listing the choices."""
        self._load()
        if name not in self._factories:
            raise HarnessError(f"unknown {self.kind} {name!r}; choose from: {', '.join(self.names())}")
        return self._factories[name]

    def build(self, name: str, *args, **kwargs) -> T:  # type: ignore[no-untyped-def]
        return self.get(name)(*args, **kwargs)

    def __contains__(self, name: str) -> bool:
        self._load()
        return name in self._factories

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())


POLICIES: Registry = Registry("policy", lambda: discover("policies"), "harness.policies")
PLANNERS: Registry = Registry("planner", lambda: discover("planners"), "harness.planners")
WORLD_MODELS: Registry = Registry("world model", lambda: discover("world_models"), "harness.world_models")
SUITES: Registry = Registry("suite", lambda: discover("tasks", "suites"), "harness.suites")
TRAINABLES: Registry = Registry(
    "trainable", lambda: discover("policies") + discover("world_models"), "harness.trainables"
)
