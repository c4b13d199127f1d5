"""Watching many sessions on Redis, through a real server: one follower per process, so the
Redis connections stay a small constant whatever the number of watched sessions; every
watcher still gets every event once, in order, on a single node and on a cluster."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
import redis.asyncio as aioredis
from sessiond_client import SessionClient

from sessiond.server import Service
from tests.e2e.conftest import StartServer, start_server  # noqa: F401 (fixture)
from tests.redis_server import RedisClusterServers, RedisServer

pytestmark = pytest.mark.redis

SESSIONS = 300
WATCHERS_PER_SESSION = 2
WRITERS = 8  # writes in flight at once
# The writes' and the follower's reads' connections (at most 16 at once), the one
# subscription, a few to spare; was one per watched session.
CONNECTION_BOUND = 40


async def watch(c: SessionClient, session_id: str, until_turn_state: int) -> list[int]:
    """Event ids seen by one watcher until the state version reaches ``until_turn_state``."""
    seen: list[int] = []
    async for event in c.watch(session_id, after_event_id=0, exclude_ticks=True):
        seen.append(event.event_id)
        if event.HasField("state_changed") and event.state_changed.state_version >= until_turn_state:
            return seen
    raise AssertionError("the watch ended early")


@pytest.fixture
async def redis_service(start_server: StartServer, redis_server: RedisServer, admin: aioredis.Redis) -> Service:  # noqa: F811
    return await start_server(store="redis", redis_url=redis_server.url)


async def test_hundreds_of_watched_sessions_hold_a_bounded_number_of_connections(
    redis_service: Service, admin: aioredis.Redis
) -> None:
    ids = [f"fan-{i:03d}" for i in range(SESSIONS)]
    async with SessionClient(f"127.0.0.1:{redis_service.port}", default_timeout=30) as c:
        for sid in ids:
            await c.create_session(session_id=sid)
        watchers = [
            asyncio.create_task(watch(c, sid, until_turn_state=3)) for sid in ids for _ in range(WATCHERS_PER_SESSION)
        ]
        await _until(lambda: redis_service.manager.hub.watchers == len(watchers))
        for version in (1, 2, 3):
            for i in range(0, SESSIONS, WRITERS):
                await asyncio.gather(*(c.update_session_state(sid, {"v": version}) for sid in ids[i : i + WRITERS]))
        seen = await asyncio.wait_for(asyncio.gather(*watchers), 60)
        connections = len(await admin.client_list()) - 1  # all but admin's own
    print(f"{connections} Redis connections for {SESSIONS} sessions x {WATCHERS_PER_SESSION} watchers")
    assert all(ids_seen == [1, 2, 3] for ids_seen in seen)
    assert connections <= CONNECTION_BOUND, f"{connections} Redis connections for {SESSIONS} watched sessions"


async def test_a_watch_on_a_cluster_sees_every_event_once(
    start_server: StartServer,  # noqa: F811
    redis_cluster: RedisClusterServers,
) -> None:
    service = await start_server(store="redis", redis_url=redis_cluster.url, redis_cluster=True)
    ids = [f"cl-{i:02d}" for i in range(20)]  # spread over the three masters' slots
    async with SessionClient(f"127.0.0.1:{service.port}", default_timeout=30) as c:
        for sid in ids:
            await c.create_session(session_id=sid)
        watchers = [asyncio.create_task(watch(c, sid, until_turn_state=2)) for sid in ids]
        await _until(lambda: service.manager.hub.watchers == len(watchers))
        for version in (1, 2):
            await asyncio.gather(*(c.update_session_state(sid, {"v": version}) for sid in ids))
        seen = await asyncio.wait_for(asyncio.gather(*watchers), 60)
    assert all(ids_seen == [1, 2] for ids_seen in seen)


async def _until(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "never happened"
        await asyncio.sleep(0.05)

