"""The one table from domain errors to what a caller sees: a gRPC status code and a
stable ``google.rpc.ErrorInfo`` reason (domain ``sessiond``), sent as the status details.

A reason names one kind of refusal and never changes once published; callers branch on
it instead of parsing messages. The list is documented in README.md ("Errors").
"""

from __future__ import annotations

from typing import Any, NoReturn, cast

import grpc
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from sessiond.core.errors import (
    EventsExpired,
    InvalidInput,
    LimitReached,
    NotAGame,
    NotATie,
    NotOnRoster,
    PlayerNotFound,
    ProfileNotFound,
    RequestIdReused,
    RivalActive,
    RosterFull,
    SessiondError,
    SessionExists,
    SessionNotFound,
    StaleEtag,
    StaleStateVersion,
    TooManySessions,
    TurnNotFound,
    Unavailable,
    VersionConflict,
    WindowOpen,
    WrongLifecycleState,
    WrongState,
    WrongTurn,
)

DOMAIN = "sessiond"

# Error class -> (status code, ErrorInfo reason). A class not listed takes the entry of
# its nearest listed base class; the bases' entries serve errors raised without a subclass.
ERRORS: dict[type[SessiondError], tuple[grpc.StatusCode, str]] = {
    InvalidInput: (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_FIELD"),
    RequestIdReused: (grpc.StatusCode.INVALID_ARGUMENT, "REQUEST_ID_REUSED"),
    SessionNotFound: (grpc.StatusCode.NOT_FOUND, "SESSION_NOT_FOUND"),
    PlayerNotFound: (grpc.StatusCode.NOT_FOUND, "PLAYER_NOT_FOUND"),
    ProfileNotFound: (grpc.StatusCode.NOT_FOUND, "PROFILE_NOT_FOUND"),
    TurnNotFound: (grpc.StatusCode.NOT_FOUND, "TURN_NOT_FOUND"),
    SessionExists: (grpc.StatusCode.ALREADY_EXISTS, "SESSION_EXISTS"),
    LimitReached: (grpc.StatusCode.RESOURCE_EXHAUSTED, "LIMIT_REACHED"),
    TooManySessions: (grpc.StatusCode.RESOURCE_EXHAUSTED, "TOO_MANY_SESSIONS"),
    RosterFull: (grpc.StatusCode.RESOURCE_EXHAUSTED, "ROSTER_FULL"),
    WrongState: (grpc.StatusCode.FAILED_PRECONDITION, "FAILED_PRECONDITION"),
    WrongLifecycleState: (grpc.StatusCode.FAILED_PRECONDITION, "WRONG_SESSION_STATE"),
    WrongTurn: (grpc.StatusCode.FAILED_PRECONDITION, "WRONG_TURN"),
    WindowOpen: (grpc.StatusCode.FAILED_PRECONDITION, "WINDOW_OPEN"),
    NotOnRoster: (grpc.StatusCode.FAILED_PRECONDITION, "PLAYER_NOT_ON_ROSTER"),
    RivalActive: (grpc.StatusCode.FAILED_PRECONDITION, "RIVAL_SESSION_ACTIVE"),
    NotAGame: (grpc.StatusCode.FAILED_PRECONDITION, "NOT_A_GAME"),
    NotATie: (grpc.StatusCode.FAILED_PRECONDITION, "NOT_A_NARRATOR_TIE"),
    VersionConflict: (grpc.StatusCode.ABORTED, "VERSION_CONFLICT"),
    StaleEtag: (grpc.StatusCode.ABORTED, "STALE_ETAG"),
    StaleStateVersion: (grpc.StatusCode.ABORTED, "STALE_STATE_VERSION"),
    EventsExpired: (grpc.StatusCode.OUT_OF_RANGE, "EVENTS_EXPIRED"),
    Unavailable: (grpc.StatusCode.UNAVAILABLE, "UNAVAILABLE"),
}
INTERNAL = (grpc.StatusCode.INTERNAL, "INTERNAL")
"""What a SessiondError without an entry (a bug) answers."""

# Refusals made by the call interceptor itself, before or around the servicer: reason ->
# status code. Documented with ERRORS in README.md ("Errors").
CALL_REFUSALS: dict[str, grpc.StatusCode] = {
    "UNAUTHENTICATED": grpc.StatusCode.UNAUTHENTICATED,  # no valid bearer token
    "PERMISSION_DENIED": grpc.StatusCode.PERMISSION_DENIED,  # the token lacks the method's scope
    "SERVER_DRAINING": grpc.StatusCode.UNAVAILABLE,  # shutting down: the call did not run
    "MALFORMED_REQUEST": grpc.StatusCode.INVALID_ARGUMENT,  # bytes that are not the request message
    "WATCH_STALLED": grpc.StatusCode.UNAVAILABLE,  # the client took no streamed message in time
    INTERNAL[1]: INTERNAL[0],  # a bug; the server log has the traceback
}

# Attributes of an error that identify what it is about, sent as ErrorInfo metadata.
_METADATA_ATTRIBUTES = (
    "session_id",
    "player_id",
    "turn_number",
    "current_turn",
    "field",
    "oldest_event_id",
    "request_id",
)


def _entry(error: SessiondError) -> tuple[grpc.StatusCode, str]:
    for cls in type(error).__mro__:
        if cls in ERRORS:
            return ERRORS[cls]
    return INTERNAL


def status_of(error: SessiondError) -> grpc.StatusCode:
    return _entry(error)[0]


def reason_of(error: SessiondError) -> str:
    return _entry(error)[1]


def metadata_of(error: SessiondError) -> dict[str, str]:
    return {a: str(getattr(error, a)) for a in _METADATA_ATTRIBUTES if hasattr(error, a)}


def rich_status(
    code: grpc.StatusCode, message: str, reason: str, metadata: dict[str, str] | None = None
) -> grpc.Status:
    """A status with ``google.rpc.ErrorInfo(reason, domain=sessiond)`` in its details."""
    info = error_details_pb2.ErrorInfo(reason=reason, domain=DOMAIN, metadata=metadata or {})
    detail = any_pb2.Any()
    detail.Pack(info)
    proto = status_pb2.Status(code=getattr(code_pb2, code.name), message=message, details=[detail])
    return cast(grpc.Status, rpc_status.to_status(proto))  # type: ignore[no-untyped-call]


def status_for(error: SessiondError) -> grpc.Status:
    code, reason = _entry(error)
    return rich_status(code, error.message, reason, metadata_of(error))


async def refuse(context: grpc.aio.ServicerContext[Any, Any], reason: str, message: str) -> NoReturn:
    """End the call with one of the interceptor's own refusals (CALL_REFUSALS), with its ErrorInfo."""
    await context.abort_with_status(rich_status(CALL_REFUSALS[reason], message, reason))
    raise AssertionError("unreachable: abort_with_status raises")


async def abort_with(context: grpc.aio.ServicerContext[Any, Any], error: SessiondError) -> NoReturn:
    """End the call with the status code, message and ErrorInfo of ``error``."""
    await context.abort_with_status(status_for(error))
    raise AssertionError("unreachable: abort_with_status raises")


