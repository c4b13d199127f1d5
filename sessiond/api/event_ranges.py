"""Every successful call that changes a session answers with the ids of the events it
appended (header ``sessiond-event-range: FIRST-LAST``, plus first_event_id/last_event_id
where the response has them), so a caller can watch from FIRST - 1 and miss nothing
its write caused. The range is of the request's session, or of the response's
``session`` for the placement calls (SwitchCharacterWorld, SwapGame, LoadGame)."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import grpc
from google.protobuf import message
from sessiond_client._proto.sessiond.v1 import resources_pb2 as pb

from sessiond.manager.commits import EventRange, recording

Req = TypeVar("Req")
Resp = TypeVar("Resp")
Handler = Callable[[Any, Req, Any], Awaitable[Resp]]

HEADER = "sessiond-event-range"


def reports_event_range(method: Handler[Req, Resp]) -> Handler[Req, Resp]:
    """Record the commits of the call and send their range with the response."""

    @functools.wraps(method)
    async def wrapper(self: Any, request: Req, context: grpc.aio.ServicerContext[Any, Any]) -> Resp:
        with recording() as log:
            response = await method(self, request, context)
        session = _written_session(response)
        session_id = session.session_id if session is not None else str(getattr(request, "session_id", ""))
        appended = log.range_of(session_id)
        if appended is None and session is not None:
            appended = EventRange.after(session.last_event_id)  # nothing to change: the session as it is
        if appended is not None:
            if isinstance(response, message.Message) and "first_event_id" in response.DESCRIPTOR.fields_by_name:
                response.first_event_id, response.last_event_id = appended.first, appended.last  # type: ignore[attr-defined]
            await context.send_initial_metadata(((HEADER, f"{appended.first}-{appended.last}"),))
        return response

    return wrapper


def _written_session(response: object) -> pb.Session | None:
    """The session a response is about: itself, or its ``session`` field."""
    if isinstance(response, pb.Session):
        return response
    session = getattr(response, "session", None)
    return session if isinstance(session, pb.Session) else None
