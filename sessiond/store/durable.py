"""The redis+neo4j store: Redis is the hot path for everything live; Neo4j keeps the
durable record, fed by the Redis outbox through the Projector.

Reads fall back to the graph when Redis no longer has a session (its TTL passed, or
Redis lost its data): the session is restored into Redis, then carries on there. A
restored session comes back PAUSED (an ENDED one stays ENDED): whoever played it resumes
it, and a channel or a player never finds two ACTIVE sessions because of a restore.
History beyond the hot turns, and the dashboard's relationship questions, come from the
graph. The graph is best effort for everything but cold restore: with Neo4j down the
service keeps serving from Redis and the projection catches up later.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import replace
from typing import TypeVar

import structlog

from sessiond.core.errors import ProfileNotFound, SessionExists, SessionNotFound
from sessiond.core.models import Event, PlayerProfile, Session, SessionStatus, Turn
from sessiond.store.history import StoreHistory
from sessiond.store.neo4j import GraphAuthFailed, GraphStore, GraphUnavailable, PermanentFactError
from sessiond.store.outbox import Projector
from sessiond.store.protocols import Change, DueWindow, ProfileChange, SessionQuery, StoreStats, T
from sessiond.store.redis import RedisStore

log = structlog.get_logger(__name__)

R = TypeVar("R")
MIGRATE_RETRY = 5.0  # seconds between attempts to migrate a graph that is down at start


class DurableStore:
    name = "redis+neo4j"

    def __init__(self, hot: RedisStore, graph: GraphStore, *, history: int = 50) -> None:
        self.hot = hot
        self.graph = graph
        self._history = history
        self._hot_history = StoreHistory(hot)
        self.projector = Projector(hot.outbox_log, graph.apply_batch, PermanentFactError)
        self._projecting: asyncio.Task[None] | None = None

    # Lifecycle: schema, then the projector.

    async def start(self) -> None:
        """Migrate the graph (retrying in the background while it is down), then project.
        Bad credentials are a configuration error: they stop the start."""
        try:
            await self.graph.migrate()
        except GraphAuthFailed:
            raise
        except GraphUnavailable as exc:
            log.warning("neo4j unavailable at start; serving from redis, projecting later", error=exc.message)
        self._projecting = asyncio.create_task(self._migrate_then_project(), name="projector")

    async def _migrate_then_project(self) -> None:
        while True:
            try:
                await self.graph.migrate()
                break
            except GraphUnavailable:
                await asyncio.sleep(MIGRATE_RETRY)
        await self.projector.run_forever()

    async def close(self) -> None:
        self.projector.stop()
        if self._projecting is not None:
            self._projecting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._projecting
        await self.hot.close()
        await self.graph.close()

    # Sessions: Redis first, the graph when Redis no longer has them.

    async def _restored(self, session_id: str, read: Callable[[], Awaitable[R]]) -> R:
        try:
            return await read()
        except SessionNotFound:
            if not await self._restore(session_id):
                raise
        return await read()

    async def _restore(self, session_id: str) -> bool:
        loaded = await self.graph.load_session(session_id, self._history)
        if loaded is None:
            return False
        session, turns = loaded
        if session.status is not SessionStatus.ENDED:
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
        # An id the graph still holds belongs to a session that is only cold, not gone.
        with contextlib.suppress(GraphUnavailable):
            if await self.hot.get_or_none(session.session_id) is None and await self.graph.load_session(
                session.session_id, 0
            ):
                raise SessionExists(session.session_id)
        return await self.hot.create(session, request_id, max_sessions)

    async def get(self, session_id: str) -> Session:
        return await self._restored(session_id, lambda: self.hot.get(session_id))

    async def find(self, query: SessionQuery, offset: int, limit: int) -> tuple[list[Session], int]:
        """Owner and channel queries decide who may be ACTIVE: their cold sessions are
        restored first, so a switch or a game load finds them."""
        with contextlib.suppress(GraphUnavailable):
            if query.owner_player_id:
                cold = [
                    s
                    for s in await self.graph.player_sessions(query.owner_player_id, 1000)
                    if s.owner_player_id == query.owner_player_id
                ]
                await self._restore_missing(cold)
            elif query.channel_id:
                await self._restore_missing(await self.graph.find_channel_sessions(query.channel_id))
        return await self.hot.find(query, offset, limit)

    async def _restore_missing(self, sessions: list[Session]) -> None:
        for s in sessions:
            if not s.status.final and await self.hot.get_or_none(s.session_id) is None:
                await self._restore(s.session_id)

    async def delete(self, session_id: str, etag: str = "") -> None:
        await self._restored(session_id, lambda: self.hot.delete(session_id, etag))

    async def mutate(self, session_id: str, change: Change[T], *, turn_number: int | None = None) -> tuple[Session, T]:
        return await self._restored(session_id, lambda: self.hot.mutate(session_id, change, turn_number=turn_number))

    async def turns(self, session_id: str, offset: int, limit: int) -> list[Turn]:
        """Hot turns first; older ones from the graph's full history."""
        hot = await self._restored(session_id, lambda: self.hot.turns(session_id, 0, self._history))
        page = hot[offset : offset + limit]
        if len(page) == limit or len(hot) < self._history:
            return page  # the hot history holds every turn asked for
        oldest_hot = hot[-1].turn_number
        newest = await self.graph.turns(session_id, 0, 1)
        # The graph may not have the newest turns yet: skip those it has of the hot ones.
        overlap = max(0, newest[0].turn_number - oldest_hot + 1) if newest else 0
        start = overlap + max(0, offset - len(hot))
        older = await self.graph.turns(session_id, start, limit - len(page))
        return page + [t for t in older if t.turn_number < oldest_hot]

    async def events_after(self, session_id: str, after_id: int, limit: int) -> list[Event]:
        return await self.hot.events_after(session_id, after_id, limit)

    async def wait_events(self, session_id: str, after_id: int, block_seconds: float) -> list[Event]:
        return await self.hot.wait_events(session_id, after_id, block_seconds)

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
            durable = await self.graph.profile(player_id)
            if durable is None:
                raise
            return await self.hot.mutate_profile(player_id, lambda _none: durable)

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
        durable: list[Session] = []
        with contextlib.suppress(GraphUnavailable):
            durable = await self.graph.player_sessions(player_id, limit)
        for s in [*durable, *await self._hot_history.player_sessions(player_id, limit)]:
            if s.session_id not in newest or s.revision > newest[s.session_id].revision:
                newest[s.session_id] = s
        return sorted(newest.values(), key=lambda s: s.update_time, reverse=True)[:limit]

    async def companions(self, player_id: str, limit: int) -> list[tuple[str, str, int]]:
        try:
            return await self.graph.companions(player_id, limit)
        except GraphUnavailable:
            return await self._hot_history.companions(player_id, limit)
