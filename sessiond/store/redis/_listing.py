"""Reading across sessions: listing, the deadline sweep, idle sessions, stats.

Every reader checks the index entries it reads against the session records (the truth),
repairs stale scores and prunes the entries of sessions that are gone (see _indexes).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from sessiond.core.models import LINKED_IDS, Persistence, Session
from sessiond.core.paging import SessionKey, newest_first
from sessiond.store._bookkeeping import tally
from sessiond.store.protocols import DueWindow, SessionQuery, StoreStats
from sessiond.store.redis import _packing as rc
from sessiond.store.redis._client import Client
from sessiond.store.redis._indexes import BATCH, Indexes
from sessiond.store.redis._keys import Keys


class Listing:
    def __init__(
        self,
        client: Client,
        keys: Keys,
        indexes: Indexes,
        clock: Callable[[], Awaitable[float]],
        legacy: Persistence,
    ) -> None:
        """``legacy``: the persistence of records older than the field (see codec)."""
        self._client = client
        self._legacy = legacy
        self._keys = keys
        self._indexes = indexes
        self._clock = clock

    async def find(self, query: SessionQuery, after: SessionKey | None, limit: int) -> tuple[list[Session], int]:
        """Newest first. A channel or owner filter reads that index's sessions; any other
        filter reads every session (pipelined, pre-filtered on the raw JSON): O(sessions)."""
        if query == SessionQuery():
            keys = await self._indexes.created_keys()
            alive = await self.exists_many([k.session_id for k in keys])
            await self.prune([k.session_id for k, ok in zip(keys, alive, strict=True) if not ok])
            live = [k for k, ok in zip(keys, alive, strict=True) if ok]
            page = [k.session_id for k in live if after is None or k < after][: max(0, limit)]
            records = await self.get_many(page)
            return [rc.decode_session(r, self._legacy) for r in records if r is not None], len(live)
        needles = _needles(query)
        found: list[Session] = []
        for _, raw in await self.fetch(await self._candidates(query)):
            plain = rc.unpack(raw)
            if all(n in plain for n in needles) and query.matches(s := rc.decode_session(plain, self._legacy)):
                found.append(s)
        return newest_first(found, after, limit), len(found)

    async def _candidates(self, query: SessionQuery) -> list[str]:
        """The ids a query must look at: one channel's or one owner's when it names one."""
        if query.channel_id or query.in_channel:
            return await self._indexes.of_channel(query.channel_id)
        if query.owner_player_id:
            return await self._indexes.of_owner(query.owner_player_id)
        return await self._indexes.newest_first()

    async def windows_due(self, until: float) -> list[DueWindow]:
        now = await self._clock()
        scores = dict(await self._indexes.deadlines_until(until))
        due: list[DueWindow] = []
        for sid, raw in await self.fetch(list(scores), now):
            score = scores[sid]
            window = rc.decode_session(raw, self._legacy).window
            if window is None:
                if score <= now:  # a future score may be the intent of a window opening right now
                    await self._indexes.drop_deadline(sid, score)
                continue
            if window.deadline != score:
                await self._indexes.set_deadline(sid, window.deadline)
            if window.deadline <= until:
                due.append(DueWindow(sid, window.turn_number, window.deadline))
        return sorted(due, key=lambda d: (d.deadline, d.session_id))

    async def sessions_idle(self, until: float, limit: int) -> list[str]:
        idle: list[str] = []
        ids = await self._indexes.expiring_until(until)
        for start in range(0, len(ids), BATCH):
            for sid, raw in await self.fetch(ids[start : start + BATCH]):
                expire_time = rc.decode_session(raw, self._legacy).expire_time
                if expire_time <= until:
                    idle.append(sid)
                else:  # the score was a stale lower bound: raise it
                    await self._indexes.raise_expiry(sid, expire_time)
            if len(idle) >= limit:
                break
        return idle[: max(0, limit)]

    async def stats(self) -> StoreStats:
        records = await self.fetch(await self._indexes.newest_first())
        return tally(rc.decode_session(raw, self._legacy) for _, raw in records)

    async def count_alive(self) -> int:
        """Sessions whose record exists: the exact count, needed only near the limit."""
        ids = await self._indexes.newest_first()
        alive = await self.exists_many(ids)
        await self.prune([sid for sid, ok in zip(ids, alive, strict=True) if not ok])
        return sum(alive)

    # Records

    async def fetch(self, ids: Sequence[str], now: float | None = None) -> list[tuple[str, bytes]]:
        """(id, record) of the sessions of ``ids`` that exist, in order; the index entries
        of the others are pruned."""
        found: list[tuple[str, bytes]] = []
        gone: list[str] = []
        for sid, raw in zip(ids, await self.get_many(ids), strict=True):
            if raw is None:
                gone.append(sid)
            else:
                found.append((sid, raw))
        await self.prune(gone, now)
        return found

    async def get_many(self, ids: Sequence[str]) -> list[bytes | None]:
        """Session records by id, pipelined (split by node on a cluster)."""
        out: list[bytes | None] = []
        for start in range(0, len(ids), BATCH):
            pipe = self._client.pipeline(transaction=False)
            for sid in ids[start : start + BATCH]:
                pipe.get(self._keys.session(sid).session)
            out.extend(None if r is None else rc.as_bytes(r) for r in await pipe.execute())
        return out

    async def exists_many(self, ids: Sequence[str]) -> list[bool]:
        out: list[bool] = []
        for start in range(0, len(ids), BATCH):
            pipe = self._client.pipeline(transaction=False)
            for sid in ids[start : start + BATCH]:
                pipe.exists(self._keys.session(sid).session)
            out.extend(bool(r) for r in await pipe.execute())
        return out

    async def prune(self, gone: Sequence[str], now: float | None = None) -> None:
        if gone:
            await self._indexes.prune(gone, now if now is not None else await self._clock())


def _needles(query: SessionQuery) -> list[bytes]:
    """Byte strings every matching record contains: a cheap filter before decoding JSON."""
    needles = [
        rc.field_needle(name, value)
        for name in (*LINKED_IDS, "owner_player_id", "player_id")
        if (value := getattr(query, name))
    ]
    if query.state is not None:
        needles.append(rc.field_needle("status", query.state.value))  # its stored key
    return needles
