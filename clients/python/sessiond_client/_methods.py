"""What the proto says about each RPC: its gRPC path, and whether a repeat is safe.

The descriptors are the one source. A method marked ``option idempotency_level =
NO_SIDE_EFFECTS`` or ``IDEMPOTENT`` may be repeated whatever its request holds; any
other only when its request carries a repeat guard (`REPEAT_GUARDS`), which makes the
server refuse or recognise the repeat instead of applying it twice.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from google.protobuf import descriptor, descriptor_pb2, message

from sessiond_client._proto.sessiond.v1 import player_service_pb2, session_service_pb2

SERVICES = (
    session_service_pb2.DESCRIPTOR.services_by_name["SessionService"],
    player_service_pb2.DESCRIPTOR.services_by_name["PlayerService"],
)

_SAFE_LEVELS = frozenset({descriptor_pb2.MethodOptions.NO_SIDE_EFFECTS, descriptor_pb2.MethodOptions.IDEMPOTENT})

REPEAT_GUARDS = frozenset({"request_id", "expected_state_version"})
"""Request fields that, when set, make a repeat safe: with ``request_id`` (AIP-155) the
server answers a repeat with the first call's result; with ``expected_state_version``
a repeat after a lost success fails the version check (ABORTED) instead of writing twice."""


@dataclass(frozen=True, slots=True)
class Method:
    """One RPC as its descriptor describes it."""

    service: str
    """Full name of its service, e.g. ``"sessiond.v1.SessionService"``."""
    name: str
    """e.g. ``"GetSession"``."""
    safe_to_repeat: bool
    """Marked NO_SIDE_EFFECTS or IDEMPOTENT: a repeat is safe whatever the request holds."""
    server_streaming: bool

    @property
    def path(self) -> str:
        """The gRPC path, e.g. ``"/sessiond.v1.SessionService/GetSession"``."""
        return f"/{self.service}/{self.name}"


def methods_of(services: Iterable[descriptor.ServiceDescriptor]) -> dict[str, Method]:
    """The methods of ``services`` by name (names are unique across sessiond's services)."""
    return {
        m.name: Method(
            service=s.full_name,
            name=m.name,
            safe_to_repeat=m.GetOptions().idempotency_level in _SAFE_LEVELS,
            server_streaming=m.server_streaming,
        )
        for s in services
        for m in s.methods
    }


METHODS: Mapping[str, Method] = methods_of(SERVICES)


def repeat_is_safe(method: Method, request: message.Message) -> bool:
    """Whether sending ``request`` to ``method`` again, after an attempt whose outcome
    is unknown, cannot apply it twice."""
    return method.safe_to_repeat or any(field.name in REPEAT_GUARDS for field, _ in request.ListFields())
