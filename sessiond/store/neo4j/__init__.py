"""The durable graph (Neo4j): facts projected idempotently, sessions restored from it.

The hot store (Redis) writes every durable fact (sessiond.core.facts) to its outbox; a
projector hands batches to ``GraphStore.apply_batch``. Reads serve cold restore and
history beyond the hot window. See docs in ``_projection`` for the graph model and the
ordering rules.
"""

from __future__ import annotations

from sessiond.store.neo4j._batch import apply_batch
from sessiond.store.neo4j._failures import GraphAuthFailed, GraphUnavailable, PermanentFactError, is_permanent
from sessiond.store.neo4j._migrations import MIGRATIONS, Migration, migrate
from sessiond.store.neo4j._projection import Runner, apply
from sessiond.store.neo4j._reads import DEFAULT_HISTORY, GraphReads
from sessiond.store.neo4j._store import GraphStore

__all__ = [
    "DEFAULT_HISTORY",
    "MIGRATIONS",
    "GraphAuthFailed",
    "GraphReads",
    "GraphStore",
    "GraphUnavailable",
    "Migration",
    "PermanentFactError",
    "Runner",
    "apply",
    "apply_batch",
    "is_permanent",
    "migrate",
]
