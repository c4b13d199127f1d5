"""Versioned, idempotent schema migrations of the graph.

Each migration is a list of schema statements that are themselves idempotent
(``IF NOT EXISTS``), so a run interrupted between a statement and the record of its
migration, or two replicas migrating at once, is safe. A ``(:Migration {version})``
node records each migration once it has fully run; ``migrate`` skips recorded ones.
Schema statements run one per transaction: Neo4j does not mix schema and data writes.

Community edition has no node keys (composite uniqueness), so a turn is keyed by the
single property ``turn_key = session_id + "#" + turn_number``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from neo4j import AsyncDriver, RoutingControl


@dataclass(frozen=True, slots=True)
class Migration:
    """One schema step: recorded as `(:Migration {version})` once all its statements ran."""

    version: str
    description: str
    statements: tuple[str, ...]


MIGRATIONS: Final = (
    Migration(
        "0001",
        "unique ids of every node kind",
        (
            "CREATE CONSTRAINT migration_version IF NOT EXISTS FOR (m:Migration) REQUIRE m.version IS UNIQUE",
            "CREATE CONSTRAINT player_id IF NOT EXISTS FOR (p:Player) REQUIRE p.player_id IS UNIQUE",
            "CREATE CONSTRAINT session_id IF NOT EXISTS FOR (s:Session) REQUIRE s.session_id IS UNIQUE",
            "CREATE CONSTRAINT character_id IF NOT EXISTS FOR (c:Character) REQUIRE c.character_id IS UNIQUE",
            "CREATE CONSTRAINT world_id IF NOT EXISTS FOR (w:World) REQUIRE w.world_id IS UNIQUE",
            "CREATE CONSTRAINT game_id IF NOT EXISTS FOR (g:Game) REQUIRE g.game_id IS UNIQUE",
            "CREATE CONSTRAINT channel_id IF NOT EXISTS FOR (c:Channel) REQUIRE c.channel_id IS UNIQUE",
            "CREATE CONSTRAINT turn_key IF NOT EXISTS FOR (t:Turn) REQUIRE t.turn_key IS UNIQUE",
            "CREATE CONSTRAINT session_tombstone_id IF NOT EXISTS "
            "FOR (t:SessionTombstone) REQUIRE t.session_id IS UNIQUE",
        ),
    ),
    Migration(
        "0002",
        "indexes of the reads: recent sessions, owner lookups, turn paging",
        (
            "CREATE INDEX session_update_time IF NOT EXISTS FOR (s:Session) ON (s.update_time)",
            "CREATE INDEX session_owner IF NOT EXISTS FOR (s:Session) ON (s.owner_player_id)",
            "CREATE INDEX turn_session_number IF NOT EXISTS FOR (t:Turn) ON (t.session_id, t.turn_number)",
        ),
    ),
)

_APPLIED: Final = "MATCH (m:Migration) RETURN m.version AS version"

_RECORD: Final = """
MERGE (m:Migration {version: $version})
ON CREATE SET m.description = $description, m.applied_at = datetime()
"""


async def migrate(driver: AsyncDriver, database: str) -> list[str]:
    """Run the migrations not yet recorded in ``database``; returns the versions applied
    (empty when the schema was already current)."""
    found = await driver.execute_query(_APPLIED, routing_=RoutingControl.WRITE, database_=database)
    recorded = {record["version"] for record in found.records}
    applied = []
    for migration in MIGRATIONS:
        if migration.version in recorded:
            continue
        for statement in migration.statements:
            await driver.execute_query(statement, database_=database)
        await driver.execute_query(
            _RECORD, {"version": migration.version, "description": migration.description}, database_=database
        )
        applied.append(migration.version)
    return applied
