"""The event ids a call's commits appended, per session: a caller watches from just
before its own write (after_event_id = first - 1) and misses nothing it caused.

A store commit gives its events consecutive ids ending at the committed session's
``last_event_id`` (the store contract), so the range of a commit is known from that
id and the number of events its change made; nothing is stored for it. Use cases
commit through ``mutate``/``created`` below; the transport opens ``recording()``
around one call and reads the ranges afterwards. Work started outside a recording
(window timers, the janitor) records nothing.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from sessiond.core.models import UNCHANGED, Mutation, Session, Turn
from sessiond.core.requests import RequestMemo, RequestTag, recall, remember
from sessiond.store.protocols import Change, SessionStore, T


@dataclass(frozen=True, slots=True)
class EventRange:
    """Ids ``first``..``last`` of a session's log; empty (``last == first - 1``) when a
    call stored no event, ``first - 1`` being the newest id at the time."""

    first: int
    last: int

    @classmethod
    def after(cls, last_event_id: int) -> EventRange:
        """The empty range of a write that stored nothing on a log ending at ``last_event_id``."""
        return cls(last_event_id + 1, last_event_id)

    def merge(self, later: EventRange) -> EventRange:
        """This range and a later commit's on the same session, as one (empty stays empty)."""
        if later.last < later.first:
            return self if self.last >= self.first else later
        if self.last < self.first:
            return later
        return EventRange(self.first, later.last)


@dataclass(slots=True)
class CommitLog:
    """The ranges the commits of one call produced, by session id."""

    ranges: dict[str, EventRange] = field(default_factory=dict)
    open: bool = True

    def note(self, session_id: str, appended: EventRange) -> None:
        if self.open:
            known = self.ranges.get(session_id)
            self.ranges[session_id] = appended if known is None else known.merge(appended)

    def range_of(self, session_id: str) -> EventRange | None:
        return self.ranges.get(session_id)


_current: ContextVar[CommitLog | None] = ContextVar("sessiond_commit_log", default=None)


@contextlib.contextmanager
def recording() -> Iterator[CommitLog]:
    """Collect the event ranges of the commits made inside the block (this task's)."""
    log = CommitLog()
    token = _current.set(log)
    try:
        yield log
    finally:
        _current.reset(token)
        log.open = False  # tasks started inside keep a reference; they must not add to it


def _note(session_id: str, appended: EventRange) -> None:
    log = _current.get()
    if log is not None:
        log.note(session_id, appended)


async def mutate(
    store: SessionStore, session_id: str, change: Change[T], *, turn_number: int | None = None
) -> tuple[Session, T]:
    """``store.mutate``, noting the ids the commit gave the change's events."""
    appended = 0

    def counted(session: Session, turn: Turn | None, now: float) -> tuple[Mutation, T]:
        nonlocal appended
        mutation, result = change(session, turn, now)
        appended = len(mutation.events) if mutation.changed else 0  # the committed run is the last
        return mutation, result

    session, result = await store.mutate(session_id, counted, turn_number=turn_number)
    _note(session_id, EventRange(session.last_event_id - appended + 1, session.last_event_id))
    return session, result


async def mutate_once(
    store: SessionStore,
    session_id: str,
    change: Change[T],
    request: RequestTag | None,
    *,
    keep: Callable[[Any], dict[str, Any]] = lambda _: {},  # given the result T (mypy cannot infer T through it)
    turn_number: int | None = None,
) -> tuple[Session, T | RequestMemo]:
    """``mutate`` made safe to repeat (AIP-155): with a request tag the commit also
    records it on the session (same atomic step), with the event range and ``keep(result)``;
    a repeat of it changes nothing, notes the first call's range and returns its memo in
    place of the result. Without a tag, plain ``mutate``."""
    if request is None:
        return await mutate(store, session_id, change, turn_number=turn_number)
    appended = 0
    replayed: RequestMemo | None = None

    def once(session: Session, turn: Turn | None, now: float) -> tuple[Mutation, T | RequestMemo]:
        nonlocal appended, replayed
        appended, replayed = 0, recall(session.requests, request, now)  # a store may run this again
        if replayed is not None:
            return UNCHANGED, replayed
        mutation, result = change(session, turn, now)
        if mutation.changed:
            appended = len(mutation.events)
            first = session.last_event_id + 1  # the ids the commit will give these events
            memo = RequestMemo(request.fingerprint, now, first, first + appended - 1, keep(result))
            session.requests = remember(session.requests, request, memo, now)
        return mutation, result

    session, result = await store.mutate(session_id, once, turn_number=turn_number)
    if replayed is not None:
        _note(session_id, EventRange(replayed.first_event_id, replayed.last_event_id))
    else:
        _note(session_id, EventRange(session.last_event_id - appended + 1, session.last_event_id))
    return session, result


def repeated(session: Session, memo: RequestMemo) -> Session:
    """Note the range a call first got, for a repeat of it answered from ``memo``."""
    _note(session.session_id, EventRange(memo.first_event_id, memo.last_event_id))
    return session


def created(session: Session) -> Session:
    """Note a session a call created (or found created by its request id): creating
    stores no event, and happened before the log's first one."""
    _note(session.session_id, EventRange.after(0))
    return session
