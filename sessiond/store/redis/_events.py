"""A session's event log: one stream per session, entry ids ``0-<event_id>``.

Readers follow it with XREAD BLOCK on a client of their own, so a thousand watched
sessions never starve ordinary commands of connections. Deleting a stream does not
wake the XREADs blocked on it, hence the tombstone ``delete`` appends (see _scripts).
"""

from __future__ import annotations

import asyncio
from typing import Any

from sessiond.core.errors import EventsExpired, SessionNotFound
from sessiond.core.models import Event
from sessiond.store.redis import _codec as rc
from sessiond.store.redis._client import Client, unavailable_on_failure
from sessiond.store.redis._keys import Keys
from sessiond.store.redis._scripts import Scripts

WAIT_BATCH = 1000  # events returned by one wait, as in the memory store


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

    async def wait(self, session_id: str, after_id: int, block_seconds: float) -> list[Event]:
        """Like ``after``, but waits up to ``block_seconds`` for an event ([] then)."""
        found = await self.after(session_id, after_id, WAIT_BATCH)
        if found or block_seconds <= 0:
            return found
        keys = self._keys.session(session_id)
        block_ms = max(1, round(block_seconds * 1000))
        with unavailable_on_failure():
            # BLOCK bounds the wait on the server; a dead connection must not hang us either.
            reply = await asyncio.wait_for(
                self._blocking.xread({keys.events: rc.stream_id(max(0, after_id))}, count=WAIT_BATCH, block=block_ms),
                block_seconds + self._command_timeout,
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
