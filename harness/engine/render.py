"""Render only what is consumed: which steps' observations need camera images, and which cameras.

Physics, success checks and partial metrics run at every step; a camera renders only for an observation
somebody reads. Components declare what they read:

- a policy with ``consumes_images = False`` reads no camera (the scripted experts): the run is render-free;
- a policy with ``observation_needs`` (an ``ObservationNeeds``) reads, at each decision, the last
  ``history`` observations (the current one included) and only ``cameras`` of them;
- anything undeclared reads every camera of every step (the always-render path).

A decision at step D reads observations D-h+1..D. Every such step lies within the last h steps of the
chunk that produced it (chunks end at decisions), so rendering "the last h steps of every chunk, plus the
reset observation" gives each decision exactly the history it would get if every step rendered. Only
those steps' observations are passed to the policy's ``observe``; its history (a window of the last h)
is then the same. Envs that can do this declare ``renders_on_demand = True`` and accept
``step(action, cameras=...)``; any other env renders every step as before.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ObservationNeeds:
    """What one decision reads: the last ``history`` observations, and of their images only ``cameras``
    (observation keys, e.g. ``agentview_rgb``)."""

    history: int
    cameras: tuple[str, ...]

    def union(self, other: "ObservationNeeds") -> "ObservationNeeds":
        cameras = self.cameras + tuple(c for c in other.cameras if c not in self.cameras)
        return ObservationNeeds(max(self.history, other.history), cameras)

    def consumed(self, index_in_chunk: int, chunk_length: int) -> bool:
        """Whether the observation after step ``index_in_chunk`` (0-based) of a chunk of ``chunk_length``
        actions is read by the next decision."""
        return chunk_length - index_in_chunk <= self.history


def declared_needs(component: Any) -> ObservationNeeds | None:
    """A component's declared needs; None when it declares none (it then reads every camera, every step)."""
    if not getattr(component, "consumes_images", True):
        return ObservationNeeds(history=0, cameras=())
    needs = getattr(component, "observation_needs", None)
    return needs if isinstance(needs, ObservationNeeds) else None


def env_renders_on_demand(env: Any) -> bool:
    return bool(getattr(env, "renders_on_demand", False))
