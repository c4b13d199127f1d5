"""The public surface of sessiond_client, pinned."""

from __future__ import annotations

import re

import sessiond_client
from sessiond_client import SessionClient, pb
from sessiond_client._client import PATHS
from sessiond_client._proto.sessiond.v1 import player_service_pb2, resources_pb2, session_service_pb2

SERVICES = (
    session_service_pb2.DESCRIPTOR.services_by_name["SessionService"],
    player_service_pb2.DESCRIPTOR.services_by_name["PlayerService"],
)
METHODS = [m for service in SERVICES for m in service.methods]


def test_all_is_pinned() -> None:
    assert sessiond_client.__all__ == [
        "RetryPolicy",
        "SessionClient",
        "SessionWatch",
        "EventRange",
        "EventRanges",
        "dict_to_struct",
        "pb",
        "struct_to_dict",
        "Aborted",
        "AlreadyExists",
        "DeadlineExceeded",
        "FailedPrecondition",
        "InvalidArgument",
        "NotFound",
        "OutOfRange",
        "PermissionDenied",
        "ResourceExhausted",
        "SessiondError",
        "Unauthenticated",
        "Unavailable",
    ]
    for name in sessiond_client.__all__:
        assert hasattr(sessiond_client, name)


def test_pb_exposes_every_message_enum_and_top_level_value() -> None:
    expected = set()
    for module in (resources_pb2, session_service_pb2, player_service_pb2):
        expected |= set(module.DESCRIPTOR.message_types_by_name)
        for enum in module.DESCRIPTOR.enum_types_by_name.values():
            expected |= {enum.name, *enum.values_by_name}
    assert set(pb.__all__) == expected
    assert pb.DORMANT == pb.ActivityTier.DORMANT
    assert pb.Session is resources_pb2.Session
    assert pb.SubmitChoiceRequest is session_service_pb2.SubmitChoiceRequest


def test_every_rpc_has_a_client_method() -> None:
    assert set(PATHS) == {m.name for m in METHODS}
    for method in METHODS:
        snake = re.sub(r"(?<!^)(?=[A-Z])", "_", method.name).lower()
        name = "watch" if method.name == "WatchSession" else snake
        assert callable(getattr(SessionClient, name)), name
    assert PATHS["GetSession"] == "/sessiond.v1.SessionService/GetSession"
    assert PATHS["GetPlayerProfile"] == "/sessiond.v1.PlayerService/GetPlayerProfile"


def test_every_error_is_a_sessiond_error() -> None:
    errors = [getattr(sessiond_client, n) for n in sessiond_client.__all__ if n[0].isupper()]
    for cls in errors:
        if isinstance(cls, type) and issubclass(cls, Exception):
            assert issubclass(cls, sessiond_client.SessiondError)
