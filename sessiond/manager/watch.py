"""Event fan-out: one follower per process reads the new events of every watched session
and feeds bounded queues, one per watcher. A watcher whose queue fills up is cut off (it
resumes from its last event id) so one slow client cannot grow memory without bound."""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import Enum

import structlog

from sessiond.core.errors import EventsExpired, SessiondError, SessionNotFound
from sessiond.core.models import Event
from sessiond.periodic import cancel_and_wait
from sessiond.store.protocols import SessionStore

log = structlog.get_logger(__name__)


class WatchEnd(Enum):
    """Why a watch ends: what a watcher finds in its queue instead of an event."""

    FELL_BEHIND = "fell-behind"
    DELETED = "deleted"
    SHUTDOWN = "shutdown"


Item = Event | WatchEnd

READ_BATCH = 1000  # events read per session at once
RETRY_SECONDS = 1.0  # pause after a failed read (the store is down)


@dataclass(eq=False, slots=True)
class Subscription:
    """One watcher's mailbox: at most ``limit`` items, then FELL_BEHIND.

    Not an asyncio.Queue: a queue holds four deques and an Event (about 3 KiB) for its
    whole life, and an idle watch holds none of this mailbox's parts but the object
    itself; the deque comes with the first item and the future only while the watcher waits.
    """

    session_id: str
    limit: int
    items: deque[Item] | None = None
    waiter: asyncio.Future[None] | None = None
    closed: bool = False

    def offer(self, item: Item) -> bool:
        """Queue ``item``; on overflow replace everything with FELL_BEHIND and close."""
        if self.closed:
            return False
        if self.items is None:
            self.items = deque()
        elif len(self.items) >= self.limit:
            self.end(WatchEnd.FELL_BEHIND)
            return False
        self.items.append(item)
        self._wake()
        return True

    def end(self, reason: WatchEnd) -> None:
        if self.closed:
            return
        self.closed = True
        self.items = deque((reason,))
        self._wake()

    async def get(self) -> Item:
        """The next item, once there is one (a cancelled wait loses nothing)."""
        while not self.items:
            self.waiter = asyncio.get_running_loop().create_future()
            try:
                await self.waiter
            finally:
                self.waiter = None
        return self.items.popleft()

    def _wake(self) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)


@dataclass(eq=False, slots=True)
class _Feed:
    last: int  # the newest event id handed to the subscribers
    subscribers: set[Subscription] = field(default_factory=set)


class WatchHub:
    """Fans each watched session's new events out to its watchers in this process.

    One follower task serves every watched session: it hears from the store which
    sessions changed (`SessionStore.changed_sessions`) and reads their new events with
    one `SessionStore.events_after_many` per ``read_sessions`` of them, one call at a
    time: the store's connections stay bounded (one) whatever the number of watchers,
    and a burst over thousands of sessions costs a few round trips. Each event is handed
    to the watchers as one shared object (serialized once by the servicer). Every ``resync_seconds``
    it reads all watched sessions again (a deleted or expired one ends its watches).
    """

    def __init__(
        self,
        store: SessionStore,
        queue_size: int,
        resync_seconds: float = 30.0,
        read_sessions: int = 2000,
    ) -> None:
        self._store = store
        self._queue_size = queue_size
        self._resync_seconds = resync_seconds
        self._read_sessions = read_sessions
        self._feeds: dict[str, _Feed] = {}
        self._closing = False
        self._open: set[Subscription] = set()
        self._dirty: set[str] = set()
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def watchers(self) -> int:
        """Watches open in this process, including those cut off whose stream has not ended yet
        (a client that stopped reading stays counted until its stream is closed)."""
        return len(self._open)

    async def subscribe(self, session_id: str, after_id: int) -> Subscription:
        """Register a watcher; it receives every event with id > ``after_id`` committed
        from now on (older ones it replays from the store itself)."""
        sub = Subscription(session_id, self._queue_size)
        self._open.add(sub)
        if self._closing:
            sub.end(WatchEnd.SHUTDOWN)
            return sub
        if not self._tasks:
            self._tasks = [
                asyncio.create_task(self._listen(), name="watch-notices"),
                asyncio.create_task(self._follow(), name="watch-follower"),
            ]
        feed = self._feeds.get(session_id)
        if feed is None:
            feed = self._feeds[session_id] = _Feed(after_id)
            self._mark((session_id,))  # what was committed before we listened
        feed.subscribers.add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        sub.closed = True
        self._open.discard(sub)
        feed = self._feeds.get(sub.session_id)
        if feed is None:
            return
        feed.subscribers.discard(sub)
        if not feed.subscribers:
            del self._feeds[sub.session_id]

    async def close(self) -> None:
        """End every watch with SHUTDOWN (the streams end UNAVAILABLE and clients resume elsewhere)."""
        self._closing = True
        for feed in self._feeds.values():
            for sub in feed.subscribers:
                sub.end(WatchEnd.SHUTDOWN)
        self._feeds.clear()
        await cancel_and_wait(*self._tasks)
        self._tasks = []

    def _mark(self, session_ids: Iterable[str]) -> None:
        self._dirty.update(session_ids)
        self._wake.set()

    async def _listen(self) -> None:
        while True:
            try:
                async for changed in self._store.changed_sessions():
                    self._mark(self._feeds if changed is None else (s for s in changed if s in self._feeds))
            except SessiondError as exc:
                log.warning("watch notices failed; listening again", error=exc.message)
                self._mark(self._feeds)
                await asyncio.sleep(1.0)

    async def _follow(self) -> None:
        loop = asyncio.get_running_loop()
        resync_at = loop.time() + self._resync_seconds
        while True:
            # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow the cancel that
            # close() sends when the event fires at the same moment, and the task never ends.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout_at(resync_at):
                    await self._wake.wait()
            if loop.time() >= resync_at:
                resync_at = loop.time() + self._resync_seconds
                self._dirty.update(self._feeds)
            self._wake.clear()
            dirty, self._dirty = self._dirty, set()
            ids = [s for s in dirty if s in self._feeds]
            for i in range(0, len(ids), self._read_sessions):
                await self._read(ids[i : i + self._read_sessions])

    async def _read(self, session_ids: list[str]) -> None:
        """Hand the sessions' new events to their subscribers (one events_after_many for
        all of them: one round trip per pipeline, not one per session); mark a session
        again if more are due."""
        after = {sid: feed.last for sid in session_ids if (feed := self._feeds.get(sid)) is not None}
        try:
            found = await self._store.events_after_many(after, READ_BATCH)
        except SessiondError as exc:
            log.warning("watch read failed; retrying", sessions=len(after), error=exc.message)
            await asyncio.sleep(RETRY_SECONDS)
            self._mark(after)
            return
        for session_id, read in found.items():
            feed = self._feeds.get(session_id)
            if feed is None or feed.last != after[session_id]:
                continue  # unwatched, or watched anew while we read: its next read covers it
            if isinstance(read, SessionNotFound):
                self._end_feed(session_id, feed, WatchEnd.DELETED)
            elif isinstance(read, EventsExpired):
                self._end_feed(session_id, feed, WatchEnd.FELL_BEHIND)
            else:
                self._hand_out(feed, read)
                if len(read) == READ_BATCH:
                    self._mark((session_id,))

    @staticmethod
    def _hand_out(feed: _Feed, events: list[Event]) -> None:
        for event in events:
            if event.event_id <= feed.last:
                continue
            for sub in list(feed.subscribers):
                if not sub.offer(event):
                    feed.subscribers.discard(sub)
            feed.last = event.event_id

    def _end_feed(self, session_id: str, feed: _Feed, reason: WatchEnd) -> None:
        for sub in feed.subscribers:
            sub.end(reason)
        feed.subscribers.clear()
        if self._feeds.get(session_id) is feed:
            del self._feeds[session_id]
