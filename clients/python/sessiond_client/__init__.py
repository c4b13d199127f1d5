"""Async Python client of sessiond, the gRPC game-session service.

Usage::

    from sessiond_client import SessionClient, pb

    async with SessionClient("127.0.0.1:50051") as client:
        session = await client.create_session(game_id="g", options=["a", "b"], window_seconds=3)
        async for event in client.watch(session.session_id, exclude_ticks=True):
            ...

``pb`` holds the protobuf messages (``pb.Session``, ``pb.SubmitChoiceRequest``...).
"""

from __future__ import annotations

from sessiond_client import pb
from sessiond_client._call_errors import (
    Aborted,
    AlreadyExists,
    DeadlineExceeded,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    OutOfRange,
    PermissionDenied,
    ResourceExhausted,
    SessiondError,
    Unauthenticated,
    Unavailable,
)
from sessiond_client._client import SessionClient
from sessiond_client._convert import to_dict as struct_to_dict
from sessiond_client._convert import to_struct as dict_to_struct
from sessiond_client._ranges import EventRange, EventRanges
from sessiond_client._retry import RetryPolicy
from sessiond_client._watch import SessionWatch

__all__ = [
    # Client
    "RetryPolicy",
    "SessionClient",
    "SessionWatch",
    # Event ranges (write, then watch)
    "EventRange",
    "EventRanges",
    # Messages and conversions
    "dict_to_struct",
    "pb",
    "struct_to_dict",
    # Errors
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
