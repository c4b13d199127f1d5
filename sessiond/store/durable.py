"""The redis+neo4j store: Redis is the hot path for everything live; Neo4j keeps the
durable record, fed by the Redis outbox through the Projector.

Reads fall back to the graph when Redis no longer has a session (its TTL passed, or
Redis lost its data): the session is restored into Redis, then carries on there. A
restored session comes back PAUSED (an ENDED or EXPIRED one keeps its status; ResumeSession
revives an EXPIRED one): whoever played it resumes it, and a channel or a player never
finds two ACTIVE sessions because of a restore. The janitor's freeing of an idle session
is an ``evict``: it leaves the graph's record, so the session can come back. A session
deleted in Redis whose delete has not reached the graph yet is not restored: its outbox
still ends with the delete.

ListTurns reads the whole history, newest first: the hot turns from Redis, the older ones
from the graph, and those the graph does not have yet from the session's outbox (read
before the graph: a fact leaves the outbox only once the graph committed it, so no turn
falls between the two reads). The dashboard's relationship questions come from the graph,
merged with what is hot and not projected yet.

The graph is best effort for everything but cold restore and deep history: with Neo4j
down the service keeps serving from Redis and the projection catches up later. Once a
graph call found Neo4j down, graph reads fail at once (best-effort ones are skipped)
until a ping answers again, so a Neo4j outage does not add the driver's retry time
(seconds) to calls that Redis alone can answer. During such an outage a profile Redis
does not hold reads as not found, and a create does not check the graph for a cold
session of the same id.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import replace
from typing import Any, TypeVar

import structlog

from sessiond.core import codec, facts
from sessiond.core.errors import ProfileNotFound, SessionNotFound
from sessiond.core.models import Event, PlayerProfile, Session, SessionStatus, Turn
from sessiond.core.paging import SessionKey
from sessiond.store.history import StoreHistory
from sessiond.store.neo4j import GraphAuthFailed, GraphStore, GraphUnavailable, PermanentFactError
from sessiond.store.outbox import Projector
from sessiond.store.protocols import Change, DueWindow, ProfileChange, SessionQuery, StoreStats, T
from sessiond.store.redis import RedisStore

log = structlog.get_logger(__name__)

R = TypeVar("R")
MIGRATE_RETRY = 2.0  # seconds between attempts to migrate a graph that was down at start
GRAPH_PROBE_INTERVAL = 1.0  # seconds between pings of a graph found down
SCAN_LIMIT = 1000  # cold sessions of one owner or channel looked at; far above real use


class DurableStore:
    name = "redis+neo4j"

    def __init__(
        self,
        hot: RedisStore,
        graph: GraphStore,
        *,
        history: int = 50,
        projector_options: Mapping[str, Any] | None = None,
    ) -> None:
        """``history``: the hot turns per session (as ``hot`` keeps them);
        ``projector_options``: keyword arguments of the Projector (poll interval, backoffs)."""
        self.hot = hot
        self.graph = graph
        self._history = history
        self._hot_history = StoreHistory(hot)
        self.projector = Projector(hot.outbox_log, graph.apply_batch, PermanentFactError, **(projector_options or {}))
        self._projecting: asyncio.Task[None] | None = None
        self._graph_down = False
        self._probing: asyncio.Task[None] | None = None

    # Lifecycle: schema, then the projector.

    async def start(self) -> None:
        """Migrate the graph, then project in the background. Bad credentials are a
        configuration error: they stop the start. A graph that is down does not: the
        service serves from Redis, and migrates and projects once the graph is back."""
        migrated = False
        try:
            await self.graph.ping()  # fails at once when Neo4j is down (migrate would retry for seconds)
            await self.graph.migrate()
            migrated = True
        except GraphAuthFailed:
            raise
        except GraphUnavailable as exc:
            log.warning("neo4j unavailable at start; serving from redis, projecting later", error=exc.message)
            self._mark_down()
        self._projecting = asyncio.create_task(self._project(migrated), name="projector")

    async def _project(self, migrated: bool) -> None:
        while not migrated:
            await asyncio.sleep(MIGRATE_RETRY)
            try:
                await self.graph.ping()
                applied = await self.graph.migrate()
            except GraphUnavailable:
                continue
            log.info("neo4j migrated", applied=applied)
            migrated = True
        await self.projector.run_forever()

    async def close(self) -> None:
        self.projector.stop()
        for task in (self._projecting, self._probing):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        await self.hot.close()
        await self.graph.close()

    # The graph: fail fast while it is down.

    async def _graph_read(self, read: Callable[[], Awaitable[R]]) -> R:
        """A graph read the answer depends on: GraphUnavailable at once while the graph is
        known to be down, and a failure marks it down."""
        if self._graph_down:
            raise GraphUnavailable("Neo4j is unavailable (reconnecting); the durable record cannot be read now")
        try:
            return await read()
        except GraphUnavailable:
            self._mark_down()
            raise

    async def _graph_or(self, read: Callable[[], Awaitable[R]], default: R) -> R:
        """A best-effort graph read: ``default`` while the graph is down."""
        try:
            return await self._graph_read(read)
        except GraphUnavailable:
            return default

    def _mark_down(self) -> None:
        if self._graph_down:
            return
        self._graph_down = True
        log.warning("neo4j unavailable: graph reads fail fast until it answers again")
        self._probing = asyncio.create_task(self._probe(), name="graph-probe")

    async def _probe(self) -> None:
        while True:
            await asyncio.sleep(GRAPH_PROBE_INTERVAL)
            try:
                await self.graph.ping()
            except GraphUnavailable:
                continue
            self._graph_down = False
            log.info("neo4j reachable again")
            return

    # Sessions: Redis first, the graph when Redis no longer has them.

    async def _restored(self, session_id: str, read: Callable[[], Awaitable[R]]) -> R:
        try:
            return await read()
        except SessionNotFound:
            if not await self._restore(session_id):
                raise
        return await read()

    async def _restore(self, session_id: str) -> bool:
        """Put a session Redis does not hold back from the graph; False if the graph does
        not have it either. Raises SessionNotFound when its delete has not reached the
        graph yet, Unavailable when the graph cannot be read or is behind Redis."""
        loaded = await self._graph_read(lambda: self.graph.load_session(session_id, self._history))
        if loaded is None:
            return False
        session, turns = loaded
        if not session.status.final:
            session = replace(session, status=SessionStatus.PAUSED)
        now = await self.hot.now()
        # A newer revision than any the graph saw, and a fresh idle clock.
        session = replace(session, revision=session.revision + 1, update_time=now, last_activity_time=now)
        if await self.hot.restore(session, turns):
            log.info("session restored from neo4j", session_id=session_id, turns=len(turns))
        return True

    async def now(self) -> float:
        return await self.hot.now()

    async def create(self, session: Session, request_id: str, max_sessions: int) -> tuple[Session, bool]:
        # An id the graph still holds belongs to a session that is only cold, not gone: restored,
        # it makes the hot store refuse the id. Skipped while the graph is down.
        if await self.hot.get_or_none(session.session_id) is None:
            with contextlib.suppress(SessionNotFound, GraphUnavailable):
                await self._restore(session.session_id)
        return await self.hot.create(session, request_id, max_sessions)

    async def get(self, session_id: str) -> Session:
        return await self._restored(session_id, lambda: self.hot.get(session_id))

    async def find(self, query: SessionQuery, after: SessionKey | None, limit: int) -> tuple[list[Session], int]:
        """Owner and channel queries decide who may be ACTIVE: their cold sessions are
        restored first, so a switch or a game load finds them."""
        cold: list[Session] = []
        if query.owner_player_id:
            owner = query.owner_player_id
            mine: list[Session] = await self._graph_or(lambda: self.graph.player_sessions(owner, SCAN_LIMIT), [])
            cold = [s for s in mine if s.owner_player_id == owner]
        elif query.channel_id:
            channel = query.channel_id
            cold = await self._graph_or(lambda: self.graph.find_channel_sessions(channel, SCAN_LIMIT), [])
        for s in cold:
            if not s.status.final and await self.hot.get_or_none(s.session_id) is None:
                with contextlib.suppress(SessionNotFound, GraphUnavailable):
                    await self._restore(s.session_id)
        return await self.hot.find(query, after, limit)

    async def delete(self, session_id: str, etag: str = "") -> None:
        await self._restored(session_id, lambda: self.hot.delete(session_id, etag))

    async def evict(self, session_id: str, etag: str = "") -> None:
        """Free the hot copy only: the graph keeps the session, to be restored on demand."""
        await self.hot.evict(session_id, etag)

    async def mutate(self, session_id: str, change: Change[T], *, turn_number: int | None = None) -> tuple[Session, T]:
        return await self._restored(session_id, lambda: self.hot.mutate(session_id, change, turn_number=turn_number))

    async def turns(self, session_id: str, before: int | None, limit: int) -> list[Turn]:
        """The whole history, newest first: hot turns, then the graph's (and the outbox's)."""
        hot = await self._restored(session_id, lambda: self.hot.turns(session_id, None, self._history))
        page = [t for t in hot if before is None or t.turn_number < before][: max(0, limit)]
        if len(page) >= limit or len(hot) < self._history:
            return page  # the hot history holds every turn asked for
        # Every hot turn below ``before`` is in the page: go on below the oldest hot one.
        below = hot[-1].turn_number if before is None else min(before, hot[-1].turn_number)
        need = limit - len(page)
        pending = await self._pending_turns(session_id, below)  # first: see the module docstring
        if not pending:
            return page + await self._graph_read(lambda: self.graph.turns(session_id, need, before=below))
        # The graph lags: merge. Of its turns, at most len(pending) are also pending.
        durable = await self._graph_read(lambda: self.graph.turns(session_id, need + len(pending), before=below))
        older = {t.turn_number: t for t in durable} | pending
        return page + sorted(older.values(), key=lambda t: t.turn_number, reverse=True)[:need]

    async def _pending_turns(self, session_id: str, before: int) -> dict[int, Turn]:
        """Turns numbered below ``before`` whose facts are still in the session's outbox,
        the newest version of each (none of an earlier session under the same id)."""
        turns: dict[int, Turn] = {}
        for fact in await self.hot.outbox_log.facts(self.hot.keys.session(session_id).outbox):
            if fact.get("kind") == facts.SESSION_DELETED:
                turns.clear()
            elif fact.get("kind") == facts.TURN and fact["turn_number"] < before:
                turns[fact["turn_number"]] = codec.turn_from_dict(fact["turn"])
        return turns

    async def events_after(self, session_id: str, after_id: int, limit: int) -> list[Event]:
        return await self.hot.events_after(session_id, after_id, limit)

    async def wait_events(self, session_id: str, after_id: int, block_seconds: float) -> list[Event]:
        return await self.hot.wait_events(session_id, after_id, block_seconds)

    def changed_sessions(self) -> AsyncIterator[set[str] | None]:
        return self.hot.changed_sessions()

    async def windows_due(self, until: float) -> list[DueWindow]:
        return await self.hot.windows_due(until)

    async def sessions_idle(self, until: float, limit: int) -> list[str]:
        return await self.hot.sessions_idle(until, limit)

    async def stats(self) -> StoreStats:
        stats, outbox = await asyncio.gather(self.hot.stats(), self.hot.outbox_stats())
        return replace(
            stats,
            outbox_pending=outbox.pending,
            outbox_lag_seconds=outbox.oldest_age_seconds,
            outbox_parked=outbox.parked,
        )

    # Profiles: Redis keeps them without TTL; the graph has them if Redis lost its data.

    async def get_profile(self, player_id: str) -> PlayerProfile:
        try:
            return await self.hot.get_profile(player_id)
        except ProfileNotFound:
            durable = await self._graph_or(lambda: self.graph.profile(player_id), None)
            if durable is None:
                raise
        # As it was, revision included: the graph then takes the next change.
        await self.hot.restore_profile(durable)
        return await self.hot.get_profile(player_id)

    async def mutate_profile(self, player_id: str, change: ProfileChange) -> PlayerProfile:
        with contextlib.suppress(ProfileNotFound):
            await self.get_profile(player_id)  # restores a cold profile before it is changed
        return await self.hot.mutate_profile(player_id, change)

    def lock(self, name: str) -> AbstractAsyncContextManager[None]:
        return self.hot.lock(name)

    async def ping(self) -> None:
        """Readiness follows Redis: with Neo4j down the service still serves (the
        projection waits), so it must stay in rotation."""
        await self.hot.ping()

    # PlayerHistory: the graph, merged with what is hot and not projected yet.

    async def player_sessions(self, player_id: str, limit: int) -> list[Session]:
        newest: dict[str, Session] = {}
        durable: list[Session] = await self._graph_or(lambda: self.graph.player_sessions(player_id, limit), [])
        for s in [*durable, *await self._hot_history.player_sessions(player_id, limit)]:
            if s.session_id not in newest or s.revision > newest[s.session_id].revision:
                newest[s.session_id] = s
        return sorted(newest.values(), key=lambda s: s.update_time, reverse=True)[:limit]

    async def companions(self, player_id: str, limit: int) -> list[tuple[str, str, int]]:
        found = await self._graph_or(lambda: self.graph.companions(player_id, limit), None)
        return found if found is not None else await self._hot_history.companions(player_id, limit)
