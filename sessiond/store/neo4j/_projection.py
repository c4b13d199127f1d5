"""Durable facts projected into the graph: idempotent, order-tolerant, all parameterized.

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
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final

from neo4j import AsyncManagedTransaction, AsyncSession, AsyncTransaction

from sessiond.core import facts
from sessiond.store.neo4j._params import Parsed, parse

Runner = AsyncManagedTransaction | AsyncTransaction | AsyncSession
"""Anything that runs Cypher; prefer a transaction (a session runs each statement apart)."""

_SESSION_TOMBSTONE: Final = """
OPTIONAL MATCH (tomb:SessionTombstone {session_id: $session_id})
SET tomb.create_time = coalesce(tomb.create_time, $create_time)
WITH tomb, tomb IS NULL OR tomb.create_time < $create_time AS live
FOREACH (_ IN CASE WHEN tomb IS NOT NULL AND live THEN [1] ELSE [] END | DELETE tomb)
RETURN live
"""

_SESSION_UPSERT: Final = """
MERGE (s:Session {session_id: $session_id})
SET s._lock = true REMOVE s._lock
WITH s, s.create_time AS stored_create_time
WHERE stored_create_time IS NULL OR stored_create_time < $create_time
   OR (stored_create_time = $create_time AND coalesce(s.revision, 0) < $revision)
SET s.snapshot = $record, s.revision = $revision, s.status = $status, s.title = $title,
    s.create_time = $create_time, s.update_time = $update_time, s.owner_player_id = $owner_player_id
RETURN stored_create_time
"""

_SESSION_DROP_OLD_TURNS: Final = """
MATCH (t:Turn {session_id: $session_id}) WHERE t.open_time < $create_time
DETACH DELETE t
"""

_SESSION_LINKS: Final = """
MATCH (s:Session {session_id: $session_id})
CALL (s) {
  MATCH (s)-[old:USES_CHARACTER|IN_WORLD|PLAYS|IN_CHANNEL]->(target)
  WHERE coalesce(target.character_id, target.world_id, target.game_id, target.channel_id) <> $links[type(old)]
  DELETE old
}
FOREACH (id IN [x IN [$links.USES_CHARACTER] WHERE x <> ''] |
  MERGE (c:Character {character_id: id}) MERGE (s)-[:USES_CHARACTER]->(c))
FOREACH (id IN [x IN [$links.IN_WORLD] WHERE x <> ''] |
  MERGE (w:World {world_id: id}) MERGE (s)-[:IN_WORLD]->(w))
FOREACH (id IN [x IN [$links.PLAYS] WHERE x <> ''] |
  MERGE (g:Game {game_id: id}) MERGE (s)-[:PLAYS]->(g))
FOREACH (id IN [x IN [$links.IN_CHANNEL] WHERE x <> ''] |
  MERGE (c:Channel {channel_id: id}) MERGE (s)-[:IN_CHANNEL]->(c))
"""

_SESSION_ROSTER: Final = """
MATCH (s:Session {session_id: $session_id})
CALL (s) {
  MATCH (p:Player)-[r:HAS_SESSION]->(s)
  WHERE NOT p.player_id IN [m IN $members | m.player_id]
  DELETE r
}
FOREACH (m IN $members |
  MERGE (p:Player {player_id: m.player_id})
  MERGE (p)-[r:HAS_SESSION]->(s)
  SET r.joined = m.joined, r.left = m.left, r.display_name = m.display_name)
"""

_TURN_UPSERT: Final = """
OPTIONAL MATCH (tomb:SessionTombstone {session_id: $session_id})
OPTIONAL MATCH (stored:Session {session_id: $session_id})
WITH tomb, stored WHERE tomb IS NULL AND (stored.create_time IS NULL OR stored.create_time <= $open_time)
MERGE (s:Session {session_id: $session_id})
MERGE (t:Turn {turn_key: $turn_key})
SET t._lock = true REMOVE t._lock
WITH s, t WHERE $revision IS NULL OR coalesce(t.revision, -1) < $revision
MERGE (s)-[:HAS_TURN]->(t)
WITH s, t,
  CASE WHEN $revision IS NULL AND $winner = '' THEN coalesce(t.winner, '') ELSE $winner END AS winner,
  CASE WHEN $revision IS NULL AND $summary = '' THEN coalesce(t.summary, '') ELSE $summary END AS summary
SET t += $turn
SET t.winner = winner, t.summary = summary, t.revision = coalesce($revision, t.revision)
FOREACH (c IN $choices |
  MERGE (p:Player {player_id: c.player_id})
  MERGE (p)-[r:CHOSE]->(t)
  SET r.choice = c.choice, r.time = c.time, r.seq = c.seq)
"""

_SESSION_DELETE: Final = """
OPTIONAL MATCH (s:Session {session_id: $session_id})
WITH s WHERE s IS NULL OR $create_time IS NULL OR s.create_time IS NULL OR s.create_time <= $create_time
WITH s, coalesce($create_time, s.create_time) AS deleted_create_time
CALL () {
  OPTIONAL MATCH (t:Turn {session_id: $session_id})
  DETACH DELETE t
}
DETACH DELETE s
MERGE (tomb:SessionTombstone {session_id: $session_id})
SET tomb.create_time = CASE
  WHEN tomb.create_time IS NULL OR tomb.create_time < deleted_create_time THEN deleted_create_time
  ELSE tomb.create_time END
"""

_PROFILE_UPSERT: Final = """
MERGE (p:Player {player_id: $player_id})
SET p._lock = true REMOVE p._lock
WITH p WHERE coalesce(p.revision, 0) < $revision
SET p += $profile
"""


async def _single_flag(runner: Runner, query: str, params: Mapping[str, Any]) -> bool:
    result = await runner.run(query, dict(params))
    record = await result.single(strict=True)
    return bool(record[0])


async def _run(runner: Runner, query: str, params: Mapping[str, Any]) -> None:
    result = await runner.run(query, dict(params))
    await result.consume()


async def _apply_session(runner: Runner, p: Mapping[str, Any]) -> None:
    if not await _single_flag(runner, _SESSION_TOMBSTONE, p):
        return
    result = await runner.run(_SESSION_UPSERT, dict(p))
    record = await result.single()
    if record is None:  # stale: a newer revision (or incarnation) is stored
        return
    previous_create_time = record["stored_create_time"]
    if previous_create_time is not None and previous_create_time < p["create_time"]:
        await _run(runner, _SESSION_DROP_OLD_TURNS, p)  # turns of an earlier incarnation
    await _run(runner, _SESSION_LINKS, p)
    await _run(runner, _SESSION_ROSTER, p)


async def _apply_turn(runner: Runner, p: Mapping[str, Any]) -> None:
    await _run(runner, _TURN_UPSERT, p)


async def _apply_deleted(runner: Runner, p: Mapping[str, Any]) -> None:
    await _run(runner, _SESSION_DELETE, p)


async def _apply_profile(runner: Runner, p: Mapping[str, Any]) -> None:
    await _run(runner, _PROFILE_UPSERT, p)


_APPLIERS: dict[str, Callable[[Runner, Mapping[str, Any]], Awaitable[None]]] = {
    facts.SESSION: _apply_session,
    facts.TURN: _apply_turn,
    facts.SESSION_DELETED: _apply_deleted,
    facts.PROFILE: _apply_profile,
}


async def apply_parsed(runner: Runner, parsed: Parsed) -> None:
    """Project one checked fact."""
    await _APPLIERS[parsed.kind](runner, parsed.params)


async def apply(tx_or_session: Runner, fact: Mapping[str, Any]) -> None:
    """Project one fact (dict of sessiond.core.facts) through ``tx_or_session``.

    Raises PermanentFactError for a malformed fact, before anything is written. Errors of
    the database propagate unchanged, so a managed transaction can retry transient ones.
    """
    await apply_parsed(tx_or_session, parse(fact))
