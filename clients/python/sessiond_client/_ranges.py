"""Event ranges: the ids of the events a call appended to a session's log, so that a
watch started after the call can begin just before it and miss nothing it caused.

The server sends the range of every successful call that changes a session in the
``sessiond-event-range: FIRST-LAST`` response header; SubmitChoiceResponse,
SwitchCharacterWorldResponse and SwapGameResponse also carry it as
``first_event_id``/``last_event_id``. `EventRanges` collects the headers of the calls
made inside a ``with`` block, for the methods whose return value cannot carry them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Protocol, TypeAlias

from google.protobuf import message

from sessiond_client import pb

HEADER = "sessiond-event-range"


@dataclass(frozen=True, slots=True)
class EventRange:
    """Event ids ``first``..``last`` a call appended to the log of ``session_id``.

    Empty (``last == first - 1``) when the call stored no event; ``first - 1`` is then
    the session's newest event id at the time. Watch with ``after_event_id`` set to
    `after_event_id` (``first - 1``), or pass the range as ``since``.
    """

    session_id: str
    first: int
    last: int

    @property
    def after_event_id(self) -> int:
        """Where a watch must start to see everything the call caused."""
        return self.first - 1


class HasEventRange(Protocol):
    """A response that carries its range (pb.SubmitChoiceResponse, pb.SwapGameResponse...)."""

    @property
    def first_event_id(self) -> int: ...


class EventRanges:
    """The ranges of the calls made inside ``with client.event_ranges() as ranges:``,
    by session (several calls on one session: from the first one's first id to the
    last one's last). Only calls made by the task that opened the block (and tasks it
    starts inside it) are recorded."""

    def __init__(self) -> None:
        self._ranges: dict[str, EventRange] = {}

    def get(self, session_id: str) -> EventRange | None:
        """The range of ``session_id``, None if no call changed it."""
        return self._ranges.get(session_id)

    def __len__(self) -> int:
        return len(self._ranges)

    def add(self, appended: EventRange) -> None:
        known = self._ranges.get(appended.session_id)
        if known is not None and known.last >= known.first:
            appended = EventRange(known.session_id, known.first, max(known.last, appended.last))
        self._ranges[appended.session_id] = appended


Since: TypeAlias = "EventRange | EventRanges | HasEventRange"
"""What ``watch(session_id, since=...)`` starts just before."""

_recording: ContextVar[EventRanges | None] = ContextVar("sessiond_client_event_ranges", default=None)


@contextlib.contextmanager
def recording() -> Iterator[EventRanges]:
    ranges = EventRanges()
    token = _recording.set(ranges)
    try:
        yield ranges
    finally:
        _recording.reset(token)


def recorder() -> EventRanges | None:
    """The collector of the current block, if any (a call then reads its header)."""
    return _recording.get()


def note(
    ranges: EventRanges,
    request: message.Message,
    response: message.Message,
    header: Iterable[tuple[str, str | bytes]] | None,
) -> None:
    """Add the range a call's response header names to ``ranges``."""
    value = next((v for k, v in header or () if k == HEADER), None)
    if not isinstance(value, str):
        return
    first, _, last = value.partition("-")
    ranges.add(EventRange(_session_of(request, response), int(first), int(last)))


def _session_of(request: message.Message, response: message.Message) -> str:
    """The session a range is about: the response's ``session`` (placement calls), else the request's."""
    if isinstance(response, pb.Session):
        return response.session_id
    session = getattr(response, "session", None)
    if isinstance(session, pb.Session):
        return session.session_id
    return str(getattr(request, "session_id", ""))


def after_event_id_of(since: Since, session_id: str) -> int:
    """The ``after_event_id`` that starts a watch of ``session_id`` just before ``since``."""
    if isinstance(since, EventRanges):
        found = since.get(session_id)
        if found is None:
            raise ValueError(f"no call in this EventRanges changed session {session_id!r}")
        since = found
    if isinstance(since, EventRange):
        if since.session_id and since.session_id != session_id:
            raise ValueError(f"the range is of session {since.session_id!r}, not {session_id!r}")
        return since.after_event_id
    session = getattr(since, "session", None)
    if isinstance(session, pb.Session) and session.session_id != session_id:
        raise ValueError(f"the response's range is of session {session.session_id!r}, not {session_id!r}")
    if since.first_event_id < 1:
        raise ValueError("the response carries no event range (first_event_id 0: the server does not send them)")
    return since.first_event_id - 1
