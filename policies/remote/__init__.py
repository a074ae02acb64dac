"""``remote``: a policy served by another process (``python -m harness.serve`` or an openpi policy server) over
openpi's websocket protocol; see ``policies/remote/policy.py``. Needs the ``remote`` extra (websockets, msgpack),
imported only when the policy is built."""

from harness.registry import POLICIES
from policies.remote.policy import RemotePolicy

POLICIES.register("remote")(RemotePolicy)
