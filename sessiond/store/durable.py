"""The redis+neo4j store: Redis is the hot path for everything live; Neo4j keeps the
durable record, fed by the Redis outbox through the Projector.

Reads fall back to the graph when Redis no longer has a session (its TTL passed, or
Redis lost its data): the session is restored into Redis, then carries on there. A
restored session comes back PAUSED (an ENDED or EXPIRED one keeps its state; ResumeSession
revives an EXPIRED one): whoever played it resumes it, and a channel or a player never
finds two ACTIVE sessions because of a restore. The janitor's freeing of an idle session
is an ``evict``: it leaves the graph's record, so the session can come back. A session
deleted in Redis whose delete has not reached the graph yet is not restored: its outbox
still ends with the delete.

Nothing the hot path needs waits on Neo4j. Which ids are taken is known in Redis (the id
registry, redis/_registry): a create is refused or made there, and an id not taken is
not found without asking the graph. Only what the graph alone has needs it: a cold
restore, turns beyond the hot ones (durable_archive); those go through the gate
(durable_gate), which fails them fast with UNAVAILABLE while Neo4j is away (the
dashboard's archive parts are then named incomplete), and the best-effort parts (cold
sessions of an owner or channel, profiles Redis lost) are skipped. Until the registry is
backfilled from the graph (at start, and again after Redis lost its data) a create still
asks the graph for a cold session of the same id, and while the graph is down it does not
(see docs/architecture.md).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import replace
from typing import Any, TypeVar

import structlog

from sessiond.core import facts
from sessiond.core.errors import ProfileNotFound, SessionNotFound, SessionUnreadable, Unavailable
from sessiond.core.models import Event, GraphProgress, PlayerProfile, Session, SessionState, Turn
from sessiond.core.paging import SessionKey
from sessiond.periodic import Loops, periodic
from sessiond.store.durable_archive import GraphArchive
from sessiond.store.durable_gate import GraphGate
from sessiond.store.neo4j import GraphAuthFailed, GraphStore, GraphUnavailable, PermanentFactError
from sessiond.store.outbox import Projector
from sessiond.store.protocols import (
    SCAN_LIMIT,
    Change,
    DueWindow,
    EventsRead,
    ProfileChange,
    SessionQuery,
    StoreStats,
    T,
)
from sessiond.store.redis import RedisStore

log = structlog.get_logger(__name__)

R = TypeVar("R")
MIGRATE_RETRY = 2.0  # seconds between attempts to migrate a graph that was down at start
REGISTRY_CHECK = 30.0  # seconds between checks that the id registry is complete (Redis may lose it)
REGISTRY_PAGE = 1000  # session ids read from the graph at a time when backfilling the registry


class DurableStore:
    name = "redis+neo4j"

    def __init__(
        self,
        hot: RedisStore,
        graph: GraphStore,
        *,
        history: int = 50,
        projector_options: Mapping[str, Any] | None = None,
        gate: GraphGate | None = None,
    ) -> None:
        """``history``: the hot turns per session (as ``hot`` keeps them);
        ``projector_options``: keyword arguments of the Projector (poll interval, backoffs);
        ``gate``: how graph calls fail fast (default: a GraphGate on ``graph.ping``)."""
        self.hot = hot
        self.graph = graph
        self.gate = gate if gate is not None else GraphGate(graph.ping)
        self.archive = GraphArchive(hot, graph, self.gate)
        self._history = history
        self.projector = Projector(hot.outbox_log, self._project_batch, PermanentFactError, **(projector_options or {}))
        self._loops = Loops("durable-store")

    # Lifecycle: schema, then the projector.

    async def start(self) -> None:
        """Migrate the graph, then project and backfill the id registry in the background.
        Bad credentials are a configuration error: they stop the start. A graph that is down
        does not: the service serves from Redis, and migrates and projects once it is back."""
        self.gate.start()
        migrated = False
        try:
            await self.graph.ping()  # fails at once when Neo4j is down (migrate would retry for seconds)
            await self.graph.migrate()
            migrated = True
        except GraphAuthFailed:
            raise
        except GraphUnavailable as exc:
            log.warning("neo4j unavailable at start; serving from redis, projecting later", error=exc.message)
            await self.gate.mark_down(exc.message)
        loops = {"projector": self._project(migrated)}
        if self.hot.registry.enabled:
            registry = periodic(self._registry_pause, self._keep_registry_complete, "id registry", first=True)
            loops["id-registry"] = registry
        self._loops.start(loops)

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

    async def _project_batch(self, batch: Sequence[Mapping[str, Any]]) -> None:
        try:
            await self.graph.apply_batch(batch)
        except GraphUnavailable as exc:
            await self.gate.mark_down(exc.message)  # reads need not find out for themselves
            raise

    async def _keep_registry_complete(self) -> None:
        """Backfill the id registry from the graph if it is not complete (never filled
        yet, or Redis lost its data); run periodically, retried while the graph or Redis is down."""
        try:
            if self.gate.up and not await self.hot.registry.complete():
                await self._backfill_registry()
        except (GraphUnavailable, Unavailable) as exc:
            log.warning("id registry not backfilled yet", error=exc.message)

    def _registry_pause(self) -> float:
        return REGISTRY_CHECK if self.gate.up else MIGRATE_RETRY

    async def _backfill_registry(self) -> None:
        after, registered = "", 0
        while page := await self.graph.session_ids(after, REGISTRY_PAGE):
            registered += await self.hot.registry.register(page)
            after = page[-1]
        await self.hot.registry.mark_complete()
        log.info("id registry backfilled from neo4j", registered=registered)

    async def close(self) -> None:
        self.projector.stop()
        await self._loops.stop()
        await self.gate.close()
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
        """Put a session Redis does not hold back from the graph; False if the graph does
        not have it either (known without the graph when the id registry says the id is
        free). Raises SessionNotFound when its delete has not reached the graph yet,
        SessionUnreadable when its id is taken but the graph cannot be read, Unavailable
        when the graph cannot be read or is behind Redis."""
        registry = self.hot.registry
        taken = await registry.taken(session_id)
        if registry.enabled and not taken and await registry.complete():
            return False
        try:
            loaded = await self.gate.read(
                lambda: self.graph.load_session(session_id, self._history), f"restoring session {session_id!r}"
            )
        except GraphUnavailable as exc:
            if taken:
                raise SessionUnreadable(session_id, exc.message) from exc
            raise
        if loaded is None:
            return False
        session, turns = loaded
        if not session.state.final:
            session = replace(session, state=SessionState.PAUSED)
        now = await self.hot.now()
        # A newer revision than any the graph saw, and a fresh idle clock.
        session = replace(session, revision=session.revision + 1, update_time=now, last_activity_time=now)
        if await self.hot.restore(session, turns):
            log.info("session restored from neo4j", session_id=session_id, turns=len(turns))
        return True

    async def now(self) -> float:
        return await self.hot.now()

    async def create(self, session: Session, request_id: str, max_sessions: int) -> tuple[Session, bool]:
        sid, registry = session.session_id, self.hot.registry
        if registry.enabled and (await registry.taken(sid) or await registry.complete()):
            return await self.hot.create(session, request_id, max_sessions)  # it refuses a taken id
        # The registry cannot tell yet: a cold session the graph holds is restored, so that the
        # hot store refuses its id. Skipped while the graph is down (see the module docstring).
        if await self.hot.get_or_none(sid) is None:
            with contextlib.suppress(SessionNotFound, GraphUnavailable):
                await self._restore(sid)
        return await self.hot.create(session, request_id, max_sessions)

    async def get(self, session_id: str) -> Session:
        return await self._restored(session_id, lambda: self.hot.get(session_id))

    async def find(self, query: SessionQuery, after: SessionKey | None, limit: int) -> tuple[list[Session], int]:
        """Owner and channel queries decide who may be ACTIVE: their cold sessions are
        restored first, so a switch or a game load finds them."""
        cold: list[Session] = []
        if query.owner_player_id:
            owner = query.owner_player_id
            mine: list[Session] = await self.gate.best_effort(
                lambda: self.graph.player_sessions(owner, SCAN_LIMIT), [], f"reading the sessions of {owner!r}"
            )
            cold = [s for s in mine if s.owner_player_id == owner]
        elif query.channel_id:
            channel = query.channel_id
            cold = await self.gate.best_effort(
                lambda: self.graph.find_channel_sessions(channel, SCAN_LIMIT), [], f"reading channel {channel!r}"
            )
        for s in cold:
            if not s.state.final and await self.hot.get_or_none(s.session_id) is None:
                with contextlib.suppress(SessionNotFound, SessionUnreadable, GraphUnavailable):
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
        return page + await self.archive.older_turns(session_id, below, limit - len(page))

    async def events_after(self, session_id: str, after_id: int, limit: int) -> list[Event]:
        return await self.hot.events_after(session_id, after_id, limit)

    async def events_after_many(self, after: Mapping[str, int], limit: int) -> dict[str, EventsRead]:
        return await self.hot.events_after_many(after, limit)

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
            graph_unreachable_seconds=self.gate.unreachable_seconds(),
        )

    async def graph_progress(self, sessions: Sequence[Session]) -> dict[str, GraphProgress]:
        """From the outboxes alone (Redis): never waits on the graph."""
        durable = [s for s in sessions if facts.durable(s)]
        backlog = await self.hot.outbox_backlog([s.session_id for s in durable])
        return {
            s.session_id: GraphProgress(facts.projected_event_id(s, pending, oldest), pending)
            for s, (pending, oldest) in zip(durable, backlog, strict=True)
        }

    # Profiles: Redis keeps them without TTL; the graph has them if Redis lost its data.

    async def get_profile(self, player_id: str) -> PlayerProfile:
        profile = await self.find_profile(player_id)
        if profile is None:
            raise ProfileNotFound(player_id)
        return profile

    async def find_profile(self, player_id: str) -> PlayerProfile | None:
        hot = await self.hot.find_profile(player_id)
        if hot is not None:
            return hot
        durable = await self.gate.best_effort(
            lambda: self.graph.profile(player_id), None, f"reading the profile of {player_id!r}"
        )
        if durable is None:
            return None
        # As it was, revision included: the graph then takes the next change.
        await self.hot.restore_profile(durable)
        return await self.hot.find_profile(player_id)

    async def mutate_profile(self, player_id: str, change: ProfileChange) -> PlayerProfile:
        await self.find_profile(player_id)  # restores a cold profile before it is changed
        return await self.hot.mutate_profile(player_id, change)

    def lock(self, name: str) -> AbstractAsyncContextManager[None]:
        return self.hot.lock(name)

    async def ping(self) -> None:
        """Readiness follows Redis: with Neo4j down the service still serves (the
        projection waits), so it must stay in rotation."""
        await self.hot.ping()

    # PlayerArchive: see durable_archive.

    async def archived_sessions(self, player_id: str, limit: int) -> list[Session]:
        return await self.archive.archived_sessions(player_id, limit)

    async def archived_companions(self, player_id: str, limit: int) -> list[tuple[str, str, int]]:
        return await self.archive.archived_companions(player_id, limit)
