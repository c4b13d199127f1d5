"""GraphStore: the durable graph behind one neo4j.AsyncDriver (reads, projection, schema)."""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping, Sequence
from typing import Any

import neo4j
from neo4j.exceptions import DriverError, Neo4jError

from sessiond.store.neo4j import _batch, _migrations, _projection
from sessiond.store.neo4j._failures import unavailable
from sessiond.store.neo4j._reads import GraphReads

SCHEMES = ("bolt", "bolt+s", "bolt+ssc", "neo4j", "neo4j+s", "neo4j+ssc")
DEFAULT_DATABASE = "neo4j"
DEFAULT_POOL_SIZE = 50
# Fail fast when Neo4j is down: a request should not hang on the durable layer.
CONNECTION_TIMEOUT = 2.0
ACQUISITION_TIMEOUT = 5.0
# How long a managed transaction keeps retrying transient errors before giving up.
RETRY_TIME = 5.0


class GraphStore(GraphReads):
    """Sessions, turns and profiles in Neo4j: projected from facts, read for cold restore.

    Build with ``connect`` (no I/O happens until the first call), check with ``ping``,
    create the schema with ``migrate``, feed it with ``apply_batch``, ``close`` at exit.
    The read methods are those of GraphReads.
    """

    def __init__(self, driver: neo4j.AsyncDriver, database: str = DEFAULT_DATABASE, *, uri: str = "") -> None:
        super().__init__(driver, database)
        self.uri = uri

    @classmethod
    def connect(
        cls,
        uri: str,
        user: str,
        password: str,
        database: str = DEFAULT_DATABASE,
        *,
        pool_size: int = DEFAULT_POOL_SIZE,
        connection_timeout: float = CONNECTION_TIMEOUT,
        acquisition_timeout: float = ACQUISITION_TIMEOUT,
        retry_time: float = RETRY_TIME,
    ) -> GraphStore:
        """A store for ``uri`` (bolt://, neo4j://, and their +s/+ssc TLS forms: the driver
        handles the scheme, routing included). Raises ValueError for a malformed URI."""
        parts = urllib.parse.urlsplit(uri)
        if parts.scheme not in SCHEMES or not parts.hostname:
            raise ValueError(f"bad Neo4j URI {uri!r}: expected <scheme>://host[:port] with a scheme of {SCHEMES}")
        try:
            driver = neo4j.AsyncGraphDatabase.driver(
                uri,
                auth=(user, password),
                max_connection_pool_size=pool_size,
                connection_timeout=connection_timeout,
                connection_acquisition_timeout=acquisition_timeout,
                max_transaction_retry_time=retry_time,
                # "label/property does not exist" warnings are normal on a young graph.
                notifications_disabled_classifications=[neo4j.NotificationDisabledClassification.UNRECOGNIZED],
            )
        except neo4j.exceptions.ConfigurationError as exc:
            raise ValueError(f"bad Neo4j URI {uri!r}: {exc}") from exc
        return cls(driver, database, uri=uri)

    async def close(self) -> None:
        """Close every pooled connection."""
        await self.driver.close()

    async def ping(self) -> None:
        """One trivial query on the database, without retries. Raises GraphUnavailable (a
        core Unavailable) when Neo4j cannot serve, GraphAuthFailed for bad credentials."""
        try:
            async with self.driver.session(database=self.database, default_access_mode=neo4j.READ_ACCESS) as session:
                result = await session.run("RETURN 1")
                await result.consume()
        except (Neo4jError, DriverError) as exc:
            raise unavailable(exc, f"connecting to {self.uri or 'the graph'}") from exc

    async def migrate(self) -> list[str]:
        """Create constraints and indexes (idempotent), then have the projection's statement
        planned; returns the versions applied."""
        try:
            applied = await _migrations.migrate(self.driver, self.database)
            async with self.driver.session(database=self.database) as session:
                await session.execute_write(_projection.prepare)
            return applied
        except (Neo4jError, DriverError) as exc:
            raise unavailable(exc, f"migrating {self.uri or 'the graph'}") from exc

    async def apply_batch(self, facts: Sequence[Mapping[str, Any]]) -> None:
        """Project facts in one transaction; see ``_batch.apply_batch`` for the errors."""
        await _batch.apply_batch(self.driver, self.database, facts)
