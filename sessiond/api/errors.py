"""The one table from domain errors to gRPC status codes."""

from __future__ import annotations

from typing import Any, NoReturn

import grpc

from sessiond.core.errors import (
    EventsExpired,
    InvalidInput,
    LimitReached,
    PlayerNotFound,
    ProfileNotFound,
    SessiondError,
    SessionExists,
    SessionNotFound,
    TurnNotFound,
    Unavailable,
    VersionConflict,
    WrongState,
)

STATUS_OF: dict[type[SessiondError], grpc.StatusCode] = {
    InvalidInput: grpc.StatusCode.INVALID_ARGUMENT,
    SessionNotFound: grpc.StatusCode.NOT_FOUND,
    PlayerNotFound: grpc.StatusCode.NOT_FOUND,
    ProfileNotFound: grpc.StatusCode.NOT_FOUND,
    TurnNotFound: grpc.StatusCode.NOT_FOUND,
    SessionExists: grpc.StatusCode.ALREADY_EXISTS,
    LimitReached: grpc.StatusCode.RESOURCE_EXHAUSTED,
    WrongState: grpc.StatusCode.FAILED_PRECONDITION,
    VersionConflict: grpc.StatusCode.ABORTED,
    EventsExpired: grpc.StatusCode.OUT_OF_RANGE,
    Unavailable: grpc.StatusCode.UNAVAILABLE,
}


def status_of(error: SessiondError) -> grpc.StatusCode:
    for cls in type(error).__mro__:
        if cls in STATUS_OF:
            return STATUS_OF[cls]
    return grpc.StatusCode.INTERNAL


async def abort_with(context: grpc.aio.ServicerContext[Any, Any], error: SessiondError) -> NoReturn:
    """End the call with the status of ``error`` and its message (raises, as abort does)."""
    await context.abort(status_of(error), error.message)
    raise AssertionError("unreachable: abort raises")
