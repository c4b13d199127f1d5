"""The cross-session indexes: sorted sets in one hash slot of their own (tag ``{idx}``).

On Redis Cluster they cannot share a slot with the session keys, so they are never
written inside a session's atomic step. Each index is kept safe by the order of its
writes and by readers that check every entry against the session record:

- deadlines (score: deadline of the open window). Written BEFORE the commit that opens
  a window and again after it; removed only AFTER the commit that closes it, and only
  if it still holds that deadline. So an open window always has an entry; a stale
  entry only costs the sweep a read of the record, after which it is removed.
- expiry (score: a lower bound of expire_time). Written at create only: activity only
  moves expire_time later, so the score stays a lower bound, and ``sessions_idle``
  raises the score of a session found not idle yet. No index write per mutation.
- created (score: create_time). Newest-first listing and the session count.
- channel, owner (members ``<value>/<session id>``, read by lex range): the sessions of
  one channel or one owner, which the placement rules look up under their locks.
  Written at create (a session's channel and owner do not change; if a change ever
  moves them, mutate adds the new entry before and removes the old one after).

A session whose keys Redis expired (sliding TTL) or that a crash left half-deleted is
dropped from every index by the first reader that misses its record, unless it was
created less than ``prune_grace`` seconds ago: a create writes its entries just
before its record, and a reader must not drop them in between.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from sessiond.core.models import Session
from sessiond.core.paging import SessionKey
from sessiond.store.redis import _packing as rc
from sessiond.store.redis._client import Client
from sessiond.store.redis._keys import IndexKeys
from sessiond.store.redis._scripts import Scripts

BATCH = 500  # records fetched per pipeline
SEP = "/"  # between value and session id in channel/owner members; not a character of an id
ABOVE_SEP = "0"  # the character right after SEP: "[v/" .. "(v0" is exactly the members of value v


def score_arg(value: float) -> str:
    """A score as Redis parses it back to the same double (repr is the shortest exact form)."""
    if math.isinf(value):
        return "+inf" if value > 0 else "-inf"
    return repr(value)


class Indexes:
    def __init__(self, client: Client, scripts: Scripts, keys: IndexKeys, prune_grace: float) -> None:
        self._client = client
        self._scripts = scripts
        self._keys = keys
        self._prune_grace = prune_grace

    # Writers

    async def put(self, session: Session) -> None:
        """Every entry of a session being created (and again once it is)."""
        window = session.window
        await self._scripts.index_put(
            keys=self._keys.all,
            args=[
                session.session_id,
                score_arg(session.create_time),
                score_arg(session.expire_time),
                score_arg(window.deadline) if window is not None else "",
                session.channel_id,
                session.owner_player_id,
            ],
        )

    async def drop(self, session: Session) -> None:
        """Forget a deleted session; the entries of a newer session with the same id stay."""
        s = session
        args = [s.session_id, "exact", score_arg(s.create_time), s.channel_id, s.owner_player_id]
        await self._scripts.index_drop(keys=self._keys.all, args=args)

    async def prune(self, session_ids: Sequence[str], now: float) -> None:
        """Forget sessions whose record a reader found missing (see the module docstring)."""
        bound = score_arg(now - self._prune_grace)
        dropped = set()
        for session_id in session_ids:
            if await self._scripts.index_drop(keys=self._keys.all, args=[session_id, "older", bound, "", ""]):
                dropped.add(session_id)
        if dropped:
            # Their channel and owner went with their records: find the entries by scanning.
            # Only sessions Redis expired without a janitor (or a crash) get here: rare.
            for key in self._keys.by_value:
                stale = [
                    member
                    async for member, _ in self._client.zscan_iter(key, count=1000)
                    if rc.as_text(member).rpartition(SEP)[2] in dropped
                ]
                if stale:
                    await self._client.zrem(key, *stale)

    async def set_deadline(self, session_id: str, deadline: float) -> None:
        await self.set_deadlines({session_id: deadline})

    async def set_deadlines(self, deadlines: dict[str, float]) -> None:
        """One ZADD for every (session id: deadline) given."""
        if deadlines:
            await self._client.zadd(self._keys.deadlines, deadlines)

    async def drop_deadline(self, session_id: str, deadline: float) -> None:
        await self.drop_deadlines([(session_id, deadline)])

    async def drop_deadlines(self, entries: Sequence[tuple[str, float]]) -> None:
        """Remove each (session id, deadline) entry if it still holds that deadline (not the
        next window's), all in one script call."""
        if entries:
            args = [arg for session_id, deadline in entries for arg in (session_id, score_arg(deadline))]
            await self._scripts.deadline_drop(keys=[self._keys.deadlines], args=args)

    async def raise_expiry(self, session_id: str, expire_time: float) -> None:
        await self._client.zadd(self._keys.expiry, {session_id: expire_time}, gt=True)

    async def add_values(self, before: Session, after: Session) -> None:
        """Before a commit: entries for a channel or owner the change gives the session."""
        for key, old, new in self._value_pairs(before, after):
            if new and new != old:
                await self._client.zadd(key, {new + SEP + after.session_id: 0})

    async def drop_values(self, before: Session, after: Session) -> None:
        """After a commit: entries of a channel or owner the change took from the session."""
        for key, old, new in self._value_pairs(before, after):
            if old and new != old:
                await self._client.zrem(key, old + SEP + after.session_id)

    def _value_pairs(self, before: Session, after: Session) -> list[tuple[str, str, str]]:
        return [
            (self._keys.channel, before.channel_id, after.channel_id),
            (self._keys.owner, before.owner_player_id, after.owner_player_id),
        ]

    # Readers

    async def newest_first(self) -> list[str]:
        """Every indexed session id by create_time, newest first (ties: id, descending)."""
        members = await self._client.zrange(self._keys.created, 0, -1, desc=True)
        return [rc.as_text(m) for m in members]

    async def created_keys(self) -> list[SessionKey]:
        """Like newest_first, with each session's create_time (its score)."""
        members = await self._client.zrange(self._keys.created, 0, -1, desc=True, withscores=True)
        return [SessionKey(float(pair[1]), rc.as_text(pair[0])) for pair in members]

    async def count(self) -> int:
        return int(await self._client.zcard(self._keys.created))

    async def of_channel(self, channel_id: str) -> list[str]:
        """Ids of the sessions of one channel, or of every channel when ``channel_id`` is ''."""
        return await self._by_value(self._keys.channel, channel_id)

    async def of_owner(self, owner_player_id: str) -> list[str]:
        return await self._by_value(self._keys.owner, owner_player_id)

    async def _by_value(self, key: str, value: str) -> list[str]:
        # Every member of the value: from "<value>/" up to, not including, "<value>0".
        low, high = (f"[{value}{SEP}", f"({value}{ABOVE_SEP}") if value else ("-", "+")
        members = await self._client.zrangebylex(key, low, high)
        return [rc.as_text(m).rpartition(SEP)[2] for m in members]

    async def deadlines_until(self, until: float) -> list[tuple[str, float]]:
        found = await self._client.zrangebyscore(self._keys.deadlines, "-inf", score_arg(until), withscores=True)
        return [(rc.as_text(pair[0]), float(pair[1])) for pair in found]

    async def expiring_until(self, until: float) -> list[str]:
        found = await self._client.zrangebyscore(self._keys.expiry, "-inf", score_arg(until))
        return [rc.as_text(m) for m in found]
