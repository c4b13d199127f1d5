"""Fixtures of the Redis integration tests: real redis-server processes (tests/redis_server.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.redis_server import RedisClusterServers, RedisServer, started


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """One node shared by the suite; tests flush it."""
    server = started(RedisServer().start)
    try:
        yield server
    finally:
        server.remove()


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
