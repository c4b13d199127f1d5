"""The outbox of the Redis store and the projector that drains it, against real redis-server
processes (one node and a 3-master cluster).

The applier here is a test double of the graph's ``apply_batch`` that records the facts it
is given; it is not a Neo4j mock (the graph has its own tests against a real Neo4j). It
stands for any applier: all or nothing per call, a permanent error class for facts that
can never apply, anything else for an outage.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

import pytest
import redis.asyncio as aioredis
from redis.crc import key_slot

from sessiond.core import facts
from sessiond.core.errors import InvalidInput, SessionNotFound, VersionConflict
from sessiond.core.limits import Limits
from sessiond.core.models import UNCHANGED, Mutation, PlayerProfile, Session, Turn
from sessiond.core.window import set_turn_summary
from sessiond.store.outbox import Fact, OutboxEntry, OutboxSource, Projector
from sessiond.store.redis import RedisStore
from sessiond.store.redis import _outbox as outbox_module
from sessiond.store.redis import _packing as rc
from tests.integration.test_redis_store import bump, created, resolve_a_turn, until_gone
from tests.redis_server import RedisClusterServers, RedisServer

pytestmark = pytest.mark.redis

LIMITS = Limits()
WAIT = 20.0  # seconds a test waits for the projection at most (a bound, not a latency figure)


class Transient(Exception):
    """The applier's outage (Neo4j's ServiceUnavailable, say)."""


class Permanent(Exception):
    """The applier's fact that can never apply (PermanentFactError)."""


class Recorder:
    """Applies facts by recording them, all or nothing per call. ``failing`` calls raise
    Transient first; a batch holding a fact ``refuse`` picks raises Permanent; ``delay``
    makes each call slow; ``gate`` (when set) must open before a call returns; with
    ``together`` set, no call returns before that many calls have been in progress at once."""

    def __init__(
        self,
        *,
        failing: int = 0,
        refuse: Callable[[Fact], bool] = lambda _fact: False,
        delay: float = 0.0,
        gate: asyncio.Event | None = None,
        together: int = 0,
    ) -> None:
        self.facts: list[Fact] = []
        self.calls: list[float] = []  # monotonic time of each call
        self.failing = failing
        self.refuse = refuse
        self.delay = delay
        self.gate = gate
        self.started = asyncio.Event()
        self.in_flight: set[tuple[Any, ...]] = set()
        self.overlaps: list[tuple[Any, ...]] = []
        self.together = together
        self.calls_in_progress = 0
        self.were_together = asyncio.Event()

    async def __call__(self, batch: list[Fact]) -> None:
        self.calls.append(time.monotonic())
        self.started.set()
        if self.failing:
            self.failing -= 1
            raise Transient("the graph is down")
        refused = [f for f in batch if self.refuse(f)]
        if refused:
            raise Permanent(f"cannot apply {ident(refused[0])}")
        ids = [ident(f) for f in batch]
        self.overlaps += [i for i in ids if i in self.in_flight]
        self.in_flight.update(ids)
        self.calls_in_progress += 1
        try:
            if self.calls_in_progress >= self.together:
                self.were_together.set()
            await self.were_together.wait()
            if self.delay:
                await asyncio.sleep(self.delay)
            if self.gate is not None:
                await self.gate.wait()
        finally:
            self.calls_in_progress -= 1
            self.in_flight.difference_update(ids)
        self.facts.extend(batch)


def ident(fact: Fact) -> tuple[Any, ...]:
    """What makes a fact unique: its kind, owner and version."""
    owner = fact.get("session_id") or fact.get("player_id")
    return (fact["kind"], owner, fact.get("revision"), fact.get("turn_number"))


def revisions(applied: Iterable[Fact], session_id: str) -> list[int]:
    return [f["revision"] for f in applied if f["kind"] == facts.SESSION and f["session_id"] == session_id]


def projector(store: RedisStore, apply: Recorder, **options: Any) -> Projector:
    settings: dict[str, Any] = {"poll_interval": 0.02, "backoff_min": 0.05, "backoff_max": 0.2}
    return Projector(store.outbox_log, apply, Permanent, **(settings | options))


async def stream(client: aioredis.Redis | aioredis.RedisCluster, key: str) -> list[tuple[bytes, dict[bytes, bytes]]]:
    """A stream's entries, oldest first."""
    entries = await client.xrange(key) or []
    return [(rc.as_bytes(i), {rc.as_bytes(k): rc.as_bytes(v) for k, v in (f or {}).items()}) for i, f in entries]


async def outbox_facts(client: aioredis.Redis | aioredis.RedisCluster, key: str) -> list[Fact]:
    """The facts in an outbox, oldest first, decoded as the projector decodes them."""
    entries = [outbox_module._entry(entry_id, fields) for entry_id, fields in await stream(client, key)]
    assert all(e.fact is not None for e in entries)
    return [e.fact for e in entries if e.fact is not None]


async def drain(*projectors: Projector) -> int:
    """Run drain_once until nothing is left (bounded)."""
    applied = 0
    async with asyncio.timeout(WAIT):
        while True:
            done = sum([await p.drain_once() for p in projectors])
            applied += done
            if not done and not await projectors[0]._source.dirty(1):
                return applied


async def until(predicate: Callable[[], bool]) -> None:
    """Poll (bounded) until ``predicate()``."""
    async with asyncio.timeout(WAIT):
        while not predicate():  # noqa: ASYNC110 - what it waits for sets no event
            await asyncio.sleep(0.01)


def retitle(title: str) -> Callable[[Session, Turn | None, float], tuple[Mutation, None]]:
    def change(s: Session, _t: Turn | None, _now: float) -> tuple[Mutation, None]:
        s.title = title
        return Mutation(activity=False), None

    return change


def summarise(summary: str) -> Callable[[Session, Turn | None, float], tuple[Mutation, Turn]]:
    def change(_s: Session, t: Turn | None, _now: float) -> tuple[Mutation, Turn]:
        assert t is not None
        return set_turn_summary(summary, "", LIMITS)(_s, t, 0.0)

    return change


def named(name: str) -> Callable[[PlayerProfile | None], PlayerProfile]:
    def change(old: PlayerProfile | None) -> PlayerProfile:
        profile = old if old is not None else PlayerProfile("")
        profile.display_name = name
        return profile

    return change


def open_store(url: str, **options: Any) -> RedisStore:
    return RedisStore.from_url(url, **({"history": 5, "ttl_margin": 60.0, "outbox": True} | options))


# What the writers append


async def test_every_kind_of_change_appends_its_facts(store: RedisStore, admin: aioredis.Redis) -> None:
    outbox = store.keys.session("s1").outbox
    made = await created(store, "s1")
    assert await outbox_facts(admin, outbox) == [facts.session_fact(made)]

    bumped, _ = await store.mutate("s1", bump())
    resolved, _ = await store.mutate("s1", resolve_a_turn)
    turn = (await store.turns("s1", None, 1))[0]
    summarised, _ = await store.mutate("s1", summarise("Dawn."), turn_number=1)
    summary_turn = (await store.turns("s1", None, 1))[0]
    assert summary_turn.summary == "Dawn."
    await store.delete("s1")
    assert await outbox_facts(admin, outbox) == [
        facts.session_fact(made),
        facts.session_fact(bumped, after_event_id=made.last_event_id),
        *facts.facts_of_commit(resolved, turn, None, after_event_id=bumped.last_event_id),
        *facts.facts_of_commit(summarised, None, summary_turn, after_event_id=resolved.last_event_id),
        facts.deleted_fact("s1", made.create_time),
    ]

    first = await store.mutate_profile("ann", named("Ann"))
    second = await store.mutate_profile("ann", named("Annie"))
    profile_outbox = store.keys.profile_outbox("ann")
    assert await outbox_facts(admin, profile_outbox) == [facts.profile_fact(first), facts.profile_fact(second)]
    dirty = {rc.as_text(m) for m in await admin.zrange(store.keys.outbox.dirty, 0, -1)}
    assert dirty == {outbox, profile_outbox}


async def test_a_refused_or_unchanged_change_appends_nothing(store: RedisStore, admin: aioredis.Redis) -> None:
    made = await created(store, "s1")
    await store.mutate_profile("ann", named("Ann"))

    def refuse(_s: Session, _t: Turn | None, _now: float) -> tuple[Mutation, None]:
        raise InvalidInput("state", "refused")

    def refuse_profile(_old: PlayerProfile | None) -> PlayerProfile:
        raise InvalidInput("display_name", "refused")

    with pytest.raises(InvalidInput):
        await store.mutate("s1", refuse)
    assert await store.mutate("s1", lambda _s, _t, _now: (UNCHANGED, None)) == (made, None)
    with pytest.raises(VersionConflict):
        await store.delete("s1", etag='"stale"')
    with pytest.raises(InvalidInput):
        await store.mutate_profile("ann", refuse_profile)
    assert len(await outbox_facts(admin, store.keys.session("s1").outbox)) == 1
    assert len(await outbox_facts(admin, store.keys.profile_outbox("ann"))) == 1


async def test_outboxes_share_their_owners_slot_and_outlive_their_ttl(store: RedisStore, admin: aioredis.Redis) -> None:
    await created(store, "s1", idle_ttl_seconds=3600.0)
    await store.mutate_profile("ann", named("Ann"))
    keys = store.keys.session("s1")
    assert len({key_slot(k.encode()) for k in keys.with_outbox}) == 1
    assert key_slot(store.keys.profile("ann").encode()) == key_slot(store.keys.profile_outbox("ann").encode())
    assert await admin.pttl(keys.outbox) == -1  # no TTL: facts wait for the projector
    # Redis expires the session; its facts stay, and a session created again with the id
    # appends after them, so the graph sees the first incarnation before the second.
    for key in keys.all:
        await admin.pexpire(key, 1)
    await until_gone(admin, keys.all)
    again = await created(store, "s1")
    found = await outbox_facts(admin, keys.outbox)
    assert [f["kind"] for f in found] == [facts.SESSION, facts.SESSION] and found[1] == facts.session_fact(again)


async def test_no_outbox_shares_a_key_with_anything_else(store: RedisStore) -> None:
    # Ids are free to look like the other keys' tags: "idx" (the indexes), "profile:ann".
    for session_id in ("idx", "profile:ann"):
        await created(store, session_id)
    await store.mutate_profile("ann", named("Ann"))
    outboxes = {store.keys.session(sid).outbox for sid in ("idx", "profile:ann")} | {store.keys.profile_outbox("ann")}
    others = {store.keys.outbox.dirty, store.keys.outbox.parked, *store.keys.index.all, store.keys.profile("ann")}
    others |= {key for sid in ("idx", "profile:ann") for key in store.keys.session(sid).all}
    assert len(outboxes) == 3 and not outboxes & others
    applied = Recorder()
    assert await drain(projector(store, applied)) == 3
    assert (await store.outbox_stats()).outboxes == 0


async def test_the_outbox_off_writes_no_outbox(redis_server: RedisServer, admin: aioredis.Redis) -> None:
    plain = open_store(redis_server.url, outbox=False)
    try:
        await created(plain, "s1")
        await plain.mutate("s1", bump())
        await plain.mutate_profile("ann", named("Ann"))
        await plain.delete("s1")
        assert [k async for k in admin.scan_iter(match=plain.keys.outbox_pattern())] == []
        assert not await admin.exists(plain.keys.outbox.dirty)
    finally:
        await plain.close()


async def test_racing_replicas_append_exactly_one_session_fact_per_revision(
    replicas: tuple[RedisStore, RedisStore], admin: aioredis.Redis
) -> None:
    a, b = replicas
    await created(a, "s1")
    await asyncio.gather(*(store.mutate("s1", bump()) for store in (a, b) * 25))
    found = await outbox_facts(admin, a.keys.session("s1").outbox)
    assert revisions(found, "s1") == list(range(1, 52))
    final = await b.get("s1")
    assert found[-1] == facts.session_fact(final, after_event_id=final.last_event_id - 1)  # a bump appends one event


async def test_on_a_cluster_changes_append_their_facts_and_are_projected(redis_cluster: RedisClusterServers) -> None:
    redis_cluster.flush()
    store = open_store(redis_cluster.url, cluster=True)
    client = aioredis.RedisCluster.from_url(redis_cluster.url)
    try:
        for i in range(12):  # spread over the three masters
            await created(store, f"s{i}")
            await store.mutate(f"s{i}", bump())
            await store.mutate(f"s{i}", resolve_a_turn)
            await store.mutate_profile(f"p{i}", named(f"P{i}"))
        await store.delete("s0")
        await client.initialize()
        nodes = {str(client.get_node_from_key(store.keys.session(f"s{i}").outbox)) for i in range(12)}
        assert len(nodes) == 3
        for i in range(1, 12):
            found = await outbox_facts(client, store.keys.session(f"s{i}").outbox)
            assert [f["kind"] for f in found] == [facts.SESSION, facts.SESSION, facts.SESSION, facts.TURN]
            assert await outbox_facts(client, store.keys.profile_outbox(f"p{i}")) == [
                facts.profile_fact(await store.get_profile(f"p{i}"))
            ]
        assert (await store.outbox_stats()).pending == 12 * 4 + 1 + 12

        applied = Recorder()
        await client.zrem(store.keys.outbox.dirty, store.keys.session("s5").outbox)  # a writer died before indexing
        assert await store.outbox_log.sweep() == 1  # SCAN covers every master
        assert await drain(projector(store, applied)) == 12 * 4 + 1 + 12
        assert Counter(ident(f) for f in applied.facts).most_common(1)[0][1] == 1
        stats = await store.outbox_stats()
        assert (stats.pending, stats.outboxes) == (0, 0)
        assert not await client.exists(store.keys.session("s0").outbox)  # empty, and its session is gone
    finally:
        await client.aclose()
        await store.close()


# The projector


async def test_the_projector_applies_every_fact_once_in_order_and_cleans_up(
    store: RedisStore, admin: aioredis.Redis
) -> None:
    for i in range(30):
        await created(store, f"s{i}")
    for round_ in range(4):
        await asyncio.gather(*(store.mutate(f"s{i}", bump()) for i in range(30)))
        if round_ == 1:
            await store.mutate("s0", resolve_a_turn)
    for i in range(10):
        await store.delete(f"s{i}")
    await store.mutate_profile("ann", named("Ann"))
    expected = [f for i in range(30) for f in await outbox_facts(admin, store.keys.session(f"s{i}").outbox)]
    expected += await outbox_facts(admin, store.keys.profile_outbox("ann"))

    applied = Recorder()
    assert await drain(projector(store, applied, batch_size=7)) == len(expected) == 30 * 5 + 2 + 10 + 1
    assert sorted(map(ident, applied.facts)) == sorted(map(ident, expected))  # each exactly once
    for i in range(30):
        of_session = [f for f in applied.facts if f.get("session_id") == f"s{i}"]
        assert of_session == [f for f in expected if f.get("session_id") == f"s{i}"]  # in commit order
    # Acked and deleted; empty outboxes leave the index, and go once their session is gone.
    assert await admin.zcard(store.keys.outbox.dirty) == 0
    outboxes = {rc.as_text(k) async for k in admin.scan_iter(match=store.keys.outbox_pattern())}
    assert outboxes == {store.keys.session(f"s{i}").outbox for i in range(10, 30)}
    assert all([await admin.xlen(k) == 0 for k in outboxes])
    assert all([await admin.xinfo_consumers(k, "projector") == [] for k in outboxes])  # no stale consumer
    assert await store.outbox_log.sweep() == 0

    # A later change is projected too: its outbox is indexed again.
    await store.mutate("s10", bump())
    assert await drain(projector(store, applied)) == 1
    assert revisions(applied.facts, "s10")[-2:] == [5, 6]


class ClaimCounter:
    """An OutboxSource that counts the claims in progress at once (the rest is the store's)."""

    def __init__(self, source: OutboxSource) -> None:
        self.source = source
        self.in_progress = 0
        self.most = 0

    async def claim(
        self, outbox: str, group: str, consumer: str, count: int, min_idle: float
    ) -> list[OutboxEntry] | None:
        self.in_progress += 1
        self.most = max(self.most, self.in_progress)
        try:
            return await self.source.claim(outbox, group, consumer, count, min_idle)
        finally:
            self.in_progress -= 1

    def __getattr__(self, name: str) -> Any:
        return getattr(self.source, name)


async def test_batches_of_different_sessions_are_in_flight_at_once_each_in_order(
    store: RedisStore, admin: aioredis.Redis
) -> None:
    """The next batch is claimed and applied while the previous one is still in the graph
    (two calls of the applier in progress at once: without that, the first call never
    returns and the drain times out), and outboxes are claimed several at a time; yet no
    fact is applied twice and each session's facts arrive in commit order."""
    for i in range(12):
        await created(store, f"s{i}")
        for _ in range(3):
            await store.mutate(f"s{i}", bump())
    expected = {f"s{i}": await outbox_facts(admin, store.keys.session(f"s{i}").outbox) for i in range(12)}
    applied = Recorder(together=2)
    source = ClaimCounter(store.outbox_log)
    runner = Projector(source, applied, Permanent, batch_size=8, in_flight=2)
    assert await drain(runner) == 12 * 4
    assert applied.overlaps == []
    assert len(applied.calls) >= 6 and source.most > 1
    for sid, committed in expected.items():
        assert [f for f in applied.facts if f["session_id"] == sid] == committed
    assert await admin.zcard(store.keys.outbox.dirty) == 0


async def test_an_outage_applies_and_acks_nothing_then_everything_after_backoff(
    store: RedisStore, admin: aioredis.Redis
) -> None:
    for i in range(5):
        await created(store, f"s{i}")
        await store.mutate(f"s{i}", bump())
    applied = Recorder(failing=4)
    runner = projector(store, applied, backoff_min=0.05, backoff_max=0.2)
    with pytest.raises(Transient):
        await runner.drain_once()
    # Nothing acked: every fact is still in its outbox, pending on the projector.
    outbox = store.keys.session("s0").outbox
    assert await admin.xlen(outbox) == 2
    assert (await admin.xpending(outbox, runner.group))["pending"] == 2
    assert applied.facts == []

    task = asyncio.create_task(runner.run_forever())
    try:
        await until(lambda: len(applied.facts) == 10)
        runner.stop()
        await asyncio.wait_for(task, WAIT)
    finally:
        task.cancel()
    # The failed batch came again (at least once) and then applied once: no loss, no duplicate.
    assert len(applied.facts) == len(set(map(ident, applied.facts))) == 10
    # run_forever backed off after each of its 3 failures (0.05, 0.1, 0.2 s, jittered by up
    # to half), never a busy loop; then the batch applied.
    calls = applied.calls[1:]  # the first failure was drain_once's
    gaps = [later - earlier for earlier, later in itertools.pairwise(calls)]
    assert len(gaps) == 3 and all(gap >= 0.02 for gap in gaps) and sum(gaps) >= 0.15
    assert await admin.zcard(store.keys.outbox.dirty) == 0


async def test_a_fact_that_can_never_apply_is_parked_and_the_rest_applied(
    store: RedisStore, admin: aioredis.Redis
) -> None:
    for i in range(4):
        await created(store, f"s{i}")
        await store.mutate(f"s{i}", bump())
    bad_outbox = store.keys.session("s2").outbox
    await admin.xadd(bad_outbox, {"f": b"\x01not deflate"})  # a value no projector can decode
    applied = Recorder(refuse=lambda f: f.get("session_id") == "s1" and f.get("revision") == 2)
    assert await drain(projector(store, applied)) == 7
    assert ("session", "s1", 2, None) not in map(ident, applied.facts)
    assert revisions(applied.facts, "s1") == [1]
    assert sorted(revisions(applied.facts, "s3")) == [1, 2]

    parked = await stream(admin, store.keys.outbox.parked)
    assert len(parked) == 2
    by_outbox = {rc.as_text(fields[b"outbox"]): fields for _, fields in parked}
    refused = by_outbox[store.keys.session("s1").outbox]
    assert json.loads(refused[b"fact"])["revision"] == 2  # readable JSON
    assert b"Permanent: cannot apply" in refused[b"error"]
    assert float(refused[b"time"]) > 0 and refused[b"id"]
    assert b"undecodable outbox entry" in by_outbox[bad_outbox][b"error"]
    assert (await store.outbox_stats()).parked == 2
    for i in range(4):
        assert await admin.xlen(store.keys.session(f"s{i}").outbox) == 0


async def test_two_projectors_share_the_work_without_applying_an_entry_twice(
    replicas: tuple[RedisStore, RedisStore],
) -> None:
    a, b = replicas
    sessions = [f"s{i}" for i in range(20)]
    for sid in sessions:
        await created(a, sid)
    applied = Recorder(delay=0.002)  # shared: overlaps between the two projectors are seen
    runners = [projector(a, applied, batch_size=5), projector(b, applied, batch_size=5)]
    assert runners[0].consumer != runners[1].consumer
    tasks = [asyncio.create_task(r.run_forever()) for r in runners]
    try:
        await asyncio.gather(*(store.mutate(sid, bump()) for sid in sessions for store in (a, b) * 5))
        await until(lambda: len(applied.facts) == 20 * 11)
        for runner in runners:
            runner.stop()
        await asyncio.wait_for(asyncio.gather(*tasks), WAIT)
    finally:
        for task in tasks:
            task.cancel()
    assert applied.overlaps == []
    assert Counter(map(ident, applied.facts)).most_common(1)[0][1] == 1
    for sid in sessions:
        assert revisions(applied.facts, sid) == list(range(1, 12))  # in order, across projectors
    assert (await a.outbox_stats()).pending == 0


async def test_entries_of_a_dead_projector_are_claimed_after_the_idle_time(
    store: RedisStore, admin: aioredis.Redis
) -> None:
    for i in range(3):
        await created(store, f"s{i}")
    stuck = Recorder(gate=asyncio.Event())  # never opens: the projector dies in its apply
    dead = projector(store, stuck, claim_idle=1.0)
    task = asyncio.create_task(dead.drain_once())
    await asyncio.wait_for(stuck.started.wait(), WAIT)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    outbox = store.keys.session("s0").outbox
    assert (await admin.xpending(outbox, dead.group))["consumers"] == [{"name": dead.consumer.encode(), "pending": 1}]

    applied = Recorder()
    heir = projector(store, applied, claim_idle=1.0)
    assert await heir.drain_once() == 0  # held, and not idle long enough
    await asyncio.sleep(1.1)
    assert await drain(heir) == 3
    assert await admin.xinfo_consumers(outbox, heir.group) == []  # the dead consumer went with its claim
    assert sorted(map(ident, applied.facts)) == sorted(("session", f"s{i}", 1, None) for i in range(3))


async def test_a_slow_projection_keeps_its_claim(store: RedisStore) -> None:
    await created(store, "s1")
    slow = Recorder(delay=1.5)
    other = Recorder()
    first = projector(store, slow, claim_idle=0.6)  # renewed every 0.2 s
    second = projector(store, other, claim_idle=0.6)
    task = asyncio.create_task(first.drain_once())
    await asyncio.wait_for(slow.started.wait(), WAIT)
    for _ in range(10):  # for twice the idle time: the claim is renewed meanwhile
        assert await second.drain_once() == 0
        await asyncio.sleep(0.1)
    assert await asyncio.wait_for(task, WAIT) == 1
    assert other.facts == [] and len(slow.facts) == 1


async def test_the_sweep_indexes_an_outbox_a_dead_writer_left_unindexed(
    store: RedisStore, admin: aioredis.Redis
) -> None:
    await created(store, "s1")
    await admin.zrem(store.keys.outbox.dirty, store.keys.session("s1").outbox)
    applied = Recorder()
    runner = projector(store, applied)
    assert await runner.drain_once() == 0
    assert await store.outbox_log.sweep() == 1
    assert await drain(runner) == 1
    # An empty outbox of a session Redis expired goes at the next sweep.
    keys = store.keys.session("s1")
    await admin.delete(keys.session)
    assert await admin.exists(keys.outbox)
    assert await store.outbox_log.sweep() == 0
    assert not await admin.exists(keys.outbox)


async def test_outbox_stats_show_pending_lag_and_parked(
    store: RedisStore, admin: aioredis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = await store.outbox_stats()
    assert (empty.pending, empty.oldest_age_seconds, empty.parked, empty.outboxes, empty.exact) == (0, 0.0, 0, 0, True)
    for i in range(4):
        await created(store, f"s{i}")
        await store.mutate(f"s{i}", bump())
    await asyncio.sleep(0.2)
    stats = await store.outbox_stats()
    assert (stats.pending, stats.outboxes, stats.exact) == (8, 4, True)
    assert 0.2 <= stats.oldest_age_seconds < WAIT
    monkeypatch.setattr(outbox_module, "STATS_SAMPLE", 2)  # beyond the sample: an estimate, and it says so
    sampled = await store.outbox_stats()
    assert (sampled.pending, sampled.outboxes, sampled.exact) == (8, 4, False)
    monkeypatch.undo()

    await drain(projector(store, Recorder(refuse=lambda f: f["session_id"] == "s0")))
    stats = await store.outbox_stats()
    assert (stats.pending, stats.oldest_age_seconds, stats.parked, stats.outboxes) == (0, 0.0, 2, 0)


async def test_a_partly_drained_outbox_reports_the_age_of_its_oldest_fact(
    store: RedisStore, admin: aioredis.Redis
) -> None:
    await created(store, "s1")
    await asyncio.sleep(0.3)
    await store.mutate("s1", bump())
    assert (await store.outbox_stats()).oldest_age_seconds >= 0.3
    await projector(store, Recorder(), batch_size=1).drain_once()  # projects the first fact only
    stats = await store.outbox_stats()
    assert stats.pending == 1 and stats.oldest_age_seconds < 0.3


async def test_an_undecodable_entry_is_reported_with_its_bytes() -> None:
    entry = outbox_module._entry(b"1-0", {b"f": b"[1]"})
    assert entry == OutboxEntry("1-0", None, b"[1]", "an outbox entry holds a list, not a fact")


async def test_the_projector_rides_out_a_redis_outage(fresh_server: RedisServer) -> None:
    store = open_store(fresh_server.url)
    try:
        await created(store, "s1")
        applied = Recorder()
        runner = projector(store, applied)
        await asyncio.to_thread(fresh_server.stop)
        task = asyncio.create_task(runner.run_forever())
        await asyncio.sleep(0.5)  # failing and backing off, not crashing
        assert not task.done() and applied.facts == []
        await asyncio.to_thread(fresh_server.start)  # the append-only file kept the outbox
        await until(lambda: len(applied.facts) == 1)
        runner.stop()
        await asyncio.wait_for(task, WAIT)
        assert applied.facts == [facts.session_fact(await store.get("s1"))]
    finally:
        await store.close()


async def test_the_janitor_frees_hot_storage_without_deleting_the_durable_record(
    store: RedisStore, admin: aioredis.Redis
) -> None:
    """evict (the janitor) frees the keys like delete, but appends no delete fact: the
    graph keeps the session, to be restored on demand. A caller's delete does append one."""
    outbox = store.keys.session("s1").outbox
    made = await created(store, "s1")
    await store.evict("s1", made.etag)
    with pytest.raises(SessionNotFound):
        await store.get("s1")
    assert await outbox_facts(admin, outbox) == [facts.session_fact(made)]
    again = await created(store, "s1")
    await store.delete("s1")
    assert (await outbox_facts(admin, outbox))[-1] == facts.deleted_fact("s1", again.create_time)
