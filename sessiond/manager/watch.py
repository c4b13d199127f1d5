"""Event fan-out: one store reader per watched session in this process, feeding
bounded queues, one per watcher. A watcher whose queue fills up is cut off (it
resumes from its last event id) so one slow client cannot grow memory without bound."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from enum import Enum

import structlog

from sessiond.core.errors import EventsExpired, SessiondError, SessionNotFound
from sessiond.core.models import Event
from sessiond.store.protocols import SessionStore

log = structlog.get_logger(__name__)


class WatchEnd(Enum):
    """Why a watch ends: what a watcher finds in its queue instead of an event."""

    FELL_BEHIND = "fell-behind"
    DELETED = "deleted"
    SHUTDOWN = "shutdown"


Item = Event | WatchEnd


@dataclass(eq=False, slots=True)
class Subscription:
    session_id: str
    queue: asyncio.Queue[Item]
    closed: bool = False

    def offer(self, item: Item) -> bool:
        """Queue ``item``; on overflow replace everything with FELL_BEHIND and close."""
        if self.closed:
            return False
        try:
            self.queue.put_nowait(item)
            return True
        except asyncio.QueueFull:
            self.end(WatchEnd.FELL_BEHIND)
            return False

    def end(self, reason: WatchEnd) -> None:
        if self.closed:
            return
        self.closed = True
        while not self.queue.empty():
            self.queue.get_nowait()
        self.queue.put_nowait(reason)


@dataclass(eq=False, slots=True)
class _Feed:
    subscribers: set[Subscription] = field(default_factory=set)
    task: asyncio.Task[None] | None = None


class WatchHub:
    def __init__(self, store: SessionStore, queue_size: int, block_seconds: float = 5.0) -> None:
        self._store = store
        self._queue_size = queue_size
        self._block_seconds = block_seconds
        self._feeds: dict[str, _Feed] = {}
        self._closing = False

    @property
    def watchers(self) -> int:
        return sum(len(f.subscribers) for f in self._feeds.values())

    async def subscribe(self, session_id: str, after_id: int) -> Subscription:
        """Register a watcher; it receives every event with id > ``after_id`` committed
        from now on (older ones it replays from the store itself)."""
        sub = Subscription(session_id, asyncio.Queue(maxsize=self._queue_size))
        if self._closing:
            sub.end(WatchEnd.SHUTDOWN)
            return sub
        feed = self._feeds.get(session_id)
        if feed is None:
            feed = self._feeds[session_id] = _Feed()
            feed.task = asyncio.create_task(self._read(session_id, feed, after_id), name=f"watch-{session_id}")
        feed.subscribers.add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        sub.closed = True
        feed = self._feeds.get(sub.session_id)
        if feed is None:
            return
        feed.subscribers.discard(sub)
        if not feed.subscribers and feed.task is not None:
            feed.task.cancel()
            del self._feeds[sub.session_id]

    async def close(self) -> None:
        """End every watch with SHUTDOWN (the streams end UNAVAILABLE and clients resume elsewhere)."""
        self._closing = True
        feeds = list(self._feeds.values())
        self._feeds.clear()
        for feed in feeds:
            for sub in feed.subscribers:
                sub.end(WatchEnd.SHUTDOWN)
            if feed.task is not None:
                feed.task.cancel()
        for feed in feeds:
            if feed.task is not None:
                with contextlib.suppress(asyncio.CancelledError):
                    await feed.task

    async def _read(self, session_id: str, feed: _Feed, after_id: int) -> None:
        last = after_id
        while feed.subscribers:
            try:
                batch = await self._store.wait_events(session_id, last, self._block_seconds)
            except SessionNotFound:
                self._end_feed(session_id, feed, WatchEnd.DELETED)
                return
            except EventsExpired:
                self._end_feed(session_id, feed, WatchEnd.FELL_BEHIND)
                return
            except SessiondError as exc:
                log.warning("watch reader failed; retrying", session_id=session_id, error=exc.message)
                await asyncio.sleep(1.0)
                continue
            for event in batch:
                for sub in list(feed.subscribers):
                    if not sub.offer(event):
                        feed.subscribers.discard(sub)
                last = event.event_id

    def _end_feed(self, session_id: str, feed: _Feed, reason: WatchEnd) -> None:
        for sub in feed.subscribers:
            sub.end(reason)
        feed.subscribers.clear()
        if self._feeds.get(session_id) is feed:
            del self._feeds[session_id]
