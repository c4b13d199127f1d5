"""Presence on this replica: leases for the watch streams that name a player, and the
sweep that settles presence (core.presence) for every replica.

The leases are written in batches, never per stream: streams that open at once share
one write (the first stream of a player here waits for it, so other replicas see them
ONLINE when the watch starts), a closing stream is written in the next batch without
being waited for, and a heartbeat every third of the lease renews every pair this
replica holds in one write. A replica that dies stops renewing; its leases end on their
own and the sweep of any replica settles its players.
"""

from __future__ import annotations

import asyncio
import uuid

import structlog

from sessiond.core import presence
from sessiond.core.errors import SessiondError, SessionNotFound
from sessiond.core.tiers import TierRules
from sessiond.periodic import Loops, periodic
from sessiond.store.protocols import PresenceLeases, SessionStore

log = structlog.get_logger(__name__)

Pair = tuple[str, str]  # (session id, player id)
SWEEP_BATCH = 200  # sessions settled per sweep pass


class PresenceTracker:
    """The presence leases of this replica's watch streams, and the presence sweep."""

    def __init__(
        self, store: SessionStore, tiers: TierRules, lease_seconds: float, sweep_interval: float
    ) -> None:
        self.replica = uuid.uuid4().hex
        self._store = store
        self._tiers = tiers
        self._lease = lease_seconds
        self._sweep_interval = sweep_interval
        self._streams: dict[Pair, int] = {}  # open streams per pair
        self._graces: dict[Pair, float] = {}
        self._opened: set[Pair] = set()  # held, not written yet
        self._released: dict[Pair, float] = {}  # pair -> the session's grace, not written yet
        self._next: asyncio.Future[None] | None = None  # the batch that new changes join
        self._writing = asyncio.Lock()
        self._writes: set[asyncio.Task[None]] = set()
        self._loops = Loops("presence")

    @property
    def held(self) -> int:
        """Pairs (session, player) with a stream open here."""
        return len(self._streams)

    async def start(self) -> None:
        self._loops.start(
            {
                "heartbeat": periodic(self._lease / 3, self.heartbeat, "presence heartbeat"),
                "sweep": periodic(self._sweep_interval, self.sweep, "presence sweep"),
            }
        )

    async def stop(self) -> None:
        """Stop the loops and write what the last streams left (their leases end now)."""
        await self._loops.stop()
        if self._writes:
            await asyncio.gather(*self._writes, return_exceptions=True)
        async with self._writing:
            await self._write(complete=False)

    # Streams

    async def hold(self, session_id: str, player_id: str, grace: float, online: bool) -> None:
        """A stream for ``player_id`` opened here (``grace``: the session's; ``online``: the
        player's settled presence as the watch read it): lease them (the first stream of
        the pair waits for the batch write) and settle them ONLINE if they were not."""
        pair = (session_id, player_id)
        count = self._streams.get(pair, 0)
        self._streams[pair] = count + 1
        self._graces[pair] = grace
        if count:
            return
        self._released.pop(pair, None)
        self._opened.add(pair)
        await asyncio.shield(self._batch())
        if not online:
            now = await self._store.now()
            await self._store.mutate(session_id, presence.settle({player_id: (True, now)}, self._tiers))

    def release(self, session_id: str, player_id: str) -> None:
        """A stream for ``player_id`` closed here; the last one ends the lease now."""
        pair = (session_id, player_id)
        count = self._streams.get(pair, 0) - 1
        if count > 0:
            self._streams[pair] = count
            return
        self._streams.pop(pair, None)
        self._opened.discard(pair)
        self._released[pair] = self._graces.pop(pair, 0.0)
        self._batch()

    async def heartbeat(self) -> None:
        """Renew every pair held here (and write what is pending) in one write."""
        async with self._writing:
            await self._write(complete=True)

    def _batch(self) -> asyncio.Future[None]:
        """The next batch write, started if none is waiting; changes made before it
        starts writing are in it."""
        if self._next is None:
            done = self._next = asyncio.get_running_loop().create_future()
            task = asyncio.create_task(self._write_batch(done), name="presence-batch")
            self._writes.add(task)
            task.add_done_callback(self._writes.discard)
        return self._next

    async def _write_batch(self, done: asyncio.Future[None]) -> None:
        async with self._writing:
            if self._next is done:
                self._next = None
            try:
                await self._write(complete=False)
            except SessiondError as exc:  # the heartbeat writes it again
                log.warning("presence lease write failed", error=exc.message)
            finally:
                done.set_result(None)

    async def _write(self, *, complete: bool) -> None:
        opened, self._opened = self._opened, set()
        released, self._released = self._released, {}
        held = list(self._streams) if complete else [p for p in opened if p in self._streams]
        if not held and not released:
            return
        try:
            await self._store.renew_presence(PresenceLeases(self.replica, self._lease, held, released, complete))
        except SessiondError:
            self._opened |= {p for p in opened if p in self._streams}
            self._released = {p: g for p, g in released.items() if p not in self._streams} | self._released
            raise

    # Settling, for every replica

    async def sweep(self) -> int:
        """Settle the sessions whose presence is due; returns how many were looked at."""
        due = await self._store.presence_due(await self._store.now(), SWEEP_BATCH)
        for session_id in due:
            await self.settle(session_id)
        return len(due)

    async def settle(self, session_id: str) -> None:
        """Commit the settled changes due in ``session_id`` and say when to look again.
        After settling a player OFFLINE the session is looked at again one lease later:
        a stream that opened while this ran may have found them still online and
        committed nothing, and is then settled ONLINE."""
        leases = await self._store.presence_leases(session_id)
        try:
            session = await self._store.get(session_id)
            now = await self._store.now()
            changes = presence.due(session, leases, now)
            if changes:
                session, _ = await self._store.mutate(session_id, presence.settle(changes, self._tiers))
        except SessionNotFound:
            await self._store.presence_checked(session_id, list(leases), None)
            return
        gone = [pid for pid, (online, _) in changes.items() if not online]
        forget = gone + [pid for pid in leases if pid not in session.roster]
        again = presence.next_due(session, leases, now)
        if gone:
            again = min(again or now + self._lease, now + self._lease)
        await self._store.presence_checked(session_id, forget, again)
