"""One websocket connection to a policy server, speaking openpi's policy-server protocol.

Verified from openpi's ``src/openpi/serving/websocket_policy_server.py`` and
``packages/openpi-client/src/openpi_client/websocket_client_policy.py``: after the websocket handshake the
server sends one binary msgpack message, its metadata (a dict, often empty); then every binary request (one
msgpack observation dict) gets one binary reply (a msgpack dict with "actions" and "server_timing"
{"infer_ms", "prev_total_ms"}). When inference fails the server sends the traceback as a *text* frame and
closes the connection (code 1011). openpi's client connects without compression and without a size limit;
so does this one. Unlike openpi's client it gives up after ``connect_timeout`` instead of retrying forever,
waits at most ``timeout`` for a reply, and connects directly (proxy variables are ignored).
"""

from __future__ import annotations

from typing import Any

from policies.remote.wire import packb, unpackb


class LinkError(Exception):
    """The server could not be reached, or broke the protocol (a one-line reason)."""


class LinkDropped(LinkError):
    """The connection closed under a request (the server went away or restarted)."""


def require_remote_extra() -> Any:
    """The websockets module, or one HarnessError line naming the extra to install."""
    try:
        import websockets.sync.client

        import msgpack  # noqa: F401 - checked here so a missing extra is one clear line
    except ImportError as exc:
        from harness.errors import HarnessError

        raise HarnessError(
            f"remote policies need the websockets and msgpack packages: pip install -e '.[remote]' ({exc})"
        ) from exc
    return websockets


class Link:
    """A connection (opened by ``connect``) and the server's metadata."""

    def __init__(self, url: str, connect_timeout: float, timeout: float):
        self.url, self.connect_timeout, self.timeout = url, connect_timeout, timeout
        self.metadata: dict[str, Any] = {}
        self._ws: Any = None

    @property
    def open(self) -> bool:
        return self._ws is not None

    def connect(self) -> dict[str, Any]:
        """Open the connection and read the metadata message; raises LinkError."""
        websockets = require_remote_extra()
        self.close()
        try:
            ws = websockets.sync.client.connect(
                self.url,
                open_timeout=self.connect_timeout,
                compression=None,
                max_size=None,
                proxy=None,
                legacy=True,  # a plain connection kept open across requests (websockets 17's opt-in)
            )
        except (OSError, TimeoutError, websockets.exceptions.WebSocketException) as exc:
            raise LinkError(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__) from exc
        try:
            metadata = unpackb(ws.recv(timeout=self.connect_timeout))
        except TimeoutError as exc:
            ws.close()
            raise LinkError(f"no metadata message within {self.connect_timeout:g} s") from exc
        except Exception as exc:  # noqa: BLE001 - closed, text frame or not msgpack: not a policy server
            ws.close()
            raise LinkError(f"the first message is not msgpack metadata ({type(exc).__name__})") from exc
        if not isinstance(metadata, dict):
            ws.close()
            raise LinkError(f"the metadata message is a {type(metadata).__name__}, not a map")
        self._ws, self.metadata = ws, metadata
        return metadata

    def request(self, message: dict[str, Any]) -> dict[str, Any]:
        """Send one request and return the reply; raises LinkDropped, or LinkError (timeout, garbage)."""
        import websockets

        assert self._ws is not None, "connect() first"
        try:
            data = packb(message)
        except (TypeError, ValueError) as exc:
            raise LinkError(f"cannot encode the request: {exc}") from exc
        try:
            self._ws.send(data)
            reply = self._ws.recv(timeout=self.timeout)
        except TimeoutError as exc:  # before OSError, its base class
            self.close()  # a late reply would answer the next request
            raise LinkError(f"no reply within {self.timeout:g} s (--policy-timeout)") from exc
        except (websockets.exceptions.ConnectionClosed, OSError) as exc:
            self.close()
            raise LinkDropped(f"connection closed ({exc})") from exc
        if isinstance(reply, str):
            self.close()  # openpi's server closes after an error
            lines = [line for line in reply.strip().splitlines() if line.strip()]
            raise LinkError(f"server error: {lines[-1] if lines else 'empty message'}")
        try:
            decoded = unpackb(reply)
        except Exception as exc:  # noqa: BLE001 - any decode failure is a garbled reply
            raise LinkError(f"reply is not msgpack ({type(exc).__name__}: {exc})") from exc
        if not isinstance(decoded, dict):
            raise LinkError(f"reply is a {type(decoded).__name__}, not a map")
        return decoded

    def close(self) -> None:
        if self._ws is not None:
            try:
                self._ws.close()
            except Exception:  # noqa: BLE001 - closing a broken connection must not mask the real error
                pass
        self._ws = None
