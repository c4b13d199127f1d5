"""RedisStore: the SessionStore contract on Redis (one node or a Redis Cluster).

Per session (all keys share the hash tag ``{session_id}``, see _keys):
the record (JSON string), its turn history (sorted set) and its event log (stream).
A change is read -> ``change(session, turn, now)`` in Python -> compare-and-set script
(see _scripts), retried on conflict; the rules live once, in sessiond.core. Changes of
one session within this process queue on a per-session lock, so only changes from
other replicas ever make a compare-and-set fail.

With ``outbox=True`` (the ``redis+neo4j`` store), each change also appends its durable
facts (sessiond.core.facts) to its session's (or profile's) outbox stream, in the same
script, for the projector (sessiond.store.outbox) to apply to the graph (see _outbox).
With ``id_registry=True`` (also the ``redis+neo4j`` store) the ids of sessions that only
the graph holds stay taken (see _registry).

Every commit refreshes a sliding TTL on all of the session's keys: the session's idle
TTL plus ``ttl_margin`` (at least the janitor's retention of expired sessions), so Redis
frees abandoned sessions by itself even if no janitor runs. Time is the Redis server's
(TIME), shared by every replica.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import sys
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any

from redis.asyncio import RedisCluster

from sessiond.core import facts
from sessiond.core.errors import (
    ProfileNotFound,
    SessionExists,
    SessionNotFound,
    TooManySessions,
    TurnNotFound,
    Unavailable,
)
from sessiond.core.guards import check_etag
from sessiond.core.models import Event, Persistence, PlayerProfile, Session, Turn
from sessiond.core.paging import SessionKey
from sessiond.store._backoff import backoff_delay
from sessiond.store._bookkeeping import stamp_commit
from sessiond.store._keyed_locks import KeyedLocks
from sessiond.store.outbox import Fact, OutboxStats
from sessiond.store.protocols import Change, DueWindow, EventsRead, ProfileChange, SessionQuery, StoreStats, T
from sessiond.store.redis import _packing as rc
from sessiond.store.redis._client import Client, ConnectOptions, connect, unavailable_on_failure
from sessiond.store.redis._events import EventLog, EventNotices
from sessiond.store.redis._indexes import Indexes
from sessiond.store.redis._keys import DEFAULT_PREFIX, Keys
from sessiond.store.redis._listing import Listing
from sessiond.store.redis._locks import Leases
from sessiond.store.redis._outbox import OutboxLog
from sessiond.store.redis._profiles import Profiles
from sessiond.store.redis._profiles import encode as encode_profile
from sessiond.store.redis._registry import CHECK, NEW, IdRegistry
from sessiond.store.redis._requests import RequestIds
from sessiond.store.redis._scripts import CommitArgs, Scripts

COMMITTED, REPLAYED, CONFLICT, GONE = 1, 2, 0, -1
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
        lock_lease: float = 10.0,
        command_timeout: float = 5.0,
        max_attempts: int = 100,
        compress: bool = True,
        outbox: bool = False,
        id_registry: bool = False,
    ) -> None:
        """Use ``client`` (redis.asyncio.Redis or RedisCluster, bytes replies) for commands
        and ``blocking_client`` (default: ``client``) for XREAD BLOCK, whose connections
        stay busy while a watcher waits; give it its own pool. ``compress`` deflates what
        is written (see _packing); values are readable either way. ``lock`` leases end
        ``lock_lease`` seconds after their holder stopped renewing them (it died).
        ``outbox`` makes every change append its durable facts to an outbox (see _outbox);
        ``id_registry`` keeps the ids of sessions Redis no longer holds taken (see _registry)."""
        if history < 1 or event_retention < 1:
            raise ValueError("history and event_retention must be at least 1")
        self._client = client
        self._blocking = blocking_client if blocking_client is not None else client
        self._history = history
        self._retention = event_retention
        self._ttl_margin = ttl_margin
        self._max_attempts = max_attempts
        self._compress = compress
        self._keys = Keys(key_prefix)
        self._scripts = Scripts.register(client)
        self._indexes = Indexes(client, self._scripts, self._keys.index, prune_grace)
        # Records older than the persistence field: the redis+neo4j store projected them all.
        self._legacy = Persistence.DURABLE if outbox else Persistence.EPHEMERAL
        self._listing = Listing(client, self._keys, self._indexes, self.now, self._legacy)
        self._requests = RequestIds(client, self._scripts, self._keys, request_id_ttl)
        self._events = EventLog(client, self._blocking, self._scripts, self._keys, command_timeout)
        self._notices = EventNotices(self._blocking, self._keys)
        self._outbox = OutboxLog(client, self._scripts, self._keys, enabled=outbox, compress=compress)
        self._profiles = Profiles(client, self._scripts, self._keys, self._outbox, compress)
        self._registry = IdRegistry(client, self._scripts, self._keys, enabled=id_registry)
        self._leases = Leases(client, self._scripts, self._keys, lock_lease)
        self._locks = KeyedLocks()  # per session: mutate, delete
        self._profile_locks = KeyedLocks()

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
        lock_lease: float = 10.0,
        compress: bool = True,
        outbox: bool = False,
        id_registry: bool = False,
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
            lock_lease=lock_lease,
            command_timeout=options.command_timeout,
            compress=compress,
            outbox=outbox,
            id_registry=id_registry,
        )

    @property
    def keys(self) -> Keys:
        """Key names (for tests and operators)."""
        return self._keys

    @property
    def outbox_log(self) -> OutboxLog:
        """The outboxes, as a Projector drains them (sessiond.store.outbox.OutboxSource)."""
        return self._outbox

    @property
    def registry(self) -> IdRegistry:
        """The ids taken, for the durable store to consult and backfill (see _registry)."""
        return self._registry

    async def outbox_backlog(self, session_ids: Sequence[str]) -> list[tuple[int, Fact | None]]:
        """Per session: its facts waiting for the projector, and the oldest of them."""
        return await self._outbox.backlog([self._keys.session(sid).outbox for sid in session_ids])

    async def outbox_stats(self) -> OutboxStats:
        """Facts not yet projected, the age of the oldest, and the parked ones."""
        return await self._outbox.stats()

    # Clock

    async def now(self) -> float:
        with unavailable_on_failure():
            return rc.time_seconds(await self._scripts.clock(keys=[self._keys.index.created]))

    # Create, get, delete

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

    async def _create(self, session: Session, max_sessions: int, *, restoring: bool = False) -> None:
        keys = self._keys.session(session.session_id)
        mode = self._registry.create_mode(restoring=restoring, durable=facts.durable(session))
        if await self._client.exists(*([keys.session, keys.taken] if mode in (NEW, CHECK) else [keys.session])):
            raise SessionExists(session.session_id)
        # Counted, then created: replicas creating at the same moment may pass the limit by
        # a few sessions. The cheap count (index size) is checked exactly only near the limit.
        if await self._indexes.count() >= max_sessions and await self._listing.count_alive() >= max_sessions:
            raise TooManySessions(f"the server holds its maximum of {max_sessions} sessions; end or delete some")
        # Index entries first: a window must never be open without its deadline entry,
        # nor an outbox with facts unlisted.
        await self._indexes.put(session)
        await self._outbox.mark(keys.outbox, durable=facts.durable(session))
        record = rc.encode_session(session, self._compress)
        fact_args = self._outbox.args(lambda: facts.facts_of_create(session))
        created = await self._scripts.create(
            keys=keys.with_registry, args=[record, self._ttl_ms(session), mode, *fact_args]
        )
        if not created:
            # Another replica took the id between our check and now: restore its entries.
            winner = await self._get_or_none(session.session_id)
            if winner is not None:
                await self._indexes.put(winner)
                await self._indexes.drop_values(session, winner)
            raise SessionExists(session.session_id)
        await self._indexes.put(session)  # again: a reader may have pruned them before the record existed
        # again: a projector may have found it empty before the commit
        await self._outbox.mark(keys.outbox, durable=facts.durable(session))

    async def restore(self, session: Session, turns: Sequence[Turn]) -> bool:
        """Put back a session read from the durable store (cold restore) with its newest
        turns. False, writing nothing, when the id is in Redis already (another caller
        restored or created it). While the outbox of a session Redis does not hold still
        has facts, the durable copy is older than what Redis last had: SessionNotFound if
        the last of them is its delete (it is gone, the graph just does not know yet), else
        Unavailable (restoring it would lose those facts)."""
        keys = self._keys.session(session.session_id)
        with unavailable_on_failure():
            pending = await self._outbox.facts(keys.outbox)
            # Checked after the outbox: a concurrent restore writes the record and its fact at once.
            if pending and not await self._client.exists(keys.session):
                if pending[-1].get("kind") == facts.SESSION_DELETED:
                    raise SessionNotFound(session.session_id)
                raise Unavailable(
                    f"session {session.session_id!r} is still being written to durable storage; retry shortly"
                )
            try:
                await self._create(session, max_sessions=sys.maxsize, restoring=True)
            except SessionExists:
                return False
            if turns:
                history = sorted(turns, key=lambda t: t.turn_number)[-self._history :]
                await self._client.zadd(
                    keys.turns, {rc.encode_turn(t, self._compress): t.turn_number for t in history}
                )
                await self._client.pexpire(keys.turns, self._ttl_ms(session))
            return True

    async def restore_profile(self, profile: PlayerProfile) -> bool:
        """Put back a profile read from the durable store as it was (its revision too, so
        the durable store takes its next change). False, writing nothing, when Redis has
        one already."""
        value = encode_profile(profile, self._compress)
        with unavailable_on_failure():
            return bool(await self._client.set(self._keys.profile(profile.player_id), value, nx=True))

    async def get(self, session_id: str) -> Session:
        with unavailable_on_failure():
            session = await self._get_or_none(session_id)
        if session is None:
            raise SessionNotFound(session_id)
        return session

    async def get_or_none(self, session_id: str) -> Session | None:
        """The session, or None when Redis does not hold it."""
        with unavailable_on_failure():
            return await self._get_or_none(session_id)

    async def _get_or_none(self, session_id: str) -> Session | None:
        raw = await self._client.get(self._keys.session(session_id).session)
        return rc.decode_session(rc.as_bytes(raw), self._legacy) if raw is not None else None

    async def evict(self, session_id: str, etag: str = "") -> None:
        """Free the session's keys without telling the durable store it is gone."""
        await self.delete(session_id, etag, durable=False)

    async def delete(self, session_id: str, etag: str = "", *, durable: bool = True) -> None:
        """``durable``: also append the delete to the outbox (a caller's DeleteSession), or
        not (the janitor freeing hot storage: the graph keeps the record)."""
        keys = self._keys.session(session_id)
        with unavailable_on_failure():
            async with self._locks.hold(session_id):
                for attempt in range(self._max_attempts):
                    reply = await self._client.get(keys.session)
                    if reply is None:
                        raise SessionNotFound(session_id)
                    raw = rc.as_bytes(reply)
                    session = rc.decode_session(raw, self._legacy)
                    check_etag(session, etag)  # then delete only if it is still the session checked
                    await self._outbox.mark(keys.outbox, durable=facts.durable(session))
                    # create_time in the fact tells this incarnation from a later one under the same id.
                    gone = facts.facts_of_delete(session) if durable else []
                    fact_args = self._outbox.args(lambda: gone)  # noqa: B023 - called right here
                    args = [_digest(raw), TOMBSTONE_TTL_MS, self._registry.delete_frees(durable=durable), *fact_args]
                    outcome = await self._scripts.delete(keys=keys.with_registry, args=args)
                    if outcome == GONE:
                        raise SessionNotFound(session_id)
                    if outcome == COMMITTED:
                        await self._outbox.mark(keys.outbox, durable=facts.durable(session))
                        break
                    await _backoff(attempt)
                else:
                    raise Unavailable(f"session {session_id!r} changes too often to delete; retry")
                await self._indexes.drop(session)

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
        now = rc.time_seconds(reply[:2])
        if reply[2] is None:
            raise SessionNotFound(session_id)
        raw = rc.as_bytes(reply[2])
        turn: Turn | None = None
        if turn_number is not None:
            if reply[3] is None:
                raise TurnNotFound(session_id, turn_number)
            turn = rc.decode_turn(rc.as_bytes(reply[3]))
        before = rc.decode_session(raw, self._legacy)
        session = before.clone()
        mutation, result = change(session, turn, now)
        if not mutation.changed:
            return before, result
        events = stamp_commit(session, mutation, now)
        opened, closed = _deadline_change(before, session)
        if opened is not None:
            await self._indexes.set_deadline(session_id, opened)  # intent first: never an open window unindexed
        await self._indexes.add_values(before, session)
        await self._outbox.mark(keys.outbox, durable=facts.durable(session))
        args = self._commit_args(raw, session, now, events, mutation.new_turn, mutation.updated_turn)
        outcome = await self._scripts.commit(keys=keys.with_outbox, args=args)
        if outcome == GONE:
            if opened is not None:
                await self._indexes.drop_deadline(session_id, opened)
            raise SessionNotFound(session_id)
        if outcome not in (COMMITTED, REPLAYED):
            return None
        # again: a projector may have found it empty before the commit
        await self._outbox.mark(keys.outbox, durable=facts.durable(session))
        if opened is not None:
            await self._indexes.set_deadline(session_id, opened)  # again: a sweep may have dropped the intent
        elif closed is not None:
            await self._indexes.drop_deadline(session_id, closed)
        await self._indexes.drop_values(before, session)
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
        def turn_slot(turn: Turn | None) -> tuple[str, bytes] | None:
            return (str(turn.turn_number), rc.encode_turn(turn, self._compress)) if turn is not None else None

        after = session.last_event_id - len(events)  # the session's last event id before this change
        return CommitArgs(
            read_digest=_digest(raw),
            record=rc.encode_session(session, self._compress),
            ttl_ms=self._ttl_ms(session),
            history=self._history,
            retention=self._retention,
            event_time=repr(now),
            events=[
                (rc.stream_id(e.event_id), e.kind, rc.encode_event_data(e.payload, self._compress)) for e in events
            ],
            new_turn=turn_slot(new_turn),
            updated_turn=turn_slot(updated_turn),
            facts=self._outbox.args(
                lambda: facts.facts_of_commit(session, new_turn, updated_turn, after_event_id=after)
            ),
        ).argv()

    def _ttl_ms(self, session: Session) -> int:
        return max(1, round((session.settings.idle_ttl_seconds + self._ttl_margin) * 1000))

    # Turns and events

    async def turns(self, session_id: str, before: int | None, limit: int) -> list[Turn]:
        keys = self._keys.session(session_id)
        below = "+inf" if before is None else f"({before}"  # '(': exclusive
        with unavailable_on_failure():
            found = await self._scripts.turns(keys=[keys.session, keys.turns], args=[below, max(0, limit)])
        if found is None:
            raise SessionNotFound(session_id)
        return [rc.decode_turn(rc.as_bytes(raw)) for raw in found]

    async def events_after(self, session_id: str, after_id: int, limit: int) -> list[Event]:
        return await self._events.after(session_id, after_id, limit)

    async def events_after_many(self, after: Mapping[str, int], limit: int) -> dict[str, EventsRead]:
        return await self._events.after_many(after, limit)

    async def wait_events(self, session_id: str, after_id: int, block_seconds: float) -> list[Event]:
        return await self._events.wait(session_id, after_id, block_seconds)

    def changed_sessions(self) -> AsyncIterator[set[str] | None]:
        return self._notices.listen()

    # Reading across sessions

    async def find(self, query: SessionQuery, after: SessionKey | None, limit: int) -> tuple[list[Session], int]:
        """Newest first. A channel or owner filter reads that index's sessions; any other
        filter reads every session (pipelined, pre-filtered on the raw JSON): O(sessions)."""
        with unavailable_on_failure():
            return await self._listing.find(query, after, limit)

    async def windows_due(self, until: float) -> list[DueWindow]:
        with unavailable_on_failure():
            return await self._listing.windows_due(until)

    async def sessions_idle(self, until: float, limit: int) -> list[str]:
        with unavailable_on_failure():
            return await self._listing.sessions_idle(until, limit)

    async def stats(self) -> StoreStats:
        with unavailable_on_failure():
            return await self._listing.stats()

    # Profiles and locks

    async def get_profile(self, player_id: str) -> PlayerProfile:
        profile = await self.find_profile(player_id)
        if profile is None:
            raise ProfileNotFound(player_id)
        return profile

    async def find_profile(self, player_id: str) -> PlayerProfile | None:
        with unavailable_on_failure():
            return await self._profiles.find(player_id)

    async def mutate_profile(self, player_id: str, change: ProfileChange) -> PlayerProfile:
        """Atomic like ``mutate``: ``change`` may run again if another replica wrote first."""
        with unavailable_on_failure():
            async with self._profile_locks.hold(player_id):
                for attempt in range(self._max_attempts):
                    done = await self._profiles.try_change(player_id, change, await self.now())
                    if done is not None:
                        return done
                    await _backoff(attempt)
        raise Unavailable(f"the profile of {player_id!r} is changed by other replicas too often; retry")

    def lock(self, name: str) -> AbstractAsyncContextManager[None]:
        """A lease on ``name`` shared by every process on this Redis (see _locks.Leases)."""
        return self._leases.hold(name)

    # Health

    async def ping(self) -> None:
        with unavailable_on_failure():
            if isinstance(self._client, RedisCluster):
                # Every master: with one down, the sessions of its slots cannot be served.
                await self._client.ping(target_nodes=RedisCluster.PRIMARIES)
            else:
                await self._client.ping()

    async def start(self) -> None:
        return None  # connections open on first use

    async def close(self) -> None:
        await self._notices.close()
        await self._client.aclose()
        if self._blocking is not self._client:
            await self._blocking.aclose()


def _deadline_change(before: Session, after: Session) -> tuple[float | None, float | None]:
    """(deadline of a window the change opened or moved, deadline of the window it closed)."""
    old = before.window.deadline if before.window is not None else None
    new = after.window.deadline if after.window is not None else None
    if new is not None and new != old:
        return new, None
    if new is None and old is not None:
        return None, old
    return None, None


def _digest(raw: bytes) -> str:
    return hashlib.sha1(raw).hexdigest()


async def _backoff(attempt: int) -> None:
    """A tiny jittered pause before retrying a compare-and-set that lost a race."""
    await asyncio.sleep(backoff_delay(attempt, first=0.001, cap=0.05))
