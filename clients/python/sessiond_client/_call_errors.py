"""Typed errors of the client, and the one table from gRPC status codes to them."""

from __future__ import annotations

from collections.abc import Mapping

import grpc
from google.protobuf.message import DecodeError
from google.rpc import error_details_pb2, status_pb2

DOMAIN = "sessiond"
_DETAILS_KEY = "grpc-status-details-bin"


class SessiondError(Exception):
    """Root of every error the client raises for a failed call.

    Also raised as is for a status code that has no subclass below.

    Attributes:
        status: The gRPC status code of the failed call.
        message: The server's explanation (the status details).
        method: The RPC that failed, e.g. ``"GetSession"``; empty when unknown.
        reason: The server's stable name for the refusal (``google.rpc.ErrorInfo.reason``
            of domain ``sessiond``), e.g. ``"SESSION_NOT_FOUND"`` or ``"STALE_ETAG"``:
            branch on this, not on the message. Empty when the server sent none (the
            call never reached sessiond, for example). The list is in the README.
        metadata: The ErrorInfo's metadata: what the refusal is about, e.g.
            ``{"session_id": "s1"}`` (not the call's gRPC metadata).
    """

    def __init__(
        self,
        message: str,
        *,
        status: grpc.StatusCode = grpc.StatusCode.UNKNOWN,
        method: str = "",
        reason: str = "",
        metadata: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.method = method
        self.reason = reason
        self.metadata = dict(metadata or {})

    def __str__(self) -> str:
        where = f"{self.method}: " if self.method else ""
        return f"{where}{self.status.name}: {self.message}"


class NotFound(SessiondError):
    """The session, player or turn does not exist (NOT_FOUND)."""


class InvalidArgument(SessiondError):
    """A bad id, setting, state, filter, page token or choice (INVALID_ARGUMENT)."""


class AlreadyExists(SessiondError):
    """The session id is taken (ALREADY_EXISTS)."""


class FailedPrecondition(SessiondError):
    """The session is not in a state that allows the call (FAILED_PRECONDITION)."""


class Aborted(SessiondError):
    """A stale etag or expected_state_version (ABORTED)."""


class ResourceExhausted(SessiondError):
    """A server or roster limit was reached (RESOURCE_EXHAUSTED)."""


class OutOfRange(SessiondError):
    """A watch resumed after events that are no longer retained (OUT_OF_RANGE)."""


class Unavailable(SessiondError):
    """The server could not be reached, or is shutting down (UNAVAILABLE)."""


class DeadlineExceeded(SessiondError):
    """The call's timeout passed (DEADLINE_EXCEEDED)."""


class Unauthenticated(SessiondError):
    """Missing or bad credentials (UNAUTHENTICATED)."""


class PermissionDenied(SessiondError):
    """The caller may not do this (PERMISSION_DENIED)."""


ERROR_OF: dict[grpc.StatusCode, type[SessiondError]] = {
    grpc.StatusCode.NOT_FOUND: NotFound,
    grpc.StatusCode.INVALID_ARGUMENT: InvalidArgument,
    grpc.StatusCode.ALREADY_EXISTS: AlreadyExists,
    grpc.StatusCode.FAILED_PRECONDITION: FailedPrecondition,
    grpc.StatusCode.ABORTED: Aborted,
    grpc.StatusCode.RESOURCE_EXHAUSTED: ResourceExhausted,
    grpc.StatusCode.OUT_OF_RANGE: OutOfRange,
    grpc.StatusCode.UNAVAILABLE: Unavailable,
    grpc.StatusCode.DEADLINE_EXCEEDED: DeadlineExceeded,
    grpc.StatusCode.UNAUTHENTICATED: Unauthenticated,
    grpc.StatusCode.PERMISSION_DENIED: PermissionDenied,
}


def error_from_rpc(err: grpc.aio.AioRpcError, method: str) -> SessiondError:
    """Turn a failed call into the typed error for its status code.

    Args:
        err: The error grpc raised.
        method: The RPC that failed, e.g. ``"GetSession"``.

    Returns:
        The matching `SessiondError` subclass, or `SessiondError` itself for
        other codes; the caller raises it ``from err``.
    """
    status = err.code()
    cls = ERROR_OF.get(status, SessiondError)
    info = error_info(err)
    return cls(
        err.details() or "",
        status=status,
        method=method,
        reason=info.reason if info else "",
        metadata=info.metadata if info else None,
    )


def error_info(err: grpc.aio.AioRpcError) -> error_details_pb2.ErrorInfo | None:
    """The ``google.rpc.ErrorInfo`` of domain ``sessiond`` in a failed call's status details."""
    for key, value in err.trailing_metadata() or ():
        if key != _DETAILS_KEY or not isinstance(value, bytes):
            continue
        try:
            status = status_pb2.Status.FromString(value)
        except DecodeError:  # a malformed detail is no detail
            return None
        for detail in status.details:
            info = error_details_pb2.ErrorInfo()
            if detail.Unpack(info) and info.domain == DOMAIN:
                return info
    return None
