"""PlayerHistory over any SessionStore: the dashboard's relationship questions answered
from the sessions the store holds (the durable store answers them from its graph)."""

from __future__ import annotations

import asyncio
from collections import Counter

from sessiond.core.models import Session
from sessiond.store.protocols import SCAN_LIMIT, SessionQuery, SessionStore


class StoreHistory:
    def __init__(self, store: SessionStore) -> None:
        self._store = store

    async def player_sessions(self, player_id: str, limit: int) -> list[Session]:
        found, _ = await self._store.find(SessionQuery(player_id=player_id), None, SCAN_LIMIT)
        return sorted(found, key=lambda s: s.update_time, reverse=True)[:limit]

    async def companions(self, player_id: str, limit: int) -> list[tuple[str, str, int]]:
        shared: Counter[str] = Counter()
        names: dict[str, str] = {}
        for s in await self.player_sessions(player_id, SCAN_LIMIT):
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
