"""RedisStore: the SessionStore contract on Redis (one node or a Redis Cluster).

Per session (all keys share the hash tag ``{session_id}``, see _keys):
the record (JSON string), its turn history (sorted set) and its event log (stream).
A change is read -> ``change(session, turn, now)`` in Python -> compare-and-set script
(see _scripts), retried on conflict; the rules live once, in sessiond.core. Changes of
one session within this process queue on a per-session lock, so only changes from
other replicas ever make a compare-and-set fail.

Every commit refreshes a sliding TTL on all of the session's keys: the session's idle
TTL plus ``ttl_margin`` (at least the janitor's retention of expired sessions), so Redis
frees abandoned sessions by itself even if no janitor runs. Time is the Redis server's
(TIME), shared by every replica.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import random
from collections.abc import Sequence
from typing import Any

from sessiond.core.errors import (
    EventsExpired,
    LimitReached,
    SessionExists,
    SessionNotFound,
    TurnNotFound,
    Unavailable,
)
from sessiond.core.guards import check_etag
from sessiond.core.models import Event, Session, SessionStatus, Turn
from sessiond.store.protocols import Change, DueWindow, SessionQuery, StoreStats, T
from sessiond.store.redis import _codec as rc
from sessiond.store.redis._client import Client, ConnectOptions, connect, unavailable_on_failure
from sessiond.store.redis._indexes import BATCH, Indexes
from sessiond.store.redis._keys import DEFAULT_PREFIX, Keys
from sessiond.store.redis._locks import KeyedLocks
from sessiond.store.redis._requests import RequestIds
from sessiond.store.redis._scripts import Scripts

COMMITTED, REPLAYED, CONFLICT, GONE = 1, 2, 0, -1
WAIT_BATCH = 1000  # events returned by one wait_events, as in the memory store
TOMBSTONE_TTL_MS = 60_000  # how long a deleted session's stream still tells late readers it is gone


class RedisStore:
    """Sessions in Redis. Build with ``RedisStore.from_url``; ``close()`` when done."""

    name = "redis"

    def __init__(
        self,
        client: Client,
        *,
        blocking_client: Client | None = None,
        history: int = 50,
        event_retention: int = 1000,
        key_prefix: str = DEFAULT_PREFIX,
        ttl_margin: float = 3600.0,
        request_id_ttl: float = 24 * 3600.0,
        prune_grace: float = 60.0,
        command_timeout: float = 5.0,
        max_attempts: int = 100,
        compress: bool = True,
    ) -> None:
        """Use ``client`` (redis.asyncio.Redis or RedisCluster, bytes replies) for commands
        and ``blocking_client`` (default: ``client``) for XREAD BLOCK, whose connections
        stay busy while a watcher waits; give it its own pool. ``compress`` deflates what
        is written (see _codec); values are readable either way."""
        if history < 1 or event_retention < 1:
            raise ValueError("history and event_retention must be at least 1")
        self._client = client
        self._blocking = blocking_client if blocking_client is not None else client
        self._history = history
        self._retention = event_retention
        self._ttl_margin = ttl_margin
        self._command_timeout = command_timeout
        self._max_attempts = max_attempts
        self._compress = compress
        self._keys = Keys(key_prefix)
        self._scripts = Scripts.register(client)
        self._indexes = Indexes(client, self._scripts, self._keys.index, prune_grace)
        self._requests = RequestIds(client, self._scripts, self._keys, request_id_ttl)
        self._locks = KeyedLocks()

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        cluster: bool = False,
        history: int = 50,
        event_retention: int = 1000,
        key_prefix: str = DEFAULT_PREFIX,
        ttl_margin: float = 3600.0,
        request_id_ttl: float = 24 * 3600.0,
        prune_grace: float = 60.0,
        compress: bool = True,
        options: ConnectOptions | None = None,
    ) -> RedisStore:
        """A store on ``url`` (``redis://[user:password@]host:port/db``, ``rediss://`` for TLS);
        ``cluster=True`` for a Redis Cluster (``url`` names any node; db must be 0).
        Connects lazily: nothing touches the network before the first call."""
        options = options if options is not None else ConnectOptions()
        client, blocking = connect(url, cluster=cluster, options=options)
        return cls(
            client,
            blocking_client=blocking,
            history=history,
            event_retention=event_retention,
            key_prefix=key_prefix,
            ttl_margin=ttl_margin,
            request_id_ttl=request_id_ttl,
            prune_grace=prune_grace,
            command_timeout=options.command_timeout,
            compress=compress,
        )

    @property
    def keys(self) -> Keys:
        """Key names (for tests and operators)."""
        return self._keys

    # Clock

    async def now(self) -> float:
        with unavailable_on_failure():
            return _seconds(await self._scripts.clock(keys=[self._keys.index.created]))

    # Create, get, list, delete

    async def create(self, session: Session, request_id: str, max_sessions: int) -> tuple[Session, bool]:
        with unavailable_on_failure():
            sid = session.session_id
            if request_id:
                earlier = await self._requests.claim(request_id, sid, self._get_or_none)
                if earlier is not None:
                    return earlier, False
            try:
                await self._create(session, max_sessions)
            except BaseException:
                if request_id:
                    # Free the claim so a retry need not wait it out; if Redis is down, it expires.
                    with contextlib.suppress(Exception):
                        await asyncio.shield(self._requests.release(request_id, sid))
                raise
            if request_id:
                await self._requests.done(request_id, sid)
            return session.clone(), True

    async def _create(self, session: Session, max_sessions: int) -> None:
        keys = self._keys.session(session.session_id)
        if await self._client.exists(keys.session):
            raise SessionExists(session.session_id)
        if await self._indexes.count() >= max_sessions and await self._count_alive() >= max_sessions:
            raise LimitReached(f"the server holds its maximum of {max_sessions} sessions; end or delete some")
        # Index entries first: a window must never be open without its deadline entry.
        await self._indexes.put(session)
        record = rc.encode_session(session, self._compress)
        created = await self._scripts.create(keys=keys.all, args=[record, self._ttl_ms(session)])
        if not created:
            # Another replica took the id between our check and now: restore its entries.
            winner = await self._get_or_none(session.session_id)
            if winner is not None:
                await self._indexes.put(winner)
            raise SessionExists(session.session_id)
        await self._indexes.put(session)  # again: a reader may have pruned them before the record existed

    async def _count_alive(self) -> int:
        """Sessions whose record exists: the exact count, needed only near the limit."""
        ids = await self._indexes.newest_first()
        alive = await self._exists_many(ids)
        await self._prune([sid for sid, ok in zip(ids, alive, strict=True) if not ok])
        return sum(alive)

    async def get(self, session_id: str) -> Session:
        with unavailable_on_failure():
            session = await self._get_or_none(session_id)
        if session is None:
            raise SessionNotFound(session_id)
        return session

    async def _get_or_none(self, session_id: str) -> Session | None:
        raw = await self._client.get(self._keys.session(session_id).session)
        return rc.decode_session(_bytes(raw)) if raw is not None else None

    async def find(self, query: SessionQuery, offset: int, limit: int) -> tuple[list[Session], int]:
        """Newest first. Filters are checked on the records themselves (see docs in __init__)."""
        with unavailable_on_failure():
            ids = await self._indexes.newest_first()
            offset, limit = max(0, offset), max(0, limit)
            if query == SessionQuery():
                alive = await self._exists_many(ids)
                await self._prune([sid for sid, ok in zip(ids, alive, strict=True) if not ok])
                live = [sid for sid, ok in zip(ids, alive, strict=True) if ok]
                records = await self._get_many(live[offset : offset + limit])
                return [rc.decode_session(r) for r in records if r is not None], len(live)
            needles = _needles(query)
            found: list[Session] = []
            gone: list[str] = []
            for start in range(0, len(ids), BATCH):
                chunk = ids[start : start + BATCH]
                for sid, raw in zip(chunk, await self._get_many(chunk), strict=True):
                    if raw is None:
                        gone.append(sid)
                        continue
                    plain = rc.unpack(raw)
                    if all(n in plain for n in needles) and query.matches(s := rc.decode_session(plain)):
                        found.append(s)
            await self._prune(gone)
            return found[offset : offset + limit], len(found)

    async def delete(self, session_id: str, etag: str = "") -> None:
        keys = self._keys.session(session_id)
        with unavailable_on_failure():
            async with self._locks.hold(session_id):
                for attempt in range(self._max_attempts):
                    raw = await self._client.get(keys.session)
                    if raw is None:
                        raise SessionNotFound(session_id)
                    session = rc.decode_session(_bytes(raw))
                    check_etag(session, etag)
                    outcome = await self._scripts.delete(keys=keys.all, args=[_digest(_bytes(raw)), TOMBSTONE_TTL_MS])
                    if outcome == GONE:
                        raise SessionNotFound(session_id)
                    if outcome == COMMITTED:
                        break
                    await _backoff(attempt)
                else:
                    raise Unavailable(f"session {session_id!r} changes too often to delete; retry")
                await self._indexes.drop(session_id, session.create_time)

    # Mutate

    async def mutate(self, session_id: str, change: Change[T], *, turn_number: int | None = None) -> tuple[Session, T]:
        """Run ``change`` atomically (see the protocol). Under contention from other
        replicas ``change`` may run more than once, each time on a fresh read."""
        with unavailable_on_failure():
            async with self._locks.hold(session_id):
                for attempt in range(self._max_attempts):
                    done = await self._try_mutate(session_id, change, turn_number)
                    if done is not None:
                        return done
                    await _backoff(attempt)
        raise Unavailable(f"session {session_id!r} is changed by other replicas too often; retry")

    async def _try_mutate(
        self, session_id: str, change: Change[T], turn_number: int | None
    ) -> tuple[Session, T] | None:
        """One read -> change -> compare-and-set; None when another replica committed first."""
        keys = self._keys.session(session_id)
        reply = await self._scripts.read(
            keys=[keys.session, keys.turns], args=["" if turn_number is None else str(turn_number)]
        )
        now = _seconds(reply[:2])
        if reply[2] is None:
            raise SessionNotFound(session_id)
        raw = _bytes(reply[2])
        turn: Turn | None = None
        if turn_number is not None:
            if reply[3] is None:
                raise TurnNotFound(session_id, turn_number)
            turn = rc.decode_turn(_bytes(reply[3]))
        before = rc.decode_session(raw)
        session = before.clone()
        mutation, result = change(session, turn, now)
        if not mutation.changed:
            return before, result
        # The generic bookkeeping, exactly as the memory store does it.
        session.revision += 1
        session.update_time = now
        if mutation.activity:
            session.last_activity_time = now
        events: list[Event] = []
        for draft in mutation.events:
            session.last_event_id += 1
            events.append(Event(session.last_event_id, session_id, now, draft.kind, draft.data))

        opened, closed = _deadline_change(before, session)
        if opened is not None:
            await self._indexes.set_deadline(session_id, opened)  # intent first: never an open window unindexed
        args = self._commit_args(raw, session, now, events, mutation.new_turn, mutation.updated_turn)
        outcome = await self._scripts.commit(keys=keys.all, args=args)
        if outcome == GONE:
            if opened is not None:
                await self._indexes.drop_deadline(session_id, opened)
            raise SessionNotFound(session_id)
        if outcome not in (COMMITTED, REPLAYED):
            return None
        if opened is not None:
            await self._indexes.set_deadline(session_id, opened)  # again: a sweep may have dropped the intent
        elif closed is not None:
            await self._indexes.drop_deadline(session_id, closed)
        return session, result

    def _commit_args(
        self,
        raw: bytes,
        session: Session,
        now: float,
        events: Sequence[Event],
        new_turn: Turn | None,
        updated_turn: Turn | None,
    ) -> list[Any]:
        args: list[Any] = [
            _digest(raw),
            rc.encode_session(session, self._compress),
            self._ttl_ms(session),
            self._history,
            self._retention,
            repr(now),
            len(events),
        ]
        for event in events:
            args += [rc.stream_id(event.event_id), event.kind, rc.encode_event_data(event.data, self._compress)]
        for turn in (new_turn, updated_turn):
            args += [str(turn.turn_number), rc.encode_turn(turn, self._compress)] if turn is not None else ["", ""]
        return args

    def _ttl_ms(self, session: Session) -> int:
        return max(1, round((session.settings.idle_ttl_seconds + self._ttl_margin) * 1000))

    # Turns and events

    async def turns(self, session_id: str, offset: int, limit: int) -> list[Turn]:
        keys = self._keys.session(session_id)
        offset = max(0, offset)
        start, stop = (offset, offset + limit - 1) if limit > 0 else (1, 0)  # 1..0: an empty range
        with unavailable_on_failure():
            found = await self._scripts.turns(keys=[keys.session, keys.turns], args=[start, stop])
        if found is None:
            raise SessionNotFound(session_id)
        return [rc.decode_turn(_bytes(raw)) for raw in found]

    async def events_after(self, session_id: str, after_id: int, limit: int) -> list[Event]:
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

    async def wait_events(self, session_id: str, after_id: int, block_seconds: float) -> list[Event]:
        found = await self.events_after(session_id, after_id, WAIT_BATCH)
        if found or block_seconds <= 0:
            return found
        keys = self._keys.session(session_id)
        block_ms = max(1, round(block_seconds * 1000))
        with unavailable_on_failure():
            # XREAD BLOCK 0 would wait forever; a dead connection must not: bound the wait locally too.
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

    # Indexes

    async def windows_due(self, until: float) -> list[DueWindow]:
        with unavailable_on_failure():
            now = await self.now()
            entries = await self._indexes.deadlines_until(until)
            records = await self._get_many([sid for sid, _ in entries])
            due: list[DueWindow] = []
            gone: list[str] = []
            for (sid, score), raw in zip(entries, records, strict=True):
                if raw is None:
                    gone.append(sid)
                    continue
                window = rc.decode_session(raw).window
                if window is None:
                    if score <= now:  # a future score may be the intent of a window opening right now
                        await self._indexes.drop_deadline(sid, score)
                    continue
                if window.deadline != score:
                    await self._indexes.set_deadline(sid, window.deadline)
                if window.deadline <= until:
                    due.append(DueWindow(sid, window.turn_number, window.deadline))
            await self._prune(gone, now)
        return sorted(due, key=lambda d: (d.deadline, d.session_id))

    async def sessions_idle(self, until: float, limit: int) -> list[str]:
        idle: list[str] = []
        with unavailable_on_failure():
            ids = await self._indexes.expiring_until(until)
            gone: list[str] = []
            for start in range(0, len(ids), BATCH):
                chunk = ids[start : start + BATCH]
                for sid, raw in zip(chunk, await self._get_many(chunk), strict=True):
                    if raw is None:
                        gone.append(sid)
                        continue
                    expire_time = rc.decode_session(raw).expire_time
                    if expire_time <= until:
                        idle.append(sid)
                    else:  # the score was a stale lower bound: raise it
                        await self._indexes.raise_expiry(sid, expire_time)
                if len(idle) >= limit:
                    break
            await self._prune(gone)
        return idle[: max(0, limit)]

    async def stats(self) -> StoreStats:
        by_status: dict[SessionStatus, int] = {}
        players = windows = 0
        with unavailable_on_failure():
            ids = await self._indexes.newest_first()
            gone: list[str] = []
            for start in range(0, len(ids), BATCH):
                chunk = ids[start : start + BATCH]
                for sid, raw in zip(chunk, await self._get_many(chunk), strict=True):
                    if raw is None:
                        gone.append(sid)
                        continue
                    s = rc.decode_session(raw)
                    by_status[s.status] = by_status.get(s.status, 0) + 1
                    players += len(s.roster)
                    windows += s.window is not None
            await self._prune(gone)
        return StoreStats(by_status, players, windows)

    # Health

    async def ping(self) -> None:
        with unavailable_on_failure():
            await self._client.ping()

    async def close(self) -> None:
        await self._client.aclose()
        if self._blocking is not self._client:
            await self._blocking.aclose()

    # Helpers

    async def _get_many(self, ids: Sequence[str]) -> list[bytes | None]:
        """Session records by id, pipelined (split by node on a cluster)."""
        out: list[bytes | None] = []
        for start in range(0, len(ids), BATCH):
            pipe = self._client.pipeline(transaction=False)
            for sid in ids[start : start + BATCH]:
                pipe.get(self._keys.session(sid).session)
            out.extend(None if r is None else _bytes(r) for r in await pipe.execute())
        return out

    async def _exists_many(self, ids: Sequence[str]) -> list[bool]:
        out: list[bool] = []
        for start in range(0, len(ids), BATCH):
            pipe = self._client.pipeline(transaction=False)
            for sid in ids[start : start + BATCH]:
                pipe.exists(self._keys.session(sid).session)
            out.extend(bool(r) for r in await pipe.execute())
        return out

    async def _prune(self, gone: Sequence[str], now: float | None = None) -> None:
        if gone:
            await self._indexes.prune(gone, now if now is not None else await self.now())


def _deadline_change(before: Session, after: Session) -> tuple[float | None, float | None]:
    """(deadline of a window the change opened or moved, deadline of the window it closed)."""
    old = before.window.deadline if before.window is not None else None
    new = after.window.deadline if after.window is not None else None
    if new is not None and new != old:
        return new, None
    if new is None and old is not None:
        return None, old
    return None, None


def _needles(query: SessionQuery) -> list[bytes]:
    """Byte strings every matching record contains: a cheap filter before decoding JSON."""
    needles = [
        rc.field_needle(name, value)
        for name in ("game_id", "channel_id", "character_id", "world_id", "player_id")
        if (value := getattr(query, name))
    ]
    if query.status is not None:
        needles.append(rc.field_needle("status", query.status.value))
    return needles


def _xread_entries(reply: Any) -> list[tuple[bytes, dict[bytes, bytes]]]:
    """The entries of a one-stream XREAD reply (RESP2 list or RESP3 dict)."""
    if not reply:
        return []
    streams = list(reply.values()) if isinstance(reply, dict) else [entries for _, entries in reply]
    return [(entry_id, rc.entry_fields(fields)) for entries in streams for entry_id, fields in entries]


def _seconds(pair: Sequence[Any]) -> float:
    """A TIME reply (seconds, microseconds) as float seconds."""
    return int(pair[0]) + int(pair[1]) / 1_000_000


def _digest(raw: bytes) -> str:
    return hashlib.sha1(raw).hexdigest()


def _bytes(value: Any) -> bytes:
    return value if isinstance(value, bytes) else str(value).encode()


async def _backoff(attempt: int) -> None:
    """A tiny jittered pause before retrying a compare-and-set that lost a race."""
    await asyncio.sleep(random.uniform(0, min(0.05, 0.001 * 2 ** min(attempt, 6))))
