"""A real Neo4j for the graph tests: one server per pytest process, a clean graph per test.

The server is the embedded Neo4j 5.26 Community of tests/neo4j/launcher.py (built with
Maven on first use), on a free loopback port, with authentication on and a random
password, in a temporary data directory removed at the end. It is started once however
many modules import these fixtures, and only when a test asks for it.

Use from a test module or a conftest::

    from tests.neo4j_fixtures import graph_fixture, neo4j_server_fixture  # noqa: F401

    async def test_x(graph: GraphStore, neo4j_server: Neo4jServer) -> None: ...

If Neo4j cannot be built or started the tests FAIL with the reason, never skip: a
skipped suite would report a backend green that was never run.
"""

from __future__ import annotations

import secrets
import shutil
import socket
import subprocess
import tempfile
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from sessiond.store.neo4j import GraphStore
from tests.neo4j.launcher import Neo4jServer

_lock = threading.Lock()
_server: Neo4jServer | None = None

WIPE = "MATCH (n) DETACH DELETE n"  # constraints and indexes stay


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def shared_server() -> Neo4jServer:
    """The process's Neo4j, built and started on first call; fails the test if it cannot."""
    global _server
    with _lock:
        if _server is None:
            _server = _start_new_server()
        return _server


def _start_new_server() -> Neo4jServer:
    server = Neo4jServer(
        data_dir=Path(tempfile.mkdtemp(prefix="sessiond-neo4j-")),
        port=free_port(),
        password=f"pw-{secrets.token_hex(12)}",
    )
    try:
        return server.start()
    except (OSError, RuntimeError, TimeoutError, subprocess.CalledProcessError) as exc:
        server.stop()
        problem = f"{type(exc).__name__}: {exc}"
    log = server.log_path if server.log_path.exists() else "none written"
    pytest.fail(
        f"Neo4j could not be built/started ({problem}); it needs java 17 and mvn "
        f"(python tests/neo4j/launcher.py build); launcher log: {log}",
        pytrace=False,
    )


def stop_shared_server() -> None:
    """Stop the process's Neo4j and delete its data directory."""
    global _server
    with _lock:
        server, _server = _server, None
    if server is not None:
        server.stop()
        shutil.rmtree(server.data_dir, ignore_errors=True)


def connect(server: Neo4jServer, *, password: str | None = None, uri: str | None = None) -> GraphStore:
    """A GraphStore on ``server`` (its own password unless told otherwise)."""
    return GraphStore.connect(uri or server.uri, server.user, server.password if password is None else password)


async def wipe(graph: GraphStore) -> None:
    """Delete every node and relationship; constraints and indexes stay."""
    await graph.driver.execute_query(WIPE, database_=graph.database)


@pytest.fixture(scope="session", name="neo4j_server")
def neo4j_server_fixture() -> Iterator[Neo4jServer]:
    """The one Neo4j of this pytest process (running; a test that stops it starts it again)."""
    yield shared_server()
    stop_shared_server()


@pytest.fixture(name="graph")
async def graph_fixture(neo4j_server: Neo4jServer) -> AsyncIterator[GraphStore]:
    """A GraphStore on an empty, migrated graph."""
    graph = connect(neo4j_server)
    try:
        await wipe(graph)
        await graph.migrate()
        yield graph
    finally:
        await graph.close()
