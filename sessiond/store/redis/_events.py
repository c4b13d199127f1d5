"""A session's event log: one stream per session, entry ids ``0-<event_id>``.

Every commit that appends events, and every delete, also PUBLISHes on a channel named
as the session's stream. `EventNotices` follows all of them with one pattern
subscription per process, so any number of watched sessions costs one connection;
watchers then read what changed with ordinary commands. A pub/sub connection that
drops may have missed notices: after it is back, followers are told to read everything.
``wait`` (XREAD BLOCK on a client of its own) serves one-off waits.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

import structlog
from redis.asyncio import RedisCluster

from sessiond.core.errors import EventsExpired, SessionNotFound
from sessiond.core.models import Event
from sessiond.periodic import cancel_and_wait
from sessiond.store.notices import ChangeNotices
from sessiond.store.protocols import EventsRead
from sessiond.store.redis import _packing as rc
from sessiond.store.redis._client import FAILURES, Client, unavailable_on_failure
from sessiond.store.redis._keys import Keys
from sessiond.store.redis._scripts import Scripts

log = structlog.get_logger(__name__)

WAIT_BATCH = 1000  # events returned by one wait, as in the memory store
RESUBSCRIBE_SECONDS = 0.5  # pause before subscribing again after the connection failed
DRAIN_BATCH = 1000  # notices taken at once before followers are told
PIPELINE_BATCH = 500  # sessions read per pipeline by after_many


class EventNotices:
    """The changed-sessions feed of one store: one PSUBSCRIBE for the whole process."""

    def __init__(self, blocking: Client, keys: Keys) -> None:
        self._blocking = blocking
        self._keys = keys
        self._notices = ChangeNotices()
        self._task: asyncio.Task[None] | None = None

    def listen(self) -> AsyncIterator[set[str] | None]:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._follow(), name="redis-event-notices")
        return self._notices.listen()

    async def close(self) -> None:
        if self._task is not None:
            await cancel_and_wait(self._task)

    async def _follow(self) -> None:
        pattern = self._keys.events_pattern()
        while True:
            pubsub: Any = None
            try:
                pubsub = await self._pubsub()
                await pubsub.psubscribe(pattern)
                self._notices.notify_all()  # whatever happened before now was not heard
                while True:
                    changed = await self._drain(pubsub)
                    if changed:
                        self._notices.notify(changed)
            except Exception as exc:  # any failure: never stop following, say why, retry
                log.warning("event notices lost; subscribing again", error=f"{type(exc).__name__}: {exc}")
                self._notices.notify_all()
                await asyncio.sleep(RESUBSCRIBE_SECONDS)
            finally:
                if pubsub is not None:
                    with contextlib.suppress(*FAILURES):
                        await pubsub.aclose()

    async def _pubsub(self) -> Any:
        """A pub/sub connection; on a cluster, to any one node (PUBLISH reaches every node)."""
        if isinstance(self._blocking, RedisCluster):
            await self._blocking.initialize()
            return self._blocking.pubsub(node=self._blocking.get_random_node(), ignore_subscribe_messages=True)
        return self._blocking.pubsub(ignore_subscribe_messages=True)

    async def _drain(self, pubsub: Any) -> set[str]:
        """The sessions of the next notice and of every one already waiting behind it."""
        changed: set[str] = set()
        message = await pubsub.get_message(timeout=None)
        while message is not None and len(changed) < DRAIN_BATCH:
            if message.get("type") == "pmessage":
                session_id = self._keys.session_of_events(_text(message["channel"]))
                if session_id is not None:
                    changed.add(session_id)
            message = await pubsub.get_message(timeout=0)
        return changed


def _read_of(session_id: str, after_id: int, exists: bool, entries: Sequence[Any]) -> EventsRead:
    """What one session's EXISTS and XRANGE replies of ``EventLog.after_many`` say."""
    if not exists or any(rc.is_tombstone(fields) for _, fields in entries):
        return SessionNotFound(session_id)
    events = [rc.decode_event(session_id, entry_id, fields) for entry_id, fields in entries]
    if events and events[0].event_id > after_id + 1:
        return EventsExpired(session_id, after_id, events[0].event_id)
    return events


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class EventLog:
    def __init__(self, client: Client, blocking: Client, scripts: Scripts, keys: Keys, command_timeout: float) -> None:
        self._client = client
        self._blocking = blocking
        self._scripts = scripts
        self._keys = keys
        self._command_timeout = command_timeout

    async def after(self, session_id: str, after_id: int, limit: int) -> list[Event]:
        """Stored events with id > after_id, oldest first (the protocol's events_after)."""
        keys = self._keys.session(session_id)
        with unavailable_on_failure():
            reply = await self._scripts.events(
                keys=[keys.session, keys.events], args=[rc.stream_id(max(0, after_id) + 1), max(1, limit)]
            )
        if reply is None:
            raise SessionNotFound(session_id)
        oldest, rows = reply
        if not rows:
            return []
        first_kept = rc.event_id_of(oldest[0][0])
        if after_id < first_kept - 1:
            raise EventsExpired(session_id, after_id, first_kept)
        return [rc.decode_event(session_id, entry_id, rc.entry_fields(fields)) for entry_id, fields in rows[:limit]]

    async def after_many(self, after: Mapping[str, int], limit: int) -> dict[str, EventsRead]:
        """``after`` of many sessions, pipelined (split by node on a cluster), in batches of
        ``PIPELINE_BATCH`` sessions on one connection each. Plain commands, not the EVENTS
        script: a gap before the first entry read (not the oldest kept) says events were
        trimmed, and a delete between the two commands shows as its tombstone entry."""
        found: dict[str, EventsRead] = {}
        ids = list(after)
        for start in range(0, len(ids), PIPELINE_BATCH):
            batch = ids[start : start + PIPELINE_BATCH]
            with unavailable_on_failure():
                pipe = self._client.pipeline(transaction=False)
                for sid in batch:
                    keys = self._keys.session(sid)
                    pipe.exists(keys.session)
                    pipe.xrange(keys.events, rc.stream_id(max(0, after[sid]) + 1), "+", count=max(1, limit))
                replies = await pipe.execute()
            for i, sid in enumerate(batch):
                found[sid] = _read_of(sid, after[sid], bool(replies[2 * i]), replies[2 * i + 1])
        return found

    async def wait(self, session_id: str, after_id: int, block_seconds: float) -> list[Event]:
        """Like ``after``, but waits up to ``block_seconds`` for an event ([] then)."""
        found = await self.after(session_id, after_id, WAIT_BATCH)
        if found or block_seconds <= 0:
            return found
        keys = self._keys.session(session_id)
        block_ms = max(1, round(block_seconds * 1000))
        with unavailable_on_failure():
            # BLOCK bounds the wait on the server; a dead connection must not hang us either.
            async with asyncio.timeout(block_seconds + self._command_timeout):
                reply = await self._blocking.xread(
                    {keys.events: rc.stream_id(max(0, after_id))}, count=WAIT_BATCH, block=block_ms
                )
            entries = _xread_entries(reply)
            if not entries:
                if not await self._client.exists(keys.session):
                    raise SessionNotFound(session_id)
                return []
        if any(rc.is_tombstone(fields) for _, fields in entries):
            raise SessionNotFound(session_id)
        events = [rc.decode_event(session_id, entry_id, fields) for entry_id, fields in entries]
        if events[0].event_id > after_id + 1:  # trimmed between our read and the XREAD
            raise EventsExpired(session_id, after_id, events[0].event_id)
        return events


def _xread_entries(reply: Any) -> list[tuple[bytes, dict[bytes, bytes]]]:
    """The entries of a one-stream XREAD reply (RESP2 list or RESP3 dict)."""
    if not reply:
        return []
    streams = list(reply.values()) if isinstance(reply, dict) else [entries for _, entries in reply]
    return [(entry_id, rc.entry_fields(fields)) for entries in streams for entry_id, fields in entries]
