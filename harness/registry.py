"""One small generic registry per component kind (policies, planners, world models, suites).

Entries are registered with a decorator; duplicate names raise. Built-in modules are imported
lazily the first time a registry is queried, so ``import harness`` stays cheap. Extra modules
named in the ``HARNESS_PLUGINS`` environment variable (comma list) are imported too, in every
worker process, so user components register without packaging.
"""

from __future__ import annotations

import importlib
import os
from importlib.metadata import entry_points
from typing import Callable, Generic, Iterator, TypeVar

from harness.errors import HarnessError

T = TypeVar("T")


class Registry(Generic[T]):
    """Name -> factory mapping for one kind of component.

    Args:
        kind: human name used in error messages ("policy", "suite", ...).
        builtin_modules: modules whose import registers the built-in entries.
        entry_point_group: optional ``importlib.metadata`` group for third-party plugins.
    """

    def __init__(self, kind: str, builtin_modules: tuple[str, ...] = (), entry_point_group: str | None = None):
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
        for module in (*self._builtin_modules, *plugins):
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


POLICIES: Registry = Registry(
    "policy", ("policies.baselines", "policies.expert", "policies.diffusion", "policies.baku"), "harness.policies"
)
PLANNERS: Registry = Registry("planner", ("planners.direct", "planners.vla", "planners.wm_topk"), "harness.planners")
WORLD_MODELS: Registry = Registry("world model", ("world_models.lac_wm", "world_models.eac_wm"), "harness.world_models")
SUITES: Registry = Registry("suite", ("tasks.libero.suites", "tasks.simpler.suites"), "harness.suites")
TRAINABLES: Registry = Registry(
    "trainable",
    ("policies.diffusion", "policies.baku", "world_models.frame_ae", "world_models.lac_wm", "world_models.eac_wm"),
    "harness.trainables",
)
