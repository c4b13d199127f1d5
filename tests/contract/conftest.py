"""The store contract runs against every backend: each factory here builds a fresh,
empty store of one kind, configured with small retention so trimming is testable.

The Redis backends run against real servers started by the tests (tests/redis_server.py):
one node ("redis") and a 3-master Redis Cluster ("redis-cluster"), each started once per
test session, and only when a test of that backend is selected (``-m "not redis"`` runs
without them). "redis+neo4j" is the durable store on that Redis node and the real Neo4j of
tests/neo4j_fixtures.py, started like the service starts it (schema, then the projector in
the background; ``-m "not neo4j"`` runs without it). Every test gets empty databases.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import pytest

from sessiond.store.durable import DurableStore
from sessiond.store.durable_gate import GraphGate
from sessiond.store.memory import MemoryStore
from sessiond.store.protocols import SessionStore
from sessiond.store.redis import RedisStore
from tests.neo4j.launcher import Neo4jServer
from tests.neo4j_fixtures import connect, neo4j_server_fixture, wipe  # noqa: F401 (a fixture)
from tests.redis_server import RedisClusterServers, RedisServer, started

HISTORY = 5
EVENT_RETENTION = 20

WHOLE_HISTORY = {"redis+neo4j"}  # stores whose turns() goes past the hot history (to the durable graph)
PROJECTOR = {"poll_interval": 0.01, "backoff_min": 0.05, "backoff_max": 0.5}

StoreFactory = Callable[[pytest.FixtureRequest], Awaitable[SessionStore]]


async def memory_store(_request: pytest.FixtureRequest) -> SessionStore:
    return MemoryStore(history=HISTORY, event_retention=EVENT_RETENTION)


async def redis_store(request: pytest.FixtureRequest) -> SessionStore:
    server: RedisServer = request.getfixturevalue("redis_server")
    with server.client() as admin:
        admin.flushdb()
    return RedisStore.from_url(server.url, history=HISTORY, event_retention=EVENT_RETENTION)


async def redis_cluster_store(request: pytest.FixtureRequest) -> SessionStore:
    cluster: RedisClusterServers = request.getfixturevalue("redis_cluster")
    cluster.flush()
    return RedisStore.from_url(cluster.url, cluster=True, history=HISTORY, event_retention=EVENT_RETENTION)


PATIENT_GRAPH_CALL = 10.0  # seconds


async def durable_store(request: pytest.FixtureRequest) -> SessionStore:
    server: RedisServer = request.getfixturevalue("redis_server")
    neo4j: Neo4jServer = request.getfixturevalue("neo4j_server")
    with server.client() as admin:
        admin.flushdb()
    graph = connect(neo4j)
    await wipe(graph)
    hot = RedisStore.from_url(server.url, history=HISTORY, event_retention=EVENT_RETENTION, outbox=True)
    # A projector that polls often, so the graph catches up within the tests' calls; a
    # patient gate, since the contract is what the store answers, not how fast Neo4j does
    # on a loaded machine (the fail-fast bound is tests/integration/test_neo4j_outage.py's).
    gate = GraphGate(graph.ping, call_timeout=PATIENT_GRAPH_CALL)
    store = DurableStore(hot, graph, history=HISTORY, projector_options=PROJECTOR, gate=gate)
    await store.start()
    return store


BACKENDS: dict[str, StoreFactory] = {
    "memory": memory_store,
    "redis": redis_store,
    "redis-cluster": redis_cluster_store,
    "redis+neo4j": durable_store,
}
MARKS = {
    "redis": [pytest.mark.redis],
    "redis-cluster": [pytest.mark.redis],
    "redis+neo4j": [pytest.mark.redis, pytest.mark.neo4j],
}


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    server = started(RedisServer().start)
    try:
        yield server
    finally:
        server.remove()


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[RedisClusterServers]:
    cluster = started(RedisClusterServers().start)
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(params=[pytest.param(name, marks=MARKS.get(name, [])) for name in sorted(BACKENDS)])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[SessionStore]:
    made = await BACKENDS[request.param](request)
    try:
        yield made
    finally:
        await made.close()
