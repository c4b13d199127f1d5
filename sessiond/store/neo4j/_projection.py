"""Durable facts projected into the graph: idempotent, order-tolerant, all parameterized,
a whole batch in one statement (one round trip).

Graph model::

    (:Player)-[:HAS_SESSION {joined, left, display_name}]->(:Session)
    (:Session)-[:USES_CHARACTER]->(:Character)   (:Session)-[:IN_WORLD]->(:World)
    (:Session)-[:PLAYS]->(:Game)                 (:Session)-[:IN_CHANNEL]->(:Channel)
    (:Session)-[:HAS_TURN]->(:Turn {turn_key})   (:Player)-[:CHOSE {choice, time, seq}]->(:Turn)
    (:SessionTombstone {session_id, create_time})   left by session_deleted

Ordering rules, so that redelivered and reordered facts converge on the same graph:

- A session fact applies only if it is newer than the stored session: a later
  incarnation (greater ``create_time``, the same id created again after a delete) or the
  same incarnation at a greater ``revision``. The node is write-locked before the check.
- A delete removes the session and its turns and leaves a tombstone naming the deleted
  incarnation (its ``create_time``), so older facts of it arriving late are ignored; the
  first fact of a later incarnation removes the tombstone. A delete that arrives before
  any fact of its session leaves a tombstone without a time, which takes the time of the
  first session fact to come (necessarily of the deleted incarnation when facts of one
  session are consumed in order). Turn facts are ignored while a tombstone stands, and
  when they predate the stored incarnation. A delete carrying ``create_time`` leaves a
  later incarnation alone; one without it deletes whatever is stored (safe when the
  outbox is consumed in order, redeliveries included).
- Players, characters, worlds, games and channels are never deleted: they are shared.
- A turn fact with a ``revision`` (the session commit that wrote it) applies only if
  newer than the stored one. Without one, it overwrites, except that an empty winner or
  summary never replaces a set one (a NARRATOR winner is set once; a summary is added
  after the turn resolves).
- A profile fact applies only at a greater revision.

A batch is one ``UNWIND $rows AS row CALL (row) {...}``: Cypher runs the subquery once
per row, in list order, and each run sees what the runs before it wrote (unlike the
clauses of one query, which would all read the graph as it was before the batch). So a
batch converges on the graph its facts give when applied one by one, in order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from neo4j import AsyncManagedTransaction, AsyncSession, AsyncTransaction

from sessiond.core import facts
from sessiond.store.neo4j._params import Parsed, parse

Runner = AsyncManagedTransaction | AsyncTransaction | AsyncSession
"""Anything that runs Cypher; prefer a transaction (a session runs each statement apart)."""

# What each kind of fact does to the graph, for one ``row`` (the parameters of _params plus
# ``kind``); a part ends early (WITH ... WHERE) where the ordering rules say "ignore it".
# ``t.turn_number IS NOT NULL`` (every turn has one) lets the planner seek the turns of a
# session in the (session_id, turn_number) index instead of scanning every turn.

_SESSION: Final = """
OPTIONAL MATCH (tomb:SessionTombstone {session_id: row.session_id})
SET tomb.create_time = coalesce(tomb.create_time, row.create_time)
WITH row, tomb, tomb IS NULL OR tomb.create_time < row.create_time AS live
FOREACH (_ IN CASE WHEN tomb IS NOT NULL AND live THEN [1] ELSE [] END | DELETE tomb)
WITH row WHERE live
MERGE (s:Session {session_id: row.session_id})
SET s._lock = true REMOVE s._lock
WITH row, s, s.create_time AS stored_create_time
WHERE stored_create_time IS NULL OR stored_create_time < row.create_time
   OR (stored_create_time = row.create_time AND coalesce(s.revision, 0) < row.revision)
SET s.snapshot = row.record, s.revision = row.revision, s.status = row.status, s.title = row.title,
    s.create_time = row.create_time, s.update_time = row.update_time, s.owner_player_id = row.owner_player_id
WITH row, s, stored_create_time
CALL (row, stored_create_time) {
  WITH row WHERE stored_create_time < row.create_time
  MATCH (t:Turn {session_id: row.session_id}) WHERE t.turn_number IS NOT NULL AND t.open_time < row.create_time
  DETACH DELETE t
}
CALL (row, s) {
  MATCH (s)-[old:USES_CHARACTER|IN_WORLD|PLAYS|IN_CHANNEL]->(target)
  WHERE coalesce(target.character_id, target.world_id, target.game_id, target.channel_id) <> row.links[type(old)]
  DELETE old
}
FOREACH (id IN [x IN [row.links.USES_CHARACTER] WHERE x <> ''] |
  MERGE (c:Character {character_id: id}) MERGE (s)-[:USES_CHARACTER]->(c))
FOREACH (id IN [x IN [row.links.IN_WORLD] WHERE x <> ''] |
  MERGE (w:World {world_id: id}) MERGE (s)-[:IN_WORLD]->(w))
FOREACH (id IN [x IN [row.links.PLAYS] WHERE x <> ''] |
  MERGE (g:Game {game_id: id}) MERGE (s)-[:PLAYS]->(g))
FOREACH (id IN [x IN [row.links.IN_CHANNEL] WHERE x <> ''] |
  MERGE (c:Channel {channel_id: id}) MERGE (s)-[:IN_CHANNEL]->(c))
WITH row, s
CALL (row, s) {
  MATCH (p:Player)-[r:HAS_SESSION]->(s)
  WHERE NOT p.player_id IN [m IN row.members | m.player_id]
  DELETE r
}
FOREACH (m IN row.members |
  MERGE (p:Player {player_id: m.player_id})
  MERGE (p)-[r:HAS_SESSION]->(s)
  SET r.joined = m.joined, r.left = m.left, r.display_name = m.display_name)
"""

_TURN: Final = """
OPTIONAL MATCH (tomb:SessionTombstone {session_id: row.session_id})
OPTIONAL MATCH (stored:Session {session_id: row.session_id})
WITH row, tomb, stored
WHERE tomb IS NULL AND (stored.create_time IS NULL OR stored.create_time <= row.open_time)
MERGE (s:Session {session_id: row.session_id})
MERGE (t:Turn {turn_key: row.turn_key})
SET t._lock = true REMOVE t._lock
WITH row, s, t WHERE row.revision IS NULL OR coalesce(t.revision, -1) < row.revision
MERGE (s)-[:HAS_TURN]->(t)
WITH row, s, t,
  CASE WHEN row.revision IS NULL AND row.winner = '' THEN coalesce(t.winner, '') ELSE row.winner END AS winner,
  CASE WHEN row.revision IS NULL AND row.summary = '' THEN coalesce(t.summary, '') ELSE row.summary END AS summary
SET t += row.turn
SET t.winner = winner, t.summary = summary, t.revision = coalesce(row.revision, t.revision)
FOREACH (c IN row.choices |
  MERGE (p:Player {player_id: c.player_id})
  MERGE (p)-[r:CHOSE]->(t)
  SET r.choice = c.choice, r.time = c.time, r.seq = c.seq)
"""

_SESSION_DELETED: Final = """
OPTIONAL MATCH (s:Session {session_id: row.session_id})
WITH row, s
WHERE s IS NULL OR row.create_time IS NULL OR s.create_time IS NULL OR s.create_time <= row.create_time
WITH row, s, coalesce(row.create_time, s.create_time) AS deleted_create_time
CALL (row) {
  OPTIONAL MATCH (t:Turn {session_id: row.session_id}) WHERE t.turn_number IS NOT NULL
  DETACH DELETE t
}
DETACH DELETE s
MERGE (tomb:SessionTombstone {session_id: row.session_id})
SET tomb.create_time = CASE
  WHEN tomb.create_time IS NULL OR tomb.create_time < deleted_create_time THEN deleted_create_time
  ELSE tomb.create_time END
"""

_PROFILE: Final = """
MERGE (p:Player {player_id: row.player_id})
SET p._lock = true REMOVE p._lock
WITH row, p WHERE coalesce(p.revision, 0) < row.revision
SET p += row.profile
"""

_PARTS: Final = {
    facts.SESSION: _SESSION,
    facts.TURN: _TURN,
    facts.SESSION_DELETED: _SESSION_DELETED,
    facts.PROFILE: _PROFILE,
}

# One run of the outer subquery per row, in order; within it, only the part of the row's kind
# goes past its WHERE. The kinds are constants of sessiond.core.facts, never data.
_APPLY_ROWS: Final = (
    "UNWIND $rows AS row\nCALL (row) {\n"
    + "".join(f"CALL (row) {{\nWITH row WHERE row.kind = '{kind}'{part}}}\n" for kind, part in _PARTS.items())
    + "}"
)


def row_of(parsed: Parsed) -> dict[str, Any]:
    """The row of a checked fact in the batch statement: its parameters and its kind."""
    return {"kind": parsed.kind, **parsed.params}


async def apply_parsed(runner: Runner, batch: Sequence[Parsed]) -> None:
    """Project checked facts, in order, in one statement (one round trip)."""
    if batch:
        result = await runner.run(_APPLY_ROWS, {"rows": [row_of(parsed) for parsed in batch]})
        await result.consume()


async def prepare(runner: Runner) -> None:
    """Have Neo4j plan the batch statement now (it runs on no rows): planning it takes a cold
    server seconds of CPU, which would otherwise land on the first batch and slow the reads
    served meanwhile."""
    result = await runner.run(_APPLY_ROWS, {"rows": []})
    await result.consume()


async def apply(tx_or_session: Runner, fact: Mapping[str, Any]) -> None:
    """Project one fact (dict of sessiond.core.facts) through ``tx_or_session``.

    Raises PermanentFactError for a malformed fact, before anything is written. Errors of
    the database propagate unchanged, so a managed transaction can retry transient ones.
    """
    await apply_parsed(tx_or_session, [parse(fact)])
