"""``--policy remote``: a policy that runs in a policy server (a GPU machine) while the simulators run here.

The server is ``python -m harness.serve`` (any registered policy) or an openpi policy server (pi0 / pi0-FAST /
pi05, with ``--policy-adapter openpi_libero``). The protocol is in ``policies/remote/link.py``; the
observation formats in ``policies/remote/adapters.py``.

Episode state. A ``harness.serve`` server (metadata ``harness_protocol``) keeps one policy per connection; the
first request of every episode carries the episode (``reset``: the policy is reset with the episode's seed,
as in-process), and every request carries the observations of the env steps since the last one
(``observed``) when the served policy has ``observe``. So a served policy computes exactly what it computes
in-process. openpi servers are stateless per request and get only the adapted observation.

``sample(obs, n, rng)``: from a ``harness.serve`` server one request for all n, with ``rng``'s exact state
(the server's copy draws what ``rng`` would have drawn here, and ``rng`` is advanced to match): identical to
in-process. From an openpi server n requests of the same observation: the server takes one observation per
request and draws its noise from its own generator (the request carries no seed), so the chunks differ only
as far as the server samples, are not reproducible from ``rng`` (which is left untouched), and a
deterministic server returns n identical chunks.

``chunk_length``: the server's metadata ``chunk_length`` (``harness.serve`` sends it; openpi's metadata has
no such key as far as we read, so it stays None: unknown). ``execute_steps``: ``--policy-execute-steps``, else
the metadata's ``execute_steps``, else the adapter's default (openpi_libero: 5, openpi's ``replan_steps``),
else the whole chunk.

Failures. The server unreachable when the policy is built: one HarnessError line (``harness.eval`` builds it
in ``prepare``, before anything is written). During a run every failure is an EpisodeError (that episode is
recorded as an error, the run goes on): no reply within ``--policy-timeout``, a text frame (openpi's error
traceback: its last line), a reply that is not msgpack, has no "actions" or actions of the wrong shape. A
dropped connection is reopened once; the request is sent again when the server's episode state can be
rebuilt (a stateless server, or the episode's first request), otherwise that episode is an error and the
next one starts on the new connection. A server whose metadata changed after reconnecting is refused.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from harness.errors import EpisodeError, HarnessError
from harness.protocols import EpisodeSpec, Obs
from policies.remote.adapters import ADAPTERS
from policies.remote.link import Link, LinkDropped, LinkError
from policies.remote.wire import HARNESS_KEY, episode_to_wire, packb, rng_to_wire, set_rng_state


class RemotePolicy:
    """Client of a policy server (see the module docstring)."""

    @dataclass(frozen=True)
    class Options:
        policy_url: str | None = None
        policy_adapter: str = "harness"
        policy_timeout: float = 120.0  # a JAX server compiles on its first request
        policy_connect_timeout: float = 10.0
        policy_execute_steps: int | None = None

        def validate(self) -> None:
            if not self.policy_url:
                raise HarnessError(
                    "policy remote needs --policy-url ws://HOST:PORT (python -m harness.serve, or an openpi server)"
                )
            if not self.policy_url.startswith(("ws://", "wss://")):
                raise HarnessError(f"--policy-url must start with ws:// or wss://, got {self.policy_url!r}")
            if self.policy_adapter not in ADAPTERS:
                raise HarnessError(
                    f"unknown --policy-adapter {self.policy_adapter!r}; choose from: {', '.join(ADAPTERS)}"
                )
            if not (self.policy_timeout > 0 and self.policy_connect_timeout > 0):
                raise HarnessError("--policy-timeout and --policy-connect-timeout must be > 0 seconds")
            if self.policy_execute_steps is not None and self.policy_execute_steps < 1:
                raise HarnessError(f"--policy-execute-steps must be >= 1, got {self.policy_execute_steps}")

    needs_server: ClassVar[bool] = True  # contract tests run it against a server (tests/integration)

    def __init__(self, checkpoint: str | None = None, options: Options | None = None):
        options = options or self.Options()
        options.validate()
        if checkpoint is not None:
            raise HarnessError("policy remote takes no --checkpoint: the server loads its own")
        self.url = str(options.policy_url)
        self._adapter = ADAPTERS[options.policy_adapter]
        self._link = Link(self.url, options.policy_connect_timeout, options.policy_timeout)
        try:
            self.metadata = dict(self._link.connect())
        except LinkError as exc:
            raise HarnessError(f"cannot reach the policy server at {self.url}: {exc}") from exc
        meta = self.metadata
        self._harness = bool(meta.get("harness_protocol"))  # a harness.serve server: per-episode state
        self._observes = self._harness and bool(meta.get("observes"))
        self.chunk_length = _positive_int(meta.get("chunk_length"))
        self.execute_steps = (
            options.policy_execute_steps or _positive_int(meta.get("execute_steps")) or self._adapter.execute_steps
        )
        if self.chunk_length and self.execute_steps and self.execute_steps > self.chunk_length:
            raise HarnessError(
                f"--policy-execute-steps {self.execute_steps} exceeds the server's chunk ({self.chunk_length} steps)"
            )
        declared = self._adapter.consumes_images
        self.consumes_images = bool(meta.get("consumes_images", True)) if declared is None else declared
        self._episode: EpisodeSpec | None = None
        self._pending_reset = False
        self._observed: list[dict[str, Any]] = []

    @property
    def server_info(self) -> dict[str, Any]:
        """The server's address and metadata as JSON-able values (recorded in a run's manifest)."""
        return {"url": self.url, "metadata": json.loads(json.dumps(self.metadata, default=repr))}

    def reset(self, episode: EpisodeSpec) -> None:
        self._episode, self._pending_reset, self._observed = episode, True, []

    def observe(self, obs: Obs) -> None:
        """Keeps the step's observation for the next request when the served policy observes every step."""
        if self._observes:
            self._observed.append(self._encode(obs))

    def act(self, obs: Obs) -> np.ndarray:
        """float32 [H, Da] from one request."""
        return self._actions(self._call(self._request(obs)), batched=False)

    def sample(self, obs: Obs, n: int, rng: np.random.Generator) -> np.ndarray:
        """float32 [n, H, Da] (see the module docstring for what n candidates mean per server)."""
        if not self._harness:
            return np.stack([self.act(obs) for _ in range(n)])
        request = self._request(obs, sample={"n": int(n), "rng": rng_to_wire(rng)})
        reply = self._call(request)
        actions = self._actions(reply, batched=True)
        if actions.shape[0] != n:
            raise EpisodeError(f"policy server {self.url}: {actions.shape[0]} samples in the reply, asked for {n}")
        try:
            set_rng_state(rng, reply["rng"])
        except (KeyError, TypeError, ValueError) as exc:
            raise EpisodeError(f"policy server {self.url}: reply has no valid 'rng' state ({exc})") from exc
        return actions

    def close(self) -> None:
        self._link.close()

    def _encode(self, obs: Obs) -> dict[str, Any]:
        return self._adapter.encode(obs)

    def _request(self, obs: Obs, **extra: Any) -> dict[str, Any]:
        """The adapted observation, plus the harness fields a harness.serve server needs."""
        request = self._encode(obs)
        if self._harness:
            fields: dict[str, Any] = {"observed": self._observed, **extra}
            if self._pending_reset and self._episode is not None:
                fields["reset"] = episode_to_wire(self._episode)
            request[HARNESS_KEY] = fields
        return request

    def _call(self, request: dict[str, Any]) -> dict[str, Any]:
        """One round trip; clears what the server has now received. Raises EpisodeError."""
        restorable = not self._harness or "reset" in request.get(HARNESS_KEY, {})
        try:
            try:
                if not self._link.open:  # closed by an earlier failure
                    raise LinkDropped("connection closed after an earlier error")
                reply = self._link.request(request)
            except LinkDropped as exc:
                self._reconnect()
                if not restorable:
                    raise EpisodeError(
                        f"policy server {self.url} dropped the connection mid-episode ({exc}); reconnected, but the "
                        "server's episode state is lost"
                    ) from exc
                reply = self._link.request(request)
        except LinkError as exc:
            raise EpisodeError(f"policy server {self.url}: {exc}") from exc
        self._pending_reset, self._observed = False, []
        return reply

    def _reconnect(self) -> None:
        try:
            metadata = self._link.connect()
        except LinkError as exc:
            raise LinkError(f"reconnecting failed: {exc}") from exc
        if packb(metadata) != packb(self.metadata):  # (dicts holding arrays do not compare with !=)
            self._link.close()
            raise LinkError("the server's metadata changed after reconnecting (another policy?)")

    def _actions(self, reply: dict[str, Any], batched: bool) -> np.ndarray:
        """The reply's "actions" as float32 [H, Da] (or [n, H, Da]), checked. Raises EpisodeError."""
        if "actions" not in reply:
            keys = ", ".join(map(str, reply)) or "none"
            raise EpisodeError(f"policy server {self.url}: reply has no 'actions' (keys: {keys})")
        try:
            actions = np.asarray(reply["actions"])
        except (TypeError, ValueError) as exc:  # ragged nested lists
            raise EpisodeError(f"policy server {self.url}: actions are not an array ({exc})") from exc
        if actions.dtype.kind not in "fiu":
            raise EpisodeError(f"policy server {self.url}: non-numeric actions (dtype {actions.dtype})")
        if not batched and actions.ndim == 1:
            actions = actions[None]
        dims = 3 if batched else 2
        dim = self._episode.task.action_dim if self._episode is not None else None
        if actions.ndim != dims or 0 in actions.shape or (dim is not None and actions.shape[-1] != dim):
            shape = "[n, H, Da]" if batched else "[H, Da]"
            raise EpisodeError(
                f"policy server {self.url}: actions of shape {tuple(actions.shape)}, expected {shape} with Da = {dim}"
            )
        return actions.astype(np.float32)


def _positive_int(value: Any) -> int | None:
    """A metadata count, or None where the server does not give a usable one."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None
