"""The outbox in Redis: durable facts waiting for the projector (sessiond.store.outbox).

Layout (see _keys):

- ``<prefix>:{<session_id>}:outbox``, ``<prefix>:{profile/<player_id>}:outbox``: a stream
  per owner, in its owner's slot, so the change scripts (_scripts) append the facts of a
  change atomically with it, on one node or a cluster. One entry per fact, field ``f``:
  the fact's JSON packed like every value (_packing). No TTL: facts outlive the session's
  TTL until projected. Read through a consumer group; an entry is deleted once acked.
- ``<prefix>:{idx}:dirty-outboxes`` (the dirty index): sorted set of the outboxes that may hold facts,
  scored by the time of their oldest pending fact, so projectors need not scan.
- ``<prefix>:{idx}:outbox-parked``: stream of the facts that can never apply (fields
  outbox, id, fact, error, time). Never trimmed: an operator reads and clears it.

The index is kept in the order that never strands a fact, as the deadline index is
(see _indexes): a writer indexes the outbox (ZADD NX) BEFORE its commit and again AFTER
it (a projector may have dropped the entry in between); a projector that finds an
outbox empty drops the entry FIRST, then looks at the outbox again and re-indexes it if
a fact arrived meanwhile. A writer that died between its commit and its second ZADD is
covered by the first one, and a crash of everything by ``sweep`` (a SCAN).

An empty outbox is deleted (with its consumer group) once its session is gone, a
profile's whenever it is empty; a reader re-creates the group, from the start, on the
next fact, so deleting never skips one.
"""

from __future__ import annotations

import contextlib
import json
import zlib
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from sessiond.store.outbox import Fact, OutboxEntry, OutboxStats
from sessiond.store.redis import _packing as rc
from sessiond.store.redis._client import Client, unavailable_on_failure
from sessiond.store.redis._keys import Keys
from sessiond.store.redis._scripts import Scripts

FACT = b"f"  # the field of an outbox entry
NO_FACTS: list[Any] = [0]  # the facts ARGV of a change script when the outbox is off
STATS_SAMPLE = 1000  # outboxes whose length outbox_stats reads at most
SWEEP_COUNT = 1000  # SCAN COUNT of the sweep


class OutboxLog:
    """Both sides of the outbox: what the store's writers add (``args``, ``mark``) and the
    ``OutboxSource`` a Projector drains. ``enabled`` only governs the writers: a store
    with the outbox off can still drain outboxes others wrote."""

    def __init__(self, client: Client, scripts: Scripts, keys: Keys, *, enabled: bool, compress: bool) -> None:
        self._client = client
        self._scripts = scripts
        self._keys = keys
        self.enabled = enabled
        self._compress = compress

    # Writers

    def args(self, facts: Callable[[], Iterable[Fact]]) -> list[Any]:
        """The facts ARGV of a change script (n, then the packed facts); ``facts`` is only
        called when the outbox is on, so a store without one does not build them."""
        if not self.enabled:
            return NO_FACTS
        packed = [rc.pack(rc.dumps(fact), self._compress) for fact in facts()]
        return [len(packed), *packed]

    async def mark(self, outbox: str, *, durable: bool = True) -> None:
        """Index ``outbox`` as dirty (a writer calls it before and after its commit);
        not for a change with no facts (an EPHEMERAL session's)."""
        if durable:
            await self.mark_many([outbox])

    async def mark_many(self, outboxes: Sequence[str]) -> None:
        """``mark`` for the outboxes of several durable changes, in one script call."""
        if self.enabled and outboxes:
            await self._index(*outboxes)

    # The projector's OutboxSource

    async def dirty(self, limit: int) -> list[str]:
        with unavailable_on_failure():
            return [rc.as_text(m) for m in await self._client.zrange(self._keys.outbox.dirty, 0, max(1, limit) - 1)]

    async def claim(
        self, outbox: str, group: str, consumer: str, count: int, min_idle: float
    ) -> list[OutboxEntry] | None:
        with unavailable_on_failure():
            reply = await self._scripts.outbox_claim(keys=[outbox], args=[group, consumer, count, _ms(min_idle)])
            if not int(reply[0]):
                return None
            entries = [_entry(entry_id, fields) for entry_id, fields in reply[1]]
            if not entries:
                await self._release(outbox)
            return entries

    async def touch(self, outbox: str, group: str, consumer: str, entry_ids: Sequence[str]) -> None:
        if entry_ids:
            with unavailable_on_failure():
                await self._scripts.outbox_touch(keys=[outbox], args=[group, consumer, *entry_ids])

    async def ack(self, outbox: str, group: str, entry_ids: Sequence[str]) -> None:
        """Ack and delete the entries; an outbox left empty leaves the index, one that is
        not gets the time of its oldest fact as score (the lag outbox_stats reports)."""
        if not entry_ids:
            return
        with unavailable_on_failure():
            left, oldest = await self._scripts.outbox_ack(keys=[outbox], args=[group, *entry_ids])
            if not int(left):
                await self._release(outbox)
            elif oldest:
                await self._client.zadd(self._keys.outbox.dirty, {outbox: _entry_time(oldest)}, xx=True)

    async def park(self, outbox: str, entry: OutboxEntry, error: str) -> None:
        with unavailable_on_failure():
            fact = entry.raw
            with contextlib.suppress(ValueError, zlib.error):
                fact = rc.unpack(entry.raw)  # plain JSON when it inflates: operators read it as is
            await self._scripts.outbox_park(
                keys=[self._keys.outbox.parked], args=[outbox, entry.entry_id, fact, error or "unknown error"]
            )

    async def sweep(self) -> int:
        """Index every outbox with facts that the index misses (O(keys): run it rarely),
        and delete the empty outboxes of sessions that are gone (Redis expired them)."""
        found = 0
        with unavailable_on_failure():
            pattern = self._keys.outbox_pattern()
            async for key in self._client.scan_iter(match=pattern, count=SWEEP_COUNT, _type="stream"):
                outbox = rc.as_text(key)
                if await self._clean(outbox):
                    found += await self._index(outbox)
        return found

    # Visibility

    async def facts(self, outbox: str) -> list[Fact]:
        """The facts of ``outbox`` not yet projected, oldest first (entries that do not
        decode left out): the changes the graph may not have yet."""
        with unavailable_on_failure():
            entries = await self._client.xrange(outbox) or []
        decoded = (_entry(entry_id, fields) for entry_id, fields in entries)
        return [e.fact for e in decoded if e.fact is not None]

    async def backlog(self, outboxes: Sequence[str]) -> list[tuple[int, Fact | None]]:
        """For each of ``outboxes``: how many facts wait in it, and the oldest of them
        (None when none does, or it does not decode)."""
        if not outboxes:
            return []
        with unavailable_on_failure():
            pipe = self._client.pipeline(transaction=False)
            for key in outboxes:
                pipe.xlen(key)
                pipe.xrange(key, count=1)
            replies = await pipe.execute()
        return [
            (int(length), _entry(*first[0]).fact if first else None)
            for length, first in zip(replies[::2], replies[1::2], strict=True)
        ]

    async def stats(self) -> OutboxStats:
        """Pending facts (summed over at most STATS_SAMPLE outboxes, extrapolated beyond),
        age of the oldest pending fact (Redis clock), parked facts."""
        dirty = self._keys.outbox.dirty
        with unavailable_on_failure():
            outboxes = int(await self._client.zcard(dirty))
            oldest = await self._client.zrange(dirty, 0, 0, withscores=True)
            now = await self._scripts.clock(keys=[dirty])  # the clock that scored the index
            exact = outboxes <= STATS_SAMPLE
            scores: list[float] = []  # of the sample, when it is every outbox (in score order, oldest first)
            if exact:
                found = await self._client.zrange(dirty, 0, -1, withscores=True)
                sample, scores = [rc.as_text(pair[0]) for pair in found], [float(pair[1]) for pair in found]
            else:
                sample = [rc.as_text(key) for key in await self._client.zrandmember(dirty, STATS_SAMPLE) or []]
            pipe = self._client.pipeline(transaction=False)
            for key in sample:
                pipe.xlen(key)
            lengths = [int(n) for n in await pipe.execute()] if sample else []
            parked = int(await self._client.xlen(self._keys.outbox.parked))
        pending = sum(lengths) if exact or not lengths else round(sum(lengths) * outboxes / len(lengths))
        if exact:  # the oldest outbox that still holds facts: none pending, no lag
            since = next((score for score, n in zip(scores, lengths, strict=True) if n), None)
        else:
            since = float(oldest[0][1]) if oldest else None
        age = max(0.0, rc.time_seconds(now) - since) if since is not None else 0.0
        return OutboxStats(pending, age, parked, outboxes, exact)

    # Helpers

    async def _index(self, *outboxes: str) -> int:
        return int(await self._scripts.outbox_mark(keys=[self._keys.outbox.dirty], args=list(outboxes)))

    async def _release(self, outbox: str) -> None:
        """Forget an outbox found empty: drop it from the index FIRST, then look again (a
        writer may have appended since) and index it again if so."""
        await self._client.zrem(self._keys.outbox.dirty, outbox)
        if await self._clean(outbox):
            await self._index(outbox)

    async def _clean(self, outbox: str) -> int:
        """The length of ``outbox``, deleting it if it is empty and its owner is gone."""
        owner = self._keys.outbox_owner(outbox)
        return int(await self._scripts.outbox_clean(keys=[outbox] if owner is None else [outbox, owner]))


def _entry(entry_id: Any, fields: Any) -> OutboxEntry:
    """An outbox entry as read; one that does not decode to a fact keeps its bytes and why."""
    eid = rc.as_text(entry_id)
    raw = rc.entry_fields(fields).get(FACT)
    if raw is None:
        return OutboxEntry(eid, None, b"", f"outbox entry without a {FACT.decode()!r} field")
    raw = rc.as_bytes(raw)
    try:
        fact = json.loads(rc.unpack(raw))
    except (ValueError, zlib.error) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        return OutboxEntry(eid, None, raw, f"undecodable outbox entry: {type(exc).__name__}: {exc}")
    if not isinstance(fact, dict):
        return OutboxEntry(eid, None, raw, f"an outbox entry holds a {type(fact).__name__}, not a fact")
    return OutboxEntry(eid, fact, raw)


def _entry_time(entry_id: Any) -> float:
    """The time (seconds) in an auto-generated stream id ``<ms>-<seq>``."""
    return int(rc.as_text(entry_id).partition("-")[0]) / 1000


def _ms(seconds: float) -> int:
    return max(1, round(seconds * 1000))
