"""Use cases of PlayerService: profiles, and the dashboard assembled from the stores."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from sessiond.core import profiles
from sessiond.core.errors import Unavailable
from sessiond.core.limits import check_id
from sessiond.core.models import PlayerProfile, Session, SessionState
from sessiond.core.requests import RequestMemo, RequestTag, recall, remember
from sessiond.manager.manager_config import ManagerConfig
from sessiond.manager.player_history import PlayerHistory
from sessiond.store.protocols import SCAN_LIMIT, PlayerArchive, SessionStore

MAX_RECENT = 50
COMPANIONS = 10
# Time kept back from the caller's deadline to assemble and send the answer.
DEADLINE_MARGIN = 0.05


@dataclass(frozen=True, slots=True)
class Character:
    character_id: str
    world_id: str
    session_id: str
    last_played: float


@dataclass(frozen=True, slots=True)
class Companion:
    player_id: str
    display_name: str
    shared_sessions: int


@dataclass(slots=True)
class Dashboard:
    player_id: str
    profile: PlayerProfile | None = None
    active: list[Session] = field(default_factory=list)
    recent: list[Session] = field(default_factory=list)
    characters: list[Character] = field(default_factory=list)
    turns_played: int = 0
    sessions_completed: int = 0
    last_played: float = 0.0
    resume: list[Session] = field(default_factory=list)
    companions: list[Companion] = field(default_factory=list)
    incomplete: list[str] = field(default_factory=list)


class _Repeat(Exception):
    """A profile upsert repeated with its request id: nothing to write."""

    def __init__(self, profile: PlayerProfile) -> None:
        super().__init__(profile.player_id)
        self.profile = profile


class PlayerManager:
    def __init__(self, store: SessionStore, config: ManagerConfig, archive: PlayerArchive | None = None) -> None:
        """``archive``: what a durable store remembers beyond the sessions ``store`` holds."""
        self._store = store
        self._config = config
        self._history = PlayerHistory(store, archive)

    async def upsert_profile(
        self, incoming: PlayerProfile, mask: frozenset[str], etag: str, request: RequestTag | None = None
    ) -> PlayerProfile:
        """With a request tag, the upsert records it on the profile it writes; a repeat
        writes nothing and returns the profile as stored (see sessiond.core.requests)."""
        check_id("profile.player_id", incoming.player_id)
        profiles.check_profile(incoming, self._config.limits)
        now = await self._store.now()

        def change(stored: PlayerProfile | None) -> PlayerProfile:
            if request is not None and stored is not None and recall(stored.requests, request, now):
                raise _Repeat(stored)  # raising writes nothing
            updated = profiles.upsert(stored, incoming, mask, etag)
            if request is not None:
                updated.requests = remember(updated.requests, request, RequestMemo(request.fingerprint, now), now)
            return updated

        try:
            return await self._store.mutate_profile(incoming.player_id, change)
        except _Repeat as repeat:
            return repeat.profile

    async def get_profile(self, player_id: str) -> PlayerProfile:
        return await self._store.get_profile(check_id("player_id", player_id))

    async def dashboard(self, player_id: str, recent_limit: int, budget: float | None) -> Dashboard:
        """Assemble the dashboard; parts not ready within ``budget`` seconds (the
        caller's remaining deadline) are left out and named in ``incomplete``."""
        check_id("player_id", player_id)
        limit = min(recent_limit or 5, MAX_RECENT)
        board = Dashboard(player_id)
        loop = asyncio.get_running_loop()
        give_up = None if budget is None else loop.time() + max(0.0, budget - DEADLINE_MARGIN)

        def left() -> float | None:
            return None if give_up is None else max(0.0, give_up - loop.time())

        profile_task = asyncio.create_task(self._store.find_profile(player_id))
        sessions_task = asyncio.create_task(self._history.player_sessions(player_id, SCAN_LIMIT))
        done, _ = await asyncio.wait({profile_task, sessions_task}, timeout=left())
        if profile_task in done:
            board.profile = profile_task.result()
        else:
            profile_task.cancel()
            board.incomplete.append("profile")
        sessions = _ready(sessions_task, done)
        if sessions is None:
            board.incomplete += ["sessions", "companions"]
            return board
        _fill_sessions(board, sessions, limit)
        try:
            async with asyncio.timeout(left()):
                found = await self._history.companions(player_id, COMPANIONS)
            board.companions = [Companion(*c) for c in found]
        except (TimeoutError, Unavailable):
            board.incomplete.append("companions")
        return board


def _ready(task: asyncio.Task[list[Session]], done: set[asyncio.Task[Any]]) -> list[Session] | None:
    """A part's result; None when it is late (then cancelled) or its store is away (the
    graph during an outage): the part is named incomplete rather than failing the call."""
    if task not in done:
        task.cancel()
        return None
    try:
        return task.result()
    except Unavailable:
        return None


def _fill_sessions(board: Dashboard, sessions: list[Session], limit: int) -> None:
    me = board.player_id

    def last_acted(s: Session) -> float:
        return s.roster[me].last_action_time if me in s.roster else s.last_activity_time

    by_recency = sorted(sessions, key=last_acted, reverse=True)
    board.active = [s for s in by_recency if s.state is SessionState.ACTIVE]
    board.recent = by_recency[:limit]
    board.resume = [s for s in by_recency if s.state is SessionState.PAUSED]
    board.sessions_completed = sum(s.state is SessionState.ENDED for s in sessions)
    board.turns_played = sum(s.roster[me].turns_played for s in sessions if me in s.roster)
    board.last_played = max((last_acted(s) for s in sessions), default=0.0)
    seen: set[str] = set()
    for s in by_recency:
        if s.character_id and s.character_id not in seen:
            seen.add(s.character_id)
            board.characters.append(Character(s.character_id, s.world_id, s.session_id, last_acted(s)))
