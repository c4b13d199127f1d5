"""Fixtures of the Redis integration tests: real redis-server processes (tests/redis_server.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
import redis.asyncio as aioredis

from sessiond.store.redis import RedisStore
from tests.redis_server import RedisClusterServers, RedisServer, started


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """One node shared by the suite; tests flush it."""
    server = started(RedisServer().start)
    try:
        yield server
    finally:
        server.remove()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """The suite's shared redis-server, emptied."""
    with redis_server.client() as admin:
        admin.flushall()
    return redis_server.url


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[RedisClusterServers]:
    """A 3-master cluster shared by the suite; tests flush it."""
    cluster = started(RedisClusterServers().start)
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def fresh_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A node of the test's own (with an append-only file, so a restart keeps the data)."""
    server = started(RedisServer(appendonly=True, data_dir=tmp_path_factory.mktemp("redis")).start)
    try:
        yield server
    finally:
        server.remove()


@pytest.fixture
async def admin(redis_server: RedisServer) -> AsyncIterator[aioredis.Redis]:
    """A plain client on the shared node, which it flushes first."""
    client = aioredis.Redis.from_url(redis_server.url)
    await client.flushall()
    try:
        yield client
    finally:
        await client.aclose()


@pytest.fixture
async def store(
    request: pytest.FixtureRequest, redis_server: RedisServer, admin: aioredis.Redis
) -> AsyncIterator[RedisStore]:
    """A RedisStore made by the test module's own ``open_store(url)``."""
    made: RedisStore = request.module.open_store(redis_server.url)
    try:
        yield made
    finally:
        await made.close()


@pytest.fixture
async def replicas(
    request: pytest.FixtureRequest, redis_server: RedisServer, admin: aioredis.Redis
) -> AsyncIterator[tuple[RedisStore, RedisStore]]:
    """Two stores on one Redis, as two sessiond replicas would be."""
    a, b = request.module.open_store(redis_server.url), request.module.open_store(redis_server.url)
    try:
        yield a, b
    finally:
        await a.close()
        await b.close()
