"""``python -m harness.serve``: serve a registered policy over openpi's websocket policy-server protocol.

    python -m harness.serve --policy diffusion --checkpoint DIR --port 8000 [--host 127.0.0.1] [--suite S]

Then evaluate on other machines (simulators on CPUs, the policy on this one's GPU) with
``python -m harness.eval ... --policy remote --policy-url ws://HOST:8000``. ``--port 0`` picks a free port;
the first line printed names the address. No authentication: bind to 127.0.0.1 (default) and tunnel, or
to a trusted network only.

Protocol (openpi's, see ``policies/remote/link.py``): on connect the server sends its metadata; each binary
msgpack request (an observation dict) gets one reply ``{"actions": [H, Da], "server_timing": {"infer_ms",
"prev_total_ms"}}``; on a failure the traceback goes back as a text frame and the connection is closed
(code 1011). Metadata: ``server``, ``harness_protocol`` (1), ``policy``, ``checkpoint``,
``checkpoint_sha256``, ``chunk_length``, ``execute_steps``, ``action_dim`` (each None where the policy does
not declare it), ``observes`` (the policy has ``observe``), ``consumes_images``, ``sampling`` (the declared
sampling noise the policy serves with, after ``--policy-sample-noise[-kind]``; None for other policies).

Episodes. Every connection gets its own policy instance, built from ``--policy`` / ``--checkpoint`` when it
opens, so clients never share episode state. A request may carry ``"__harness__": {"reset": episode,
"observed": [obs, ...], "sample": {"n", "rng"}}`` (``policies/remote/wire.py``): ``reset`` seeds the global
RNGs with the episode's seed and resets the policy (as the harness's rollout does); ``observed`` are passed
to ``policy.observe`` in order; ``sample`` answers ``policy.sample(obs, n, rng)`` [n, H, Da] and returns the
generator's new state as ``"rng"``; otherwise ``policy.act(obs)``. A client that never sends ``reset``
(openpi's own) works when the server knows the tasks (``--suite``): its policy is reset once per connection,
on the first request, with the suite's task whose instruction equals the request's ``instruction`` (or
``prompt``), else task 0, seed 0. Global RNGs are per process: with several clients at once, policies that
draw from them (the built-ins use their own generators) are not reproducible.
"""

from __future__ import annotations

import signal
import sys
import threading
import time
import traceback
from typing import Any, Sequence

import numpy as np

from harness.analysis.comparability import checkpoint_hash
from harness.config import OneLineParser, flag_list
from harness.engine.rollout import seed_everything
from harness.errors import HarnessError, cli_entry
from harness.policy.build import build_policy, close_policy, unused_policy_flags
from harness.protocols import EpisodeSpec, Policy, PolicyOptions, TaskSpec
from harness.registry import SUITES
from policies.remote.link import require_remote_extra
from policies.remote.wire import (
    HARNESS_KEY,
    HARNESS_PROTOCOL,
    episode_from_wire,
    packb,
    rng_from_wire,
    rng_to_wire,
    unpackb,
)


def metadata(name: str, checkpoint: str | None, policy: Policy) -> dict[str, Any]:
    """What the server tells every client on connect (see the module docstring)."""
    return {
        "server": "harness.serve",
        "harness_protocol": HARNESS_PROTOCOL,
        "policy": name,
        "checkpoint": checkpoint,
        "checkpoint_sha256": checkpoint_hash(checkpoint),
        "chunk_length": getattr(policy, "chunk_length", None),
        "execute_steps": getattr(policy, "execute_steps", None),
        "action_dim": getattr(policy, "action_dim", None),
        "observes": callable(getattr(policy, "observe", None)),
        "consumes_images": bool(getattr(policy, "consumes_images", True)),
    }


class Session:
    """One connection's policy and episode: turns requests into replies."""

    def __init__(self, policy: Policy, tasks: Sequence[TaskSpec] = ()):
        self.policy, self.tasks = policy, tuple(tasks)
        self.started = False

    def answer(self, request: dict[str, Any]) -> dict[str, Any]:
        fields = request.pop(HARNESS_KEY, None) or {}
        if "reset" in fields:
            self._reset(episode_from_wire(fields["reset"]))
        elif not self.started:
            self._reset(self._default_episode(request))
        for obs in fields.get("observed", ()):
            self.policy.observe(obs)  # type: ignore[attr-defined]
        if "sample" in fields:
            rng = rng_from_wire(fields["sample"]["rng"])
            actions = self.policy.sample(request, int(fields["sample"]["n"]), rng)
            return {"actions": np.asarray(actions), "rng": rng_to_wire(rng)}
        return {"actions": np.asarray(self.policy.act(request))}

    def _reset(self, episode: EpisodeSpec) -> None:
        seed_everything(episode.seed)
        self.policy.reset(episode)
        self.started = True

    def _default_episode(self, request: dict[str, Any]) -> EpisodeSpec:
        """For clients that never send a reset (openpi's): the --suite task named by the instruction."""
        if not self.tasks:
            raise ValueError(
                f"no episode reset received: send {HARNESS_KEY}.reset, or start the server with --suite SUITE"
            )
        text = request.get("instruction", request.get("prompt"))
        task = next((t for t in self.tasks if t.instruction == text), self.tasks[0])
        return EpisodeSpec(index=0, task=task, episode=0, init_index=0, seed=0)


def _log(message: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} {message}", file=sys.stderr, flush=True)


class PolicyServer:
    """Builds a policy per connection and answers its requests (websockets' threaded sync server)."""

    def __init__(
        self, name: str, checkpoint: str | None, suite: str | None = None, options: PolicyOptions | None = None
    ):
        self.name, self.checkpoint, self.options = name, checkpoint, options
        probe = build_policy(name, checkpoint, options)  # a bad name, checkpoint or flag fails here, as one line
        self.metadata = metadata(name, checkpoint, probe)
        self.metadata["sampling"] = _sampling(probe)
        close_policy(probe)
        self.tasks = SUITES.build(suite).tasks() if suite else ()
        self.connections = 0
        self._lock = threading.Lock()

    def handle(self, ws: Any) -> None:
        from websockets.exceptions import ConnectionClosed
        from websockets.frames import CloseCode

        with self._lock:
            self.connections += 1
            number = self.connections
        _log(f"connection {number} from {ws.remote_address} opened")
        policy = None
        try:
            policy = build_policy(self.name, self.checkpoint, self.options)
            session = Session(policy, self.tasks)
            ws.send(packb(self.metadata))
            prev_total = None
            for message in ws:
                start = time.monotonic()
                try:
                    if isinstance(message, str):
                        raise ValueError("requests must be binary msgpack frames, got text")
                    request = unpackb(message)
                    if not isinstance(request, dict):
                        raise ValueError(f"a request must be a map, got {type(request).__name__}")
                    reply = session.answer(request)
                    reply["server_timing"] = {"infer_ms": (time.monotonic() - start) * 1000}
                    if prev_total is not None:
                        reply["server_timing"]["prev_total_ms"] = prev_total * 1000
                    data = packb(reply)
                except Exception:  # noqa: BLE001 - as openpi: the traceback to the client, then close
                    error = traceback.format_exc()
                    _log(f"connection {number}: {error.strip().splitlines()[-1]}")
                    ws.send(error)
                    ws.close(CloseCode.INTERNAL_ERROR, "internal server error; traceback in the previous frame")
                    return
                ws.send(data)
                prev_total = time.monotonic() - start
        except ConnectionClosed:
            pass
        finally:
            if policy is not None:
                close_policy(policy)
            _log(f"connection {number} closed")


def _ctrl_c_stops() -> None:
    """SIGINT (Ctrl-C) raises KeyboardInterrupt here even when the parent started this process with SIGINT ignored
    or blocked (both are inherited across exec, and Python then installs no handler)."""
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    signal.signal(signal.SIGINT, signal.default_int_handler)


def _sampling(policy: Policy) -> dict[str, Any] | None:
    """The declared sampling noise a chunk policy serves with (what --policy-sample-noise* resolved to)."""
    cfg = getattr(policy, "cfg", None)
    if cfg is None or getattr(type(cfg), "sampling_options", None) is None:
        return None
    return {"sample_noise": cfg.sample_noise, "sample_noise_kind": cfg.sample_noise_kind}


def _parser() -> OneLineParser:
    p = OneLineParser(prog="python -m harness.serve", description=__doc__.split("\n")[0])
    p.add_argument("--policy", required=True, help="registered policy name")
    p.add_argument("--checkpoint", default=None, help="policy checkpoint dir / file")
    p.add_argument("--port", type=int, default=8000, help="TCP port (0: a free one; default 8000, as openpi)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1; 0.0.0.0: every one)")
    p.add_argument("--suite", default=None, help="tasks for clients that never send an episode reset (openpi's)")
    p.add_argument("--policy-sample-noise", type=float, default=None,
                   help="std of a deterministic chunk policy's declared sampling noise (as harness.eval)")
    p.add_argument("--policy-sample-noise-kind", default=None, help="step | chunk (as harness.eval)")
    return p


@cli_entry
def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    require_remote_extra()
    _ctrl_c_stops()
    options = PolicyOptions(
        policy_sample_noise=args.policy_sample_noise, policy_sample_noise_kind=args.policy_sample_noise_kind
    )
    unused = unused_policy_flags(args.policy, options)
    if unused:
        raise HarnessError(f"policy {args.policy} does not take {flag_list(unused)}")
    server = PolicyServer(args.policy, args.checkpoint, args.suite, options)
    from websockets.sync.server import serve

    try:
        ws_server = serve(server.handle, args.host, args.port, compression=None, max_size=None)
    except OSError as exc:
        raise HarnessError(f"cannot listen on {args.host}:{args.port}: {exc}") from exc
    host, port = ws_server.socket.getsockname()[:2]
    print(f"serving policy {args.policy} on ws://{host}:{port} (Ctrl-C stops)", flush=True)
    try:
        ws_server.serve_forever()
    except KeyboardInterrupt:
        _log("stopping: closing connections")
    finally:
        ws_server.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
