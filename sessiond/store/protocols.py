"""What a storage backend must do for the manager. Every backend passes tests/contract.

The rules live once, in sessiond.core, as functions ``change(session, turn, now)``
that check, then edit the session in place and describe what they did (a Mutation).
A backend's job is to run such a change atomically against its copy of the session:
read, apply, and commit the session, its events, its turn history and its indexes
in one step, or commit nothing. Timestamps come from the backend's clock (``now``),
so replicas sharing a backend share one clock.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Protocol, TypeAlias

from sessiond.core.errors import EventsExpired, SessionNotFound
from sessiond.core.models import (
    LINKED_IDS,
    STORED_AS,
    Event,
    GraphProgress,
    Persistence,
    PlayerProfile,
    Session,
    SessionState,
    Turn,
    stored_names,
)
from sessiond.core.models import Change as Change  # the rule shape; backends import it from here
from sessiond.core.models import T as T
from sessiond.core.paging import SessionKey

SCAN_LIMIT = 1000
"""The most sessions a use case reads for one player, owner or channel; far above real use."""

ProfileChange = Callable[[PlayerProfile | None], PlayerProfile]
"""Returns the new profile given the stored one (None if there is none); raises to refuse."""


@dataclass(frozen=True, slots=True)
class SessionQuery:
    """Equality filters of ListSessions; empty fields match everything."""

    player_id: str = ""
    game_id: str = ""
    channel_id: str = ""
    character_id: str = ""
    world_id: str = ""
    owner_player_id: str = ""
    state: SessionState | None = field(default=None, metadata={STORED_AS: "status"})
    persistence: Persistence | None = None
    in_channel: bool = False  # only sessions bound to some channel (the game index)

    def matches(self, s: Session) -> bool:
        if self.in_channel and not s.channel_id:
            return False
        for f in (*LINKED_IDS, "owner_player_id"):
            wanted = getattr(self, f)
            if wanted and getattr(s, f) != wanted:
                return False
        if self.player_id and self.player_id not in s.roster:
            return False
        if self.persistence is not None and s.settings.persistence is not self.persistence:
            return False
        return self.state is None or s.state is self.state

    def key(self) -> str:
        """The query in a page token: stored names, so tokens outlive a renamed field."""
        return "|".join(f"{key}={getattr(self, name) or ''}" for name, key in stored_names(SessionQuery))


EventsRead: TypeAlias = list[Event] | SessionNotFound | EventsExpired
"""What events_after_many found for one session: its events, or why there are none to read."""


@dataclass(frozen=True, slots=True)
class DueWindow:
    session_id: str
    turn_number: int
    deadline: float


@dataclass(frozen=True, slots=True)
class StoreStats:
    sessions_by_state: dict[SessionState, int]
    players: int
    open_windows: int
    # Durable projection (redis+neo4j only): facts not yet in the graph, the age of the
    # oldest of them, facts parked because they can never apply, and how long the graph
    # has been found unreachable (0 while it answers).
    outbox_pending: int = 0
    outbox_lag_seconds: float = 0.0
    outbox_parked: int = 0
    graph_unreachable_seconds: float = 0.0
    sessions_by_persistence: dict[Persistence, int] = field(default_factory=dict)


class SessionStore(Protocol):
    """Sessions with their turn history (newest ``history`` turns) and event log."""

    name: str

    async def now(self) -> float:
        """The store's clock, seconds since the epoch."""
        ...

    async def create(self, session: Session, request_id: str, max_sessions: int) -> tuple[Session, bool]:
        """Store a new session. Returns (session, True); or, when ``request_id`` was used
        before, (the session it created, False). Raises SessionExists, LimitReached."""
        ...

    async def get(self, session_id: str) -> Session:
        """Raises SessionNotFound."""
        ...

    async def find(self, query: SessionQuery, after: SessionKey | None, limit: int) -> tuple[list[Session], int]:
        """Up to ``limit`` matching sessions, newest first (descending SessionKey: create_time,
        then id), only those sorting after ``after`` (below it) when given; and how many
        match in all."""
        ...

    async def delete(self, session_id: str, etag: str = "") -> None:
        """Remove a session with its turns and events. Raises SessionNotFound,
        VersionConflict (stale etag)."""
        ...

    async def evict(self, session_id: str, etag: str = "") -> None:
        """Free a session the janitor let go (EXPIRED, or ENDED and idle): like delete for a
        hot store, but a durable store keeps its record. Same errors as delete."""
        ...

    async def mutate(
        self, session_id: str, change: Change[T], *, turn_number: int | None = None
    ) -> tuple[Session, T]:
        """Run ``change`` atomically; returns the session as committed and the change's
        result. The change's events get consecutive ids ending at the returned
        session's ``last_event_id`` (manager.commits derives a call's event range
        from that). With ``turn_number`` the change also gets that turn of the history
        (raises TurnNotFound if absent) and may update it. Raises SessionNotFound and
        whatever ``change`` raises, in which case nothing is written."""
        ...

    async def turns(self, session_id: str, before: int | None, limit: int) -> list[Turn]:
        """Up to ``limit`` resolved turns, newest first, only those numbered below ``before``
        when given: the hot history (a durable store: the whole history). Raises
        SessionNotFound."""
        ...

    async def events_after(self, session_id: str, after_id: int, limit: int) -> list[Event]:
        """Stored events with id > after_id, oldest first. Raises SessionNotFound, and
        EventsExpired when events after ``after_id`` were already dropped."""
        ...

    async def events_after_many(self, after: Mapping[str, int], limit: int) -> dict[str, EventsRead]:
        """``events_after(session_id, after_id, limit)`` of every ``session_id: after_id`` of
        ``after``, in few round trips (the watch follower reads thousands of sessions at once);
        a session's error (SessionNotFound, EventsExpired) is its value, not raised. Raises
        StoreUnavailable."""
        ...

    async def wait_events(self, session_id: str, after_id: int, block_seconds: float) -> list[Event]:
        """Like events_after, but waits up to ``block_seconds`` for one to arrive ([] then)."""
        ...

    def changed_sessions(self) -> AsyncIterator[set[str] | None]:
        """Ids of sessions whose event log grew or that were deleted, as it happens, by any
        process; None when some may have been missed (first, and after a lost connection):
        whoever follows sessions then reads all of them again. One follower per process
        serves every watched session, so this never needs a connection per session."""
        ...

    async def windows_due(self, until: float) -> list[DueWindow]:
        """Open windows whose deadline is at or before ``until`` (inf: all open windows)."""
        ...

    async def sessions_idle(self, until: float, limit: int) -> list[str]:
        """Ids of sessions whose expire_time is at or before ``until``."""
        ...

    async def stats(self) -> StoreStats:
        ...

    async def get_profile(self, player_id: str) -> PlayerProfile:
        """Raises ProfileNotFound."""
        ...

    async def find_profile(self, player_id: str) -> PlayerProfile | None:
        """Like get_profile, but None when the player has no profile."""
        ...

    async def mutate_profile(self, player_id: str, change: ProfileChange) -> PlayerProfile:
        """Atomically replace a profile with ``change(stored)``; the store sets
        create_time (first write), update_time and revision + 1. Returns it as stored."""
        ...

    def lock(self, name: str) -> AbstractAsyncContextManager[None]:
        """Mutual exclusion for steps that span sessions (one player's switch, one
        channel's swap), across every process sharing this store. Held briefly; a
        backend may expire it after a bound so a crashed holder cannot block forever."""
        ...

    async def ping(self) -> None:
        """Raises Unavailable when the backend cannot serve."""
        ...

    async def start(self) -> None:
        """Get ready to serve: load what the backend keeps (the memory store's snapshot),
        start its background work. Called once, before the first call; raises to stop the
        service when its configuration is wrong (a backend that is only down starts)."""
        ...

    async def close(self) -> None:
        """Stop the background work and write or release what the backend holds (the
        memory store's last snapshot); called once, after the last call."""
        ...


class ProjectionProgress(Protocol):
    """How far durable sessions have reached the graph (the redis+neo4j store)."""

    async def graph_progress(self, sessions: Sequence[Session]) -> dict[str, GraphProgress]:
        """The progress of each DURABLE session of ``sessions``, by id (EPHEMERAL ones
        are left out)."""
        ...


class PlayerArchive(Protocol):
    """What a durable store remembers of a player beyond the sessions it holds hot, for
    the dashboard (manager.player_history merges it with the held sessions). Raises
    Unavailable while the archive cannot answer: the dashboard then names the part
    incomplete rather than answer from the held sessions alone."""

    async def archived_sessions(self, player_id: str, limit: int) -> list[Session]:
        """Up to ``limit`` sessions the player is or was on, most recently changed first."""
        ...

    async def archived_companions(self, player_id: str, limit: int) -> list[tuple[str, str, int]]:
        """(player_id, display_name, shared sessions) of co-players, most shared first,
        leaving out players whose profile hides them from recommendations."""
        ...
