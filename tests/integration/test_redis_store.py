"""What the Redis backend does beyond the store contract, against real redis-server processes:
hash slots, sliding TTLs, indexes kept consistent with expiry, races between replicas
(mutations, closes, creates, profiles, locks), outages, stored formats and connection URLs."""

from __future__ import annotations

import asyncio
import json
import math
import shutil
import subprocess
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
from redis.crc import key_slot

from sessiond.core import codec, events
from sessiond.core.errors import SessionNotFound, Unavailable
from sessiond.core.lifecycle import join, patch_session_state
from sessiond.core.limits import Limits
from sessiond.core.models import CloseReason, Mutation, PlayerProfile, Session, SessionState, Turn, Window
from sessiond.core.tiers import TierRules
from sessiond.core.window import close_if_due, close_window, submit_choice
from sessiond.store.protocols import SessionQuery
from sessiond.store.redis import RedisStore
from sessiond.store.redis import _store as store_module
from tests.redis_server import RedisClusterServers, RedisServer, free_port
from tests.support import make_session

pytestmark = pytest.mark.redis

HISTORY = 5
RETENTION = 100
MARGIN = 60.0
LIMITS = Limits()


def bump(key: str = "n") -> Callable[[Session, Turn | None, float], tuple[Mutation, int]]:
    def change(s: Session, _t: Turn | None, _now: float) -> tuple[Mutation, int]:
        value = int(s.session_state.get(key, 0)) + 1
        return patch_session_state({key: value}, None, LIMITS)(s, None, 0.0)[0], value

    return change


def joins(player_id: str) -> Callable[[Session, Turn | None, float], tuple[Mutation, None]]:
    def change(s: Session, _t: Turn | None, now: float) -> tuple[Mutation, None]:
        mutation, _ = join(player_id, player_id.title())(s, None, now)
        return mutation, None

    return change


def resolve_a_turn(s: Session, _t: Turn | None, now: float) -> tuple[Mutation, None]:
    s.window = Window(s.turn_number, now - 1, now - 0.5, "p1")
    _, turn = close_window(s, now, CloseReason.DEADLINE)
    return Mutation(events=(events.TurnResolved(turn),), new_turn=turn), None


def open_store(url: str, **options: Any) -> RedisStore:
    settings: dict[str, Any] = {
        "history": HISTORY,
        "event_retention": RETENTION,
        "ttl_margin": MARGIN,
        "prune_grace": 0.0,
    }
    return RedisStore.from_url(url, **(settings | options))


async def created(store: RedisStore, session_id: str, **spec: object) -> Session:
    session, was_created = await store.create(make_session(session_id, await store.now(), **spec), "", 100)
    assert was_created
    return session


async def stored(admin: aioredis.Redis, key: str) -> bytes:
    value = await admin.get(key)
    assert isinstance(value, bytes)
    return value


async def until_gone(admin: aioredis.Redis, keys: list[str]) -> None:
    """Poll (bounded) until Redis has expired every key."""
    for _ in range(500):
        if not await admin.exists(*keys):
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"keys {keys} did not expire")


# Keys and hash slots


async def test_every_key_of_a_session_shares_one_hash_slot(store: RedisStore, admin: aioredis.Redis) -> None:
    for session_id in ("s1", "a.b:c-9", "x" * 128):
        await created(store, session_id)
        await store.mutate(session_id, bump())
        await store.mutate(session_id, resolve_a_turn)
        found = {k.decode() async for k in admin.scan_iter(match=store.keys.session_pattern(session_id))}
        assert found == set(store.keys.session(session_id).all)
        assert len({key_slot(k.encode()) for k in found}) == 1
    assert len({key_slot(k.encode()) for k in store.keys.index.all}) == 1


async def test_on_a_cluster_each_session_lives_on_one_slot(redis_cluster: RedisClusterServers) -> None:
    redis_cluster.flush()
    store = open_store(redis_cluster.url, cluster=True)
    client = aioredis.RedisCluster.from_url(redis_cluster.url)
    try:
        slots = set()
        for i in range(20):  # ids spread over the three masters
            session_id = f"s{i}"
            await created(store, session_id)
            await store.mutate(session_id, bump())
            await store.mutate(session_id, resolve_a_turn)
            keys = store.keys.session(session_id).all
            session_slots = {await client.cluster_keyslot(k) for k in keys}
            assert len(session_slots) == 1
            slots |= session_slots
            assert await client.exists(*keys) == 3  # one multi-key command: one slot
        nodes = {str(client.get_node_from_key(store.keys.session(f"s{i}").session)) for i in range(20)}
        assert len(nodes) > 1 and len(slots) == 20
        page, total = await store.find(SessionQuery(), None, 100)
        assert total == 20 and len(page) == 20
    finally:
        await client.aclose()
        await store.close()


# Sliding TTL


async def test_every_session_key_gets_the_ttl_and_a_change_refreshes_it(
    store: RedisStore, admin: aioredis.Redis
) -> None:
    await created(store, "s1", idle_ttl_seconds=3600.0)
    await store.mutate("s1", bump())
    await store.mutate("s1", resolve_a_turn)
    keys = store.keys.session("s1").all
    full_ms = (3600.0 + MARGIN) * 1000

    async def ttls() -> list[int]:
        return [await admin.pttl(k) for k in keys]

    assert all(full_ms - 30_000 < ttl <= full_ms for ttl in await ttls())
    for key in keys:
        await admin.pexpire(key, 5_000)

    def quiet(s: Session, _t: Turn | None, _now: float) -> tuple[Mutation, None]:
        s.title = "renamed"  # no activity: the idle clock stays, the keys' TTL still slides
        return Mutation(activity=False), None

    await store.mutate("s1", quiet)
    assert all(full_ms - 30_000 < ttl <= full_ms for ttl in await ttls())
    # The indexes are shared by all sessions and never expire.
    assert [await admin.pttl(k) for k in store.keys.index.all if await admin.exists(k)] == [-1, -1]


async def test_a_session_redis_expired_leaves_listing_sweeps_and_counts(
    store: RedisStore, admin: aioredis.Redis
) -> None:
    now = await store.now()
    for session_id in ("gone", "kept"):
        session = make_session(session_id, now - 7200, idle_ttl_seconds=3600.0)
        session.window = Window(1, now - 5, now - 1, "p1")
        await store.create(session, "", 100)
    assert {d.session_id for d in await store.windows_due(now)} == {"gone", "kept"}
    assert set(await store.sessions_idle(now, 10)) == {"gone", "kept"}

    keys = store.keys.session("gone").all
    for key in keys:
        await admin.pexpire(key, 1)
    await until_gone(admin, keys)

    # The limit counts live sessions: "gone" no longer takes a place.
    await store.create(make_session("new", now), "", 2)
    assert [d.session_id for d in await store.windows_due(math.inf)] == ["kept"]
    assert await store.sessions_idle(now, 10) == ["kept"]
    page, total = await store.find(SessionQuery(), None, 10)
    assert [s.session_id for s in page] == ["new", "kept"] and total == 2
    assert sum((await store.stats()).sessions_by_state.values()) == 2
    for index in store.keys.index.all:
        assert await admin.zscore(index, "gone") is None
    with pytest.raises(SessionNotFound):
        await store.wait_events("gone", 0, 0.05)


# Indexes repair themselves


async def test_stale_index_entries_are_harmless_and_repaired(store: RedisStore, admin: aioredis.Redis) -> None:
    now = await store.now()
    await created(store, "s1")
    deadlines, expiry = store.keys.index.deadlines, store.keys.index.expiry
    # A deadline entry left by a crash after the commit that closed the window:
    await admin.zadd(deadlines, {"s1": now - 10})
    assert await store.windows_due(now) == []
    assert await admin.zscore(deadlines, "s1") is None
    # A deadline entry with the wrong score for a window that is open:
    session = make_session("s2", now)
    session.window = Window(1, now, now + 600, "p1")
    await store.create(session, "", 100)
    await admin.zadd(deadlines, {"s2": now - 10})
    assert await store.windows_due(now) == []
    assert await admin.zscore(deadlines, "s2") == now + 600
    # An expiry score below the real expire_time (activity since) is raised, not reported:
    await admin.zadd(expiry, {"s1": now - 10})
    assert await store.sessions_idle(now, 10) == []
    assert await admin.zscore(expiry, "s1") == (await store.get("s1")).expire_time


# Replicas racing


async def test_two_replicas_racing_on_one_session_lose_no_mutation(replicas: tuple[RedisStore, RedisStore]) -> None:
    a, b = replicas
    await created(a, "s1")
    results = await asyncio.gather(*(store.mutate("s1", bump()) for store in (a, b) * 25))
    assert sorted(r for _, r in results) == list(range(1, 51))
    final = await b.get("s1")
    assert final.session_state == {"n": 50} and final.last_event_id == 50 and final.revision == 51
    assert [e.event_id for e in await a.events_after("s1", 0, 100)] == list(range(1, 51))


async def test_in_process_contention_never_burns_a_retry(store: RedisStore, monkeypatch: pytest.MonkeyPatch) -> None:
    retries = 0
    real_backoff = store_module._backoff

    async def counting_backoff(attempt: int) -> None:
        nonlocal retries
        retries += 1
        await real_backoff(attempt)

    monkeypatch.setattr(store_module, "_backoff", counting_backoff)
    await created(store, "s1")
    await asyncio.gather(*(store.mutate("s1", bump()) for _ in range(50)))
    assert retries == 0
    assert (await store.get("s1")).session_state == {"n": 50}


async def test_racing_closes_of_one_window_resolve_exactly_one_turn(
    replicas: tuple[RedisStore, RedisStore],
) -> None:
    a, b = replicas
    now = await a.now()
    session = make_session("s1", now)
    session.window = Window(1, now - 5, now - 1, "p1")
    await a.create(session, "", 100)
    results = await asyncio.gather(
        *(store.mutate("s1", lambda s, _t, t: close_if_due(1)(s, None, t)) for store in (a, b) * 5)
    )
    resolved = [turn for _, turn in results if turn is not None]
    assert len(resolved) == 1 and resolved[0].turn_number == 1
    assert [t.turn_number for t in await a.turns("s1", None, 10)] == [1]
    final = await b.get("s1")
    assert final.window is None and final.turn_number == 2
    kinds = [e.kind for e in await a.events_after("s1", 0, 100)]
    assert kinds.count(events.TurnResolved.kind) == 1
    assert await a.windows_due(math.inf) == []


async def test_open_windows_keep_their_deadline_entries_while_sweeps_run(
    replicas: tuple[RedisStore, RedisStore], admin: aioredis.Redis
) -> None:
    a, b = replicas
    for i in range(20):
        await created(a, f"s{i}", early_close=False)
    sweeping = True

    async def sweep() -> None:
        while sweeping:
            await b.windows_due(math.inf)
            await b.windows_due(await b.now())

    def choose(player_id: str) -> Callable[[Session, Turn | None, float], tuple[Mutation, object]]:
        return lambda s, _t, now: submit_choice(player_id, "x", LIMITS, TierRules())(s, None, now)

    sweeper = asyncio.create_task(sweep())
    try:
        await asyncio.gather(
            *(store.mutate(f"s{i}", choose(f"p{j}")) for i in range(20) for j, store in enumerate((a, b) * 2))
        )
    finally:
        sweeping = False
        await sweeper
    for i in range(20):
        window = (await a.get(f"s{i}")).window
        assert window is not None and len(window.choices) == 4
        assert await admin.zscore(a.keys.index.deadlines, f"s{i}") == window.deadline


async def test_one_request_id_on_two_replicas_creates_one_session(replicas: tuple[RedisStore, RedisStore]) -> None:
    a, b = replicas
    now = await a.now()
    (first, made_a), (second, made_b) = await asyncio.gather(
        a.create(make_session("from-a", now), "req-1", 100), b.create(make_session("from-b", now), "req-1", 100)
    )
    assert sorted([made_a, made_b]) == [False, True]
    assert first.session_id == second.session_id
    assert (await a.find(SessionQuery(), None, 10))[1] == 1


async def test_a_deleted_session_wakes_its_waiters_on_every_replica(replicas: tuple[RedisStore, RedisStore]) -> None:
    a, b = replicas
    await created(a, "s1")
    waiters = [asyncio.create_task(store.wait_events("s1", 0, 10.0)) for store in (a, b)]
    await asyncio.sleep(0.05)
    await a.delete("s1")
    for waiter in waiters:
        with pytest.raises(SessionNotFound):
            await asyncio.wait_for(waiter, 5.0)


async def test_profile_changes_racing_on_two_replicas_lose_none(replicas: tuple[RedisStore, RedisStore]) -> None:
    a, b = replicas
    await a.mutate_profile("ann", lambda _old: PlayerProfile("ann"))

    def add(key: str) -> Callable[[PlayerProfile | None], PlayerProfile]:
        def change(old: PlayerProfile | None) -> PlayerProfile:
            assert old is not None
            old.preferences[key] = "1"
            return old

        return change

    await asyncio.gather(*(store.mutate_profile("ann", add(f"k{i}")) for i, store in enumerate((a, b) * 15)))
    final = await b.get_profile("ann")
    assert len(final.preferences) == 30 and final.revision == 31


# Locks across replicas


async def test_a_lock_excludes_holders_on_other_replicas(replicas: tuple[RedisStore, RedisStore]) -> None:
    inside: list[str] = []
    overlaps: list[str] = []

    async def hold(store: RedisStore, tag: str) -> None:
        async with store.lock("channel:lobby"):
            if inside:
                overlaps.append(tag)
            inside.append(tag)
            await asyncio.sleep(0.005)
            inside.remove(tag)

    await asyncio.gather(*(hold(store, f"{i}") for i, store in enumerate(replicas * 10)))
    assert overlaps == []


async def test_a_lease_outlives_a_long_hold_but_not_a_dead_holder(
    redis_server: RedisServer, admin: aioredis.Redis
) -> None:
    a = open_store(redis_server.url, lock_lease=0.3)
    b = open_store(redis_server.url, lock_lease=0.3)
    try:
        # Renewed while held: b waits for a's release although a holds it longer than the lease.
        order: list[str] = []

        async def long_hold() -> None:
            async with a.lock("owner:ann"):
                order.append("a in")
                await asyncio.sleep(1.0)
                order.append("a out")

        holder = asyncio.create_task(long_hold())
        await asyncio.sleep(0.05)
        async with b.lock("owner:ann"):
            order.append("b in")
        await holder
        assert order == ["a in", "a out", "b in"]
        # A holder that died (its lease key stays, nobody renews it) blocks others only until it runs out.
        await admin.set(a.keys.lock("owner:bob"), "token-of-a-dead-process", px=300)
        async with asyncio.timeout(5.0):
            async with b.lock("owner:bob"):
                pass
    finally:
        await a.close()
        await b.close()


# Channel and owner indexes


async def test_a_channel_or_owner_query_reads_only_their_sessions(
    store: RedisStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    for i in range(30):
        await created(store, f"other{i}", channel_id=f"c{i}")
    await created(store, "lobby-1", channel_id="lobby")
    await created(store, "lobby-2", channel_id="lobby", owner_player_id="ann")
    await created(store, "lobby.x", channel_id="lobby.x")  # a channel whose id extends "lobby"
    read: list[str] = []
    real_get_many = store._listing.get_many

    async def counting(ids: Sequence[str]) -> list[bytes | None]:
        read.extend(ids)
        return await real_get_many(ids)

    monkeypatch.setattr(store._listing, "get_many", counting)
    page, total = await store.find(SessionQuery(channel_id="lobby"), None, 10)
    assert [s.session_id for s in page] == ["lobby-2", "lobby-1"] and total == 2
    assert sorted(read) == ["lobby-1", "lobby-2"]
    read.clear()
    page, total = await store.find(SessionQuery(owner_player_id="ann", state=SessionState.ACTIVE), None, 10)
    assert [s.session_id for s in page] == ["lobby-2"] and read == ["lobby-2"]


async def test_channel_and_owner_entries_go_with_their_session(store: RedisStore, admin: aioredis.Redis) -> None:
    await created(store, "deleted", channel_id="lobby", owner_player_id="ann")
    await created(store, "expired", channel_id="lobby", owner_player_id="ann")
    await store.delete("deleted")
    keys = store.keys.session("expired").all
    for key in keys:
        await admin.pexpire(key, 1)
    await until_gone(admin, keys)
    assert await store.find(SessionQuery(channel_id="lobby"), None, 10) == ([], 0)
    for index in store.keys.index.all:
        assert await admin.zcard(index) == 0


# Outages


async def test_calls_fail_fast_with_unavailable_while_redis_is_down_and_recover(fresh_server: RedisServer) -> None:
    store = open_store(fresh_server.url)
    try:
        made = await created(store, "s1")
        await asyncio.to_thread(fresh_server.stop)

        async def take_a_lock() -> None:
            async with store.lock("channel:lobby"):
                pass

        calls: list[Callable[[], Coroutine[Any, Any, object]]] = [
            store.ping,
            store.now,
            lambda: store.get("s1"),
            lambda: store.mutate("s1", bump()),
            lambda: store.create(make_session("s2", made.create_time), "req", 100),
            lambda: store.find(SessionQuery(game_id="g"), None, 10),
            lambda: store.events_after("s1", 0, 10),
            lambda: store.wait_events("s1", 0, 1.0),
            lambda: store.windows_due(math.inf),
            lambda: store.sessions_idle(made.create_time, 10),
            store.stats,
            lambda: store.get_profile("ann"),
            lambda: store.mutate_profile("ann", lambda _old: PlayerProfile("ann")),
            take_a_lock,
            lambda: store.delete("s1"),
        ]
        for call in calls:
            with pytest.raises(Unavailable, match="redis unreachable"):
                await asyncio.wait_for(call(), 10.0)  # only "did not hang": no latency figure asserted

        await asyncio.to_thread(fresh_server.start)  # same port; the append-only file keeps the data
        for _ in range(100):
            try:
                await asyncio.wait_for(store.ping(), 10.0)
                break
            except Unavailable:
                await asyncio.sleep(0.05)
        else:
            pytest.fail("ping() did not recover after redis-server came back")
        assert await store.get("s1") == made
    finally:
        await store.close()


async def test_a_cluster_master_down_fails_its_sessions_and_ping_fast() -> None:
    cluster = await asyncio.to_thread(RedisClusterServers().start)
    store = open_store(cluster.url, cluster=True)
    probe = aioredis.RedisCluster.from_url(cluster.url)
    try:
        for i in range(12):
            await created(store, f"s{i}")
        await probe.initialize()
        down = cluster.nodes[1]
        on_down = {f"s{i}" for i in range(12) if _port_of(probe, store.keys.session(f"s{i}").session) == down.port}
        assert on_down and len(on_down) < 12
        await asyncio.to_thread(down.stop)
        with pytest.raises(Unavailable):
            await asyncio.wait_for(store.ping(), 10.0)
        for i in range(12):
            if f"s{i}" in on_down:
                with pytest.raises(Unavailable):
                    await asyncio.wait_for(store.get(f"s{i}"), 10.0)
            else:
                assert (await asyncio.wait_for(store.get(f"s{i}"), 10.0)).session_id == f"s{i}"
        await asyncio.to_thread(down.start)  # empty: this test cluster keeps no data on disk
        for _ in range(200):
            try:
                await asyncio.wait_for(store.ping(), 10.0)
                await asyncio.wait_for(store.get(sorted(on_down)[0]), 10.0)
            except SessionNotFound:
                break  # served again
            except Unavailable:
                await asyncio.sleep(0.05)
        else:
            pytest.fail("the cluster store did not recover after the master came back")
    finally:
        await probe.aclose()
        await store.close()
        await asyncio.to_thread(cluster.stop)


def _port_of(client: aioredis.RedisCluster, key: str) -> int:
    node = client.get_node_from_key(key)
    assert node is not None
    return int(node.port)


# Stored values


async def test_values_are_deflated_and_readable_whichever_way_they_were_written(
    redis_server: RedisServer, admin: aioredis.Redis
) -> None:
    packed, plain = open_store(redis_server.url), open_store(redis_server.url, compress=False)
    try:
        state: dict[str, Any] = {"party": {f"p{i}": {"hp": 30, "inventory": ["rope", "potion"]} for i in range(4)}}
        state["log"] = ["The party entered the library.", "A ghost demanded silence."] * 8
        await created(packed, "s1", session_state=state)
        for i in range(4):
            await packed.mutate("s1", joins(f"player-{i}"))
        record_key = packed.keys.session("s1").session
        as_json = json.dumps(codec.session_to_dict(await packed.get("s1")), separators=(",", ":")).encode()
        assert len(await stored(admin, record_key)) < len(as_json) / 2
        # A store writing plain JSON reads and changes deflated values, and the other way round.
        await plain.mutate("s1", bump())
        assert (await stored(admin, record_key)).startswith(b"{")
        await packed.mutate("s1", bump())
        assert (await plain.get("s1")).session_state["n"] == 2 and (await packed.get("s1")).session_state["n"] == 2
        assert [e.kind for e in await plain.events_after("s1", 0, 10)] == ["player_joined"] * 4 + ["state_changed"] * 2
        assert await packed.events_after("s1", 0, 10) == await plain.events_after("s1", 0, 10)
    finally:
        await packed.close()
        await plain.close()


# Connection URLs


async def test_url_with_user_password_and_database(tmp_path: Path) -> None:
    acl = ("--user", "alice", "on", ">s3cret", "~*", "&*", "+@all")
    with RedisServer(data_dir=tmp_path, extra_args=acl) as server:
        store = open_store(f"redis://alice:s3cret@127.0.0.1:{server.port}/3")
        db3 = aioredis.Redis.from_url(f"redis://127.0.0.1:{server.port}/3")
        db0 = aioredis.Redis.from_url(f"redis://127.0.0.1:{server.port}/0")
        try:
            await created(store, "s1")
            assert await db3.exists(store.keys.session("s1").session) == 1
            assert await db0.dbsize() == 0
            denied = open_store(f"redis://alice:wrong@127.0.0.1:{server.port}/3")
            with pytest.raises(Unavailable):
                await denied.ping()
            await denied.close()
        finally:
            await db3.aclose()
            await db0.aclose()
            await store.close()


async def test_rediss_url_speaks_tls(tmp_path: Path) -> None:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is not on PATH: cannot make a certificate for the TLS test")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    await asyncio.to_thread(
        subprocess.run,
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    tls_port = free_port()
    tls = ("--tls-port", str(tls_port), "--tls-cert-file", str(cert), "--tls-key-file", str(key),
           "--tls-ca-cert-file", str(cert), "--tls-auth-clients", "no")  # fmt: skip
    with RedisServer(data_dir=tmp_path, extra_args=tls):
        store = open_store(f"rediss://127.0.0.1:{tls_port}/0?ssl_ca_certs={cert}")
        try:
            await created(store, "s1")
            assert (await store.get("s1")).session_id == "s1"
        finally:
            await store.close()
