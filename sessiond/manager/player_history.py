"""A player's history for the dashboard: the sessions they played and their companions.

Answered from the sessions the store holds, merged with what a durable store's archive
remembers (PlayerArchive) when there is one: of a session both know, the newer revision
wins; companions come from the archive when there is one, else from the held sessions.
While the archive cannot answer, its Unavailable reaches the caller (the dashboard names
the part incomplete).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterable

from sessiond.core.models import Session
from sessiond.store.protocols import SCAN_LIMIT, PlayerArchive, SessionQuery, SessionStore


class PlayerHistory:
    def __init__(self, store: SessionStore, archive: PlayerArchive | None = None) -> None:
        self._store = store
        self._archive = archive

    async def player_sessions(self, player_id: str, limit: int) -> list[Session]:
        """Sessions the player is or was on, most recently changed first."""
        held = await self._held_sessions(player_id, limit)
        if self._archive is None:
            return held
        newest: dict[str, Session] = {}
        for s in [*await self._archive.archived_sessions(player_id, limit), *held]:
            if s.session_id not in newest or s.revision > newest[s.session_id].revision:
                newest[s.session_id] = s
        return _most_recent(newest.values(), limit)

    async def companions(self, player_id: str, limit: int) -> list[tuple[str, str, int]]:
        """(player_id, display_name, shared sessions) of co-players, most shared first,
        leaving out players whose profile hides them from recommendations."""
        if self._archive is not None:
            return await self._archive.archived_companions(player_id, limit)
        shared: Counter[str] = Counter()
        names: dict[str, str] = {}
        for s in await self._held_sessions(player_id, SCAN_LIMIT):
            for pid, entry in (*s.roster.items(), *s.departed.items()):
                if pid != player_id:
                    shared[pid] += 1
                    names.setdefault(pid, entry.display_name)
        candidates = [pid for pid, _ in shared.most_common(limit * 3)]
        profiles = await asyncio.gather(*(self._store.find_profile(pid) for pid in candidates))
        out = []
        for pid, profile in zip(candidates, profiles, strict=True):
            if profile is not None and profile.hide_from_recommendations:
                continue
            out.append((pid, profile.display_name if profile and profile.display_name else names[pid], shared[pid]))
        return out[:limit]

    async def _held_sessions(self, player_id: str, limit: int) -> list[Session]:
        found, _ = await self._store.find(SessionQuery(player_id=player_id), None, SCAN_LIMIT)
        return _most_recent(found, limit)


def _most_recent(sessions: Iterable[Session], limit: int) -> list[Session]:
    return sorted(sessions, key=lambda s: s.update_time, reverse=True)[:limit]
