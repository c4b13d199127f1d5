"""The projector: drains the outboxes of the hot store into the durable graph.

"Never lose an acknowledged write": the atomic step that changes hot state also
appends the change's durable facts (sessiond.core.facts) to an outbox. The projector
applies them to the graph and removes them only once the graph committed them:

- At least once. Each outbox is read through a consumer group, so any replica can run a
  projector; an entry stays pending on its reader until acknowledged, after the apply.
  Facts are idempotent, so a redelivered fact changes nothing.
- In order per owner. One projector at a time holds entries of an outbox (the source
  guarantees it); its facts go to the graph in the order they were committed. Of the
  batches a projector has in flight at once, no two hold facts of the same outbox.
- An outage delays, never drops. Any failure of the applier other than ``permanent``
  (Neo4j down, a leader switch, a timeout, a bug) leaves the batch pending; the
  projector backs off (exponential, capped) and reads the same facts again.
- A fact that can never apply is parked, not retried forever: when ``apply`` raises
  ``permanent``, the batch is applied again one fact at a time, and each fact refused
  for good goes to the parked stream with its error.
- A projector that died holding a batch loses its claim after ``claim_idle`` seconds of
  silence; a live one renews its claim while its batch is being applied.
- The lag is visible: ``OutboxStats`` (``RedisStore.outbox_stats``).

This module knows neither Redis nor Neo4j: it drives any ``OutboxSource`` (the Redis
one is ``RedisStore.outbox_log``) with any applier (``GraphStore.apply_batch``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import secrets
import socket
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import structlog

from sessiond.periodic import Loops, periodic
from sessiond.store._backoff import backoff_delay

log = structlog.get_logger(__name__)

MAX_FANOUT = 64  # outboxes claimed in one go at most
# Redis calls of one projector in progress at once at most: it shares the store's
# connection pool with the calls sessiond serves, which must not wait for a connection.
CONCURRENT_CALLS = 16

Fact = dict[str, Any]
Apply = Callable[[list[Fact]], Awaitable[None]]
"""Applies facts in order, all or nothing; raises the permanent error class for a fact
that can never apply, anything else for a failure worth retrying."""


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    """One fact as read from an outbox."""

    entry_id: str
    fact: Fact | None  # None: the stored bytes do not decode to a fact (``error`` says why)
    raw: bytes = b""  # as stored, for parking an entry that does not decode
    error: str = ""


@dataclass(frozen=True, slots=True)
class OutboxStats:
    """How far the graph is behind the hot store."""

    pending: int  # facts not yet projected (an estimate when ``exact`` is False)
    oldest_age_seconds: float  # age of the oldest outbox with pending facts (0 when none)
    parked: int  # facts that could never apply, kept with their error
    outboxes: int  # outboxes with pending facts
    exact: bool  # False: ``pending`` was extrapolated from a random sample of the outboxes


class OutboxSource(Protocol):
    """The outboxes of a hot store, as the projector reads them."""

    async def dirty(self, limit: int) -> list[str]:
        """Up to ``limit`` outboxes that may hold facts, oldest pending fact first."""
        ...

    async def claim(
        self, outbox: str, group: str, consumer: str, count: int, min_idle: float
    ) -> list[OutboxEntry] | None:
        """The consumer's own unacknowledged entries of ``outbox`` if it has any, else up
        to ``count`` new ones; [] when it is empty (and then forgotten until written
        again); None while another consumer holds entries of it that were touched less
        than ``min_idle`` seconds ago (older ones are taken over)."""
        ...

    async def touch(self, outbox: str, group: str, consumer: str, entry_ids: Sequence[str]) -> None:
        """Tell other consumers the entries are still being worked on."""
        ...

    async def ack(self, outbox: str, group: str, entry_ids: Sequence[str]) -> None:
        """Remove entries that were applied or parked."""
        ...

    async def park(self, outbox: str, entry: OutboxEntry, error: str) -> None:
        """Keep a fact that can never apply, with its error (the caller acks it after)."""
        ...

    async def sweep(self) -> int:
        """Find outboxes with facts that ``dirty`` does not list (a writer died between its
        commit and indexing its outbox) and list them; returns how many."""
        ...


def default_consumer() -> str:
    """A consumer name unique to this process: hostname-pid-random."""
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(4)}"


@dataclass(frozen=True, slots=True)
class _Claim:
    outbox: str
    entries: list[OutboxEntry]

    @property
    def ids(self) -> list[str]:
        return [e.entry_id for e in self.entries]


class Projector:
    """Applies the facts of ``source``'s outboxes with ``apply``; run one per replica.

    ``permanent`` is the exception class ``apply`` raises for a fact that can never
    apply (``sessiond.store.neo4j.PermanentFactError``); every other exception is
    taken for an outage and retried. ``group`` names the consumer group: every
    projector of these outboxes must use the same one (an entry is deleted once
    acknowledged, so a second group would miss it). ``consumer`` names this projector
    (unique per process; the default is). One ``apply`` call gets at most
    ``batch_size`` facts, from as many outboxes as it takes, oldest first; a pass
    looks at ``outboxes_per_round`` outboxes at most; ``in_flight`` batches (of
    different outboxes) are applied at once at most. ``claim_idle``: seconds after
    which the entries of a silent projector are taken over. ``poll_interval``: the
    pause when there was nothing to do; ``sweep_interval``: between sweeps (SCANs);
    ``backoff_min``..``backoff_max``: the pauses after failures, doubling.
    A stopped projector stays stopped.
    """

    def __init__(
        self,
        source: OutboxSource,
        apply: Apply,
        permanent: type[Exception],
        *,
        group: str = "projector",
        consumer: str | None = None,
        batch_size: int = 100,
        outboxes_per_round: int = 1000,
        in_flight: int = 2,
        claim_idle: float = 30.0,
        poll_interval: float = 0.5,
        sweep_interval: float = 60.0,
        backoff_min: float = 0.1,
        backoff_max: float = 5.0,
    ) -> None:
        if min(batch_size, outboxes_per_round, in_flight) < 1:
            raise ValueError("batch_size, outboxes_per_round and in_flight must be at least 1")
        if min(claim_idle, poll_interval, sweep_interval, backoff_min, backoff_max) <= 0:
            raise ValueError("claim_idle, poll_interval, sweep_interval and the backoffs must be positive")
        self._source = source
        self._apply = apply
        self._permanent = permanent
        self.group = group
        self.consumer = consumer if consumer is not None else default_consumer()
        self._batch_size = batch_size
        self._outboxes_per_round = outboxes_per_round
        self._in_flight = in_flight
        self._facts_per_outbox = 1.0  # claimed per outbox, on average: how many to claim at once
        self._calls = asyncio.Semaphore(CONCURRENT_CALLS)
        self._claim_idle = claim_idle
        self._poll_interval = poll_interval
        self._sweep_interval = sweep_interval
        self._backoff_min = backoff_min
        self._backoff_max = backoff_max
        self._stopping = asyncio.Event()
        self._log = log.bind(consumer=self.consumer, group=group)

    def stop(self) -> None:
        """Make ``run_forever`` return after the batch in progress (cancel it to stop at once:
        an unacknowledged batch is projected again later, by this or another projector)."""
        self._stopping.set()

    async def run_forever(self) -> None:
        """Project until ``stop``: drain, sweep now and then, wait when idle, back off on failure."""
        loop = asyncio.get_running_loop()
        failures = 0
        next_sweep = loop.time()  # at once: outboxes a crashed fleet left unlisted
        self._log.info("outbox_projector_started")
        while not self._stopping.is_set():
            try:
                if loop.time() >= next_sweep:
                    if found := await self._source.sweep():
                        self._log.warning("outbox_sweep_relisted", outboxes=found)
                    next_sweep = loop.time() + self._sweep_interval * random.uniform(0.8, 1.2)
                applied = await self.drain_once()
            except Exception as exc:  # an outage (graph or Redis): keep everything, retry later
                delay = backoff_delay(failures, first=self._backoff_min, cap=self._backoff_max, jitter=0.5)
                self._log.warning("outbox_projection_failed", error=f"{type(exc).__name__}: {exc}", retry_in=delay)
                await self._pause(delay)
                failures += 1
                continue
            failures = 0
            if not applied:
                await self._pause(self._poll_interval)
        self._log.info("outbox_projector_stopped")

    async def drain_once(self) -> int:
        """One pass over the outboxes with facts, oldest first; returns how many facts it
        applied. Raises on an outage of the graph or of Redis; nothing is lost then.

        Up to ``in_flight`` batches are applied at once: the next batch is claimed and
        handed over while the earlier ones are in the graph. A pass takes each outbox once,
        so batches in flight never share an outbox and each owner's facts stay in order;
        the pass ends only when all of its batches have."""
        queue = deque(await self._source.dirty(self._outboxes_per_round))
        applied = 0
        flying: set[asyncio.Task[int]] = set()
        try:
            while queue and not self._stopping.is_set():
                if claims := await self._claim(queue):
                    while len(flying) >= self._in_flight:
                        applied += await _first_done(flying)
                    flying.add(asyncio.create_task(self._project(claims)))
            while flying:
                applied += await _first_done(flying)
        except BaseException as exc:
            await _settle_all(flying, cancel=isinstance(exc, asyncio.CancelledError))
            raise
        return applied

    async def _claim(self, queue: deque[str]) -> list[_Claim]:
        """Entries of the next outboxes of ``queue``, up to a batch (busy and empty ones
        skipped). Outboxes are claimed several at once (concurrent calls), as many as the
        facts per outbox seen so far say fill the batch; the entries of an outbox larger
        than that are cut at the batch's size and the rest stay pending on this consumer,
        first in line at the outbox's claim in the next pass."""
        claims: list[_Claim] = []
        size = 0
        while queue and size < self._batch_size:
            room = self._batch_size - size
            fanout = min(len(queue), MAX_FANOUT, max(1, int(room // self._facts_per_outbox)))
            outboxes = [queue.popleft() for _ in range(fanout)]
            claimed = await asyncio.gather(*(self._claim_one(outbox, room) for outbox in outboxes))
            for outbox, entries in zip(outboxes, claimed, strict=True):
                if not entries:
                    continue
                self._facts_per_outbox += (len(entries) - self._facts_per_outbox) / 8  # a moving average
                if size < self._batch_size:
                    entries = entries[: self._batch_size - size]
                    claims.append(_Claim(outbox, entries))
                    size += len(entries)
        return claims

    async def _claim_one(self, outbox: str, count: int) -> list[OutboxEntry] | None:
        async with self._calls:
            return await self._source.claim(outbox, self.group, self.consumer, count, self._claim_idle)

    async def _project(self, claims: list[_Claim]) -> int:
        """Apply the claimed facts as one batch, then ack them; one by one if one is refused."""
        facts = [e.fact for c in claims for e in c.entries if e.fact is not None]
        async with self._holding(claims):
            try:
                if facts:
                    await self._apply(facts)
            except self._permanent as exc:
                self._log.info("outbox_batch_refused", facts=len(facts), error=str(exc))
                return await self._one_by_one(claims)
            await asyncio.gather(*(self._settle(claim) for claim in claims))
        return len(facts)

    async def _settle(self, claim: _Claim) -> None:
        """Park what does not decode, then ack the claim's entries."""
        async with self._calls:
            for entry in claim.entries:
                if entry.fact is None:
                    await self._park(claim.outbox, entry, entry.error)
            await self._source.ack(claim.outbox, self.group, claim.ids)

    async def _one_by_one(self, claims: list[_Claim]) -> int:
        """Apply each fact alone, parking those refused for good. On an outage, the facts
        settled so far are acked (so a parked one is not parked twice) and it raises."""
        applied = 0
        for claim in claims:
            settled: list[str] = []
            try:
                for entry in claim.entries:
                    applied += await self._apply_one(claim.outbox, entry)
                    settled.append(entry.entry_id)
            except BaseException:
                if settled:
                    with contextlib.suppress(Exception):  # if Redis is down too, they come again
                        await self._source.ack(claim.outbox, self.group, settled)
                raise
            await self._source.ack(claim.outbox, self.group, settled)
        return applied

    async def _apply_one(self, outbox: str, entry: OutboxEntry) -> int:
        if entry.fact is None:
            await self._park(outbox, entry, entry.error)
            return 0
        try:
            await self._apply([entry.fact])
        except self._permanent as exc:
            await self._park(outbox, entry, f"{type(exc).__name__}: {exc}")
            return 0
        return 1

    async def _park(self, outbox: str, entry: OutboxEntry, error: str) -> None:
        await self._source.park(outbox, entry, error)
        self._log.error("outbox_fact_parked", outbox=outbox, entry_id=entry.entry_id, error=error)

    @contextlib.asynccontextmanager
    async def _holding(self, claims: list[_Claim]) -> AsyncIterator[None]:
        """Renew the claims while the batch is applied, so that a slow graph is not taken for
        a dead projector (another one would project the same facts meanwhile)."""
        renewal = Loops(f"outbox-claims:{self.consumer}")
        renew = periodic(self._claim_idle / 3, lambda: self._renew(claims), "outbox claim renewal")
        renewal.start({"claim-renewal": renew})
        try:
            yield
        finally:
            await renewal.stop()

    async def _renew(self, claims: list[_Claim]) -> None:
        for claim in claims:
            try:
                await self._source.touch(claim.outbox, self.group, self.consumer, claim.ids)
            except Exception as exc:  # the next renewal may work; the claim outlasts two misses
                self._log.warning("outbox_claim_renewal_failed", outbox=claim.outbox, error=str(exc))

    async def _pause(self, seconds: float) -> None:
        """Sleep, but wake up at once on ``stop``."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._stopping.wait()


async def _first_done(tasks: set[asyncio.Task[int]]) -> int:
    """Wait for one of ``tasks`` to end, remove it, and return its result (or raise its error)."""
    done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    task = done.pop()
    tasks.discard(task)
    return task.result()


async def _settle_all(tasks: set[asyncio.Task[int]], *, cancel: bool) -> None:
    """Let the batches still in flight end (their facts acked if applied: less to redeliver),
    or cancel them (their facts are redelivered); their own errors are the ones already raised."""
    if not tasks:
        return
    if cancel:
        for task in tasks:
            task.cancel()
    await asyncio.wait(tasks)
    for task in tasks:
        if not task.cancelled():
            task.exception()  # retrieved: asyncio would log it as never retrieved
