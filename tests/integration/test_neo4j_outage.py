"""A Neo4j outage never stalls the hot path (issue 14), on a real redis-server, a real
Neo4j 5.26 (tests/neo4j_fixtures.py) and the real service in-process, no mocks.

1. The id registry (Redis alone): an id stays taken once its session's hot keys expired or
   were evicted (the graph still holds it), a caller's delete frees it, a restore keeps it;
   an EPHEMERAL session never takes one.
2. Neo4j stopped for 30 s under steady mixed traffic, creates with chosen and generated
   ids among it: no call ends DEADLINE_EXCEEDED, every traffic call succeeds, ids that only
   the graph holds (one registered at its create, one older than the registry and
   backfilled from the graph) are refused ALREADY_EXISTS, what needs the graph fails
   UNAVAILABLE naming Neo4j even under a 1 s deadline, the dashboard names its graph parts
   in incomplete_parts, readiness stays SERVING while the graph's own health name
   goes NOT_SERVING, the stats and the metrics show the pending facts and how long the graph
   has been unreachable; afterwards
   every acknowledged fact is in the graph exactly once. The figures (calls by status per
   phase, drain time) are printed (``pytest -s``).
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
import pytest
import redis.asyncio as aioredis
from grpc_health.v1 import health_pb2
from sessiond_client import AlreadyExists, RetryPolicy, SessionClient, SessiondError, pb

from sessiond.core.errors import SessionExists
from sessiond.core.models import Persistence
from sessiond.server import GRAPH_HEALTH_NAME, SERVICE_NAME
from sessiond.store.neo4j import GraphStore
from sessiond.store.redis import RedisStore
from tests.integration.test_durable import (
    OUTAGE,
    StartService,
    Traffic,
    assert_graph_holds_exactly,
    caught_up,
    clean,  # noqa: F401 (fixture)
    durable,
    health,
    start_service,  # noqa: F401 (fixture)
)
from tests.integration.test_redis_store import created, until_gone
from tests.neo4j.launcher import Neo4jServer
from tests.neo4j_fixtures import graph_fixture, neo4j_server_fixture  # noqa: F401 (fixtures)
from tests.redis_server import RedisServer

pytestmark = [pytest.mark.redis]

CALLER_DEADLINE = 5.0  # seconds: the callers gave up after this
FAST = 1.0  # seconds: the deadline within which what needs the graph must fail UNAVAILABLE
WAIT = 60.0  # seconds a poll waits at most (a bound, not a latency figure)
SERVING, NOT_SERVING = health_pb2.HealthCheckResponse.SERVING, health_pb2.HealthCheckResponse.NOT_SERVING


def open_store(url: str) -> RedisStore:
    return RedisStore.from_url(url, history=5, ttl_margin=60.0, outbox=True, id_registry=True)


# ----- 1. the id registry -------------------------------------------------------------------------


async def test_an_id_stays_taken_after_expiry_or_eviction_and_a_delete_frees_it(
    store: RedisStore, admin: aioredis.Redis
) -> None:
    for sid in ("expired", "evicted", "deleted"):
        await created(store, sid)
    keys = store.keys.session("expired")
    assert await admin.pttl(keys.taken) == -1  # no TTL: it outlives the hot keys
    for key in keys.all:
        await admin.pexpire(key, 1)
    await until_gone(admin, keys.all)
    await store.evict("evicted")
    await store.delete("deleted")
    for sid in ("expired", "evicted"):
        assert await store.get_or_none(sid) is None and await store.registry.taken(sid)
        with pytest.raises(SessionExists):
            await created(store, sid)
    assert not await store.registry.taken("deleted")
    await created(store, "deleted")
    assert await store.registry.taken("deleted")


async def test_an_ephemeral_session_never_takes_its_id_but_finds_it_free_first(store: RedisStore) -> None:
    """The graph never holds an EPHEMERAL session, so its id is free again once Redis lets
    it go; and it cannot take an id a durable session only the graph holds has taken."""
    await created(store, "lobby", persistence=Persistence.EPHEMERAL)
    assert not await store.registry.taken("lobby")
    with pytest.raises(SessionExists):
        await created(store, "lobby", persistence=Persistence.EPHEMERAL)  # while Redis holds it
    await store.evict("lobby")
    await created(store, "lobby", persistence=Persistence.EPHEMERAL)
    await created(store, "kept")  # DURABLE
    await store.evict("kept")
    with pytest.raises(SessionExists):
        await created(store, "kept", persistence=Persistence.EPHEMERAL)


async def test_a_restore_takes_its_own_id_and_the_backfill_skips_an_id_whose_delete_is_on_its_way(
    store: RedisStore, admin: aioredis.Redis
) -> None:
    """A restore puts back a session whose id is taken (its own); the backfill registers ids
    the graph holds, except one Redis holds no record of while its outbox still has facts."""
    session = await created(store, "cold")
    await store.evict("cold")
    await admin.delete(store.keys.session("cold").outbox)  # as if projected
    assert await store.restore(session, [])
    assert (await store.get("cold")).session_id == "cold"
    await created(store, "gone")
    await store.delete("gone")  # its delete waits in the outbox
    assert await store.registry.register(["cold", "gone", "never-hot"]) == 2
    assert [await store.registry.taken(s) for s in ("cold", "gone", "never-hot")] == [True, False, True]
    assert not await store.registry.complete()
    await store.registry.mark_complete()
    assert await store.registry.complete()


# ----- 2. Neo4j stopped under steady traffic --------------------------------------------------------


class Phases:
    """Calls by (phase, method, status)."""

    def __init__(self) -> None:
        self.phase = "before"
        self.calls: Counter[tuple[str, str, str]] = Counter()

    def by_status(self, phase: str) -> dict[str, int]:
        counted: Counter[str] = Counter()
        for (p, _method, status), n in self.calls.items():
            if p == phase:
                counted[status] += n
        return dict(counted)

    def of(self, phase: str, method: str) -> dict[str, int]:
        return {s: n for (p, m, s), n in self.calls.items() if p == phase and m == method}


class CountingClient(SessionClient):
    """A client that never retries, with the issue's 5 s deadline, counting every call's status."""

    def __init__(self, target: str, phases: Phases) -> None:
        super().__init__(target, default_timeout=CALLER_DEADLINE, retry=RetryPolicy(max_attempts=1))
        self._phases = phases

    async def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        try:
            reply = await super()._call(method, *args, **kwargs)
        except SessiondError as exc:
            self._phases.calls[(self._phases.phase, method, exc.status.name)] += 1
            raise
        self._phases.calls[(self._phases.phase, method, "OK")] += 1
        return reply


class ChosenIdTraffic(Traffic):
    """The steady mixed traffic of test_durable, where every other create and swap picks
    its own session id."""

    async def _write(self, step: int) -> None:
        if step % 20 == 0:
            self._record(await self.client.create_session(session_id=f"chosen-{step}", game_name=f"game-{step}"))
        elif step % 20 == 9:
            swapped = await self.client.swap_game(
                f"chan-{step % 3}", pb.Session(game_name=f"swap-{step}"), session_id=f"chosen-{step}"
            )
            self._record(swapped.session, in_channel=True)
            if swapped.HasField("saved"):
                self._record(swapped.saved, in_channel=True)
        else:
            await super()._write(step)


async def until(check: Callable[[], Awaitable[bool]], what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not await check():
        assert time.monotonic() < deadline, f"{what} did not happen in {WAIT}s"
        await asyncio.sleep(0.1)


async def refused_as_taken(client: SessionClient, session_id: str) -> None:
    """CreateSession and SwapGame with the id both get ALREADY_EXISTS."""
    with pytest.raises(AlreadyExists):
        await client.create_session(session_id=session_id, game_name="again")
    with pytest.raises(AlreadyExists):
        await client.swap_game("chan-probe", pb.Session(game_name="again"), session_id=session_id)


async def unavailable_naming_neo4j(call: Awaitable[Any]) -> None:
    with pytest.raises(SessiondError) as caught:
        await call
    assert caught.value.status == grpc.StatusCode.UNAVAILABLE and "Neo4j" in caught.value.message, caught.value


@pytest.mark.neo4j
@pytest.mark.timeout(420)
async def test_a_neo4j_outage_never_stalls_the_hot_path(
    clean: GraphStore,  # noqa: F811
    start_service: StartService,  # noqa: F811
    neo4j_server: Neo4jServer,
    redis_server: RedisServer,
) -> None:
    phases = Phases()
    # Two sessions only the graph holds: "cold-new" registered at its create, "cold-old" as
    # if created before the registry existed (then a replica's start backfills it).
    first = await start_service()
    cold: dict[str, pb.Session] = {}
    async with CountingClient(f"127.0.0.1:{first.port}", phases) as setup:
        for sid in ("cold-new", "cold-old"):
            cold[sid] = await setup.create_session(session_id=sid, game_name=sid, state={"v": sid})
        await caught_up(setup)
    keys = durable(first).hot.keys
    with redis_server.client() as admin:
        for sid in cold:
            admin.delete(*keys.session(sid).all)  # their TTL passed
        admin.delete(keys.session("cold-old").taken, keys.registry_complete())
    await first.stop(0)
    service = await start_service()
    registry = durable(service).hot.registry
    await until(registry.complete, "the registry backfill")
    assert await registry.taken("cold-old") and await registry.taken("cold-new")

    client = CountingClient(f"127.0.0.1:{service.port}", phases)
    traffic = ChosenIdTraffic(client)
    writing = asyncio.create_task(traffic.run())
    try:
        await traffic.until_writes(100)
        phases.phase = "outage"
        await asyncio.to_thread(neo4j_server.stop)
        down_at = time.monotonic()
        try:
            # At once, before any probe noticed: a cold read fails fast (within a caller's 1 s
            # deadline, as UNAVAILABLE, not DEADLINE_EXCEEDED), taken ids are refused.
            await unavailable_naming_neo4j(client.get_session("cold-new", timeout=FAST))
            for sid in cold:
                await refused_as_taken(client, sid)
            await until(lambda: _is(health(service, GRAPH_HEALTH_NAME), NOT_SERVING), "graph health NOT_SERVING")
            assert await health(service, SERVICE_NAME) == SERVING  # readiness follows Redis only
            await unavailable_naming_neo4j(client.get_session("cold-old", timeout=FAST))
            await unavailable_naming_neo4j(client.list_turns("cold-new", timeout=FAST))
            board = await client.get_player_dashboard("dash-player", timeout=FAST)
            assert {"sessions", "companions"} <= set(board.incomplete_parts), board
            writes_at = traffic.writes
            await asyncio.sleep(max(0.0, OUTAGE - (time.monotonic() - down_at)))  # the outage itself
            assert traffic.writes > writes_at + 100
            for sid in cold:
                await refused_as_taken(client, sid)
            stats = await client.get_service_stats()
            assert stats.outbox_pending > 0
            assert stats.graph_unreachable.ToTimedelta().total_seconds() > OUTAGE / 2, stats
            service.metrics.update(await service.manager.stats())  # what the metrics refresher does
            gauge = service.metrics.registry.get_sample_value
            assert (gauge("sessiond_outbox_pending") or 0) > 0
            assert (gauge("sessiond_graph_unreachable_seconds") or 0) > OUTAGE / 2
        finally:
            phases.phase = "after"
            await asyncio.to_thread(neo4j_server.start)
        back_at = time.monotonic()
        await until(lambda: _is(health(service, GRAPH_HEALTH_NAME), SERVING), "graph health SERVING")
        await caught_up(client)
        drained_in = time.monotonic() - back_at
        await traffic.until_writes(traffic.writes + 50)
        traffic.stop()
        await writing
        assert traffic.failures == [], traffic.failures[:5]
        assert (await client.get_service_stats()).graph_unreachable.ToTimedelta().total_seconds() == 0
        await until(lambda: _complete_dashboard(client, "dash-player"), "a complete dashboard once Neo4j is back")
        service.metrics.update(await service.manager.stats())
        assert service.metrics.registry.get_sample_value("sessiond_graph_unreachable_seconds") == 0

        outage = phases.by_status("outage")
        print(f"\ncalls by status: before {phases.by_status('before')}, outage {outage}, after")
        print(f" {phases.by_status('after')}; drained {drained_in:.1f}s after Neo4j was back")
        print(f"outage creates {phases.of('outage', 'CreateSession')}, swaps {phases.of('outage', 'SwapGame')}")
        assert all(status != "DEADLINE_EXCEEDED" for _p, _m, status in phases.calls)
        assert phases.of("outage", "CreateSession")["OK"] > 0 and phases.of("outage", "SwapGame")["OK"] > 0

        # The cold sessions come back (and are projected again), then the whole graph is checked.
        for sid, made in cold.items():
            traffic._record(made)
            await client.get_session(sid)
        await caught_up(client)
        await assert_graph_holds_exactly(clean, client, traffic)
    finally:
        traffic.stop()
        await asyncio.gather(writing, return_exceptions=True)
        await client.close()


async def _complete_dashboard(client: SessionClient, player_id: str) -> bool:
    return not (await client.get_player_dashboard(player_id)).incomplete_parts


async def _is(status: Awaitable[int], expected: int) -> bool:
    return await status == expected

