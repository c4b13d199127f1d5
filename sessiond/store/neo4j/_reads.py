"""Graph reads: cold restore, deep turn history, a player's sessions, companions, profiles,
and the ids of every session (to backfill the hot store's id registry).

Every query is parameterized and routed to readers. Sessions come back from their
committed record (the JSON the stored property ``Session.snapshot`` holds; the property
keeps that name so existing graphs need no migration), so what is restored equals what
was committed. Stub sessions (made by a turn fact that arrived before its session) have
no record and are never returned.
"""

from __future__ import annotations

import json
from typing import Any, Final

from neo4j import AsyncDriver, Record, RoutingControl
from neo4j.exceptions import DriverError, Neo4jError

from sessiond.core import codec
from sessiond.core.models import Persistence, PlayerProfile, Session, Turn
from sessiond.store.neo4j._failures import is_permanent, unavailable

DEFAULT_HISTORY = 50

_TURN_FIELDS: Final = """t {
  .session_id, .turn_number, .options, .choices, .tally, .winner, .tied, .tie_break, .tie_break_seed,
  .close_reason, .open_time, .resolve_time, .summary
}"""

_LOAD_SESSION: Final = (
    """
MATCH (s:Session {session_id: $session_id}) WHERE s.snapshot IS NOT NULL
RETURN s.snapshot AS record, COLLECT {
  MATCH (s)-[:HAS_TURN]->(t:Turn)
  RETURN """
    + _TURN_FIELDS
    + """ ORDER BY t.turn_number DESC LIMIT $history
} AS turns
"""
)

_TURNS: Final = (
    """
MATCH (t:Turn {session_id: $session_id})
WHERE t.turn_number IS NOT NULL AND ($before IS NULL OR t.turn_number < $before)
RETURN """
    + _TURN_FIELDS
    + """ AS turn
ORDER BY t.turn_number DESC LIMIT $limit
"""
)

_PLAYER_SESSIONS: Final = """
MATCH (:Player {player_id: $player_id})-[:HAS_SESSION]->(s:Session) WHERE s.snapshot IS NOT NULL
RETURN s.snapshot AS record
ORDER BY s.update_time DESC, s.session_id LIMIT $limit
"""

_SESSION_IDS: Final = """
MATCH (s:Session) WHERE s.session_id > $after AND s.snapshot IS NOT NULL
RETURN s.session_id AS session_id ORDER BY s.session_id LIMIT $limit
"""

_COMPANIONS: Final = """
MATCH (me:Player {player_id: $player_id})-[:HAS_SESSION]->(s:Session)<-[r:HAS_SESSION]-(other:Player)
WHERE other <> me AND s.snapshot IS NOT NULL AND coalesce(other.hide_from_recommendations, false) = false
WITH other, s, r ORDER BY s.update_time DESC
WITH other, count(DISTINCT s) AS shared, [n IN collect(r.display_name) WHERE n <> ''] AS roster_names
RETURN other.player_id AS player_id,
  CASE WHEN coalesce(other.display_name, '') <> '' THEN other.display_name
       ELSE coalesce(head(roster_names), '') END AS display_name,
  shared
ORDER BY shared DESC, player_id LIMIT $limit
"""

_PROFILE: Final = """
MATCH (p:Player {player_id: $player_id}) WHERE p.revision IS NOT NULL
RETURN p {
  .player_id, .display_name, .preferences, .hide_from_recommendations, .hide_from_departed_rosters,
  .content, .create_time, .update_time, .revision
} AS profile
"""

_CHANNEL_SESSIONS: Final = """
MATCH (s:Session)-[:IN_CHANNEL]->(:Channel {channel_id: $channel_id}) WHERE s.snapshot IS NOT NULL
RETURN s.snapshot AS record
ORDER BY s.update_time DESC, s.session_id LIMIT $limit
"""


class GraphReads:
    """The read side of the graph over one driver and database."""

    def __init__(self, driver: AsyncDriver, database: str) -> None:
        self.driver = driver
        self.database = database

    async def _read(self, query: str, doing: str, **params: Any) -> list[Record]:
        """Run a read query; outages become GraphUnavailable, statement bugs propagate."""
        try:
            result = await self.driver.execute_query(
                query, params, routing_=RoutingControl.READ, database_=self.database
            )
        except Neo4jError as exc:
            if is_permanent(exc):
                raise
            raise unavailable(exc, doing) from exc
        except DriverError as exc:
            raise unavailable(exc, doing) from exc
        return list(result.records)

    async def load_session(self, session_id: str, history: int = DEFAULT_HISTORY) -> tuple[Session, list[Turn]] | None:
        """The last committed session and its newest ``history`` turns (newest first),
        or None if the graph does not have it. For cold restore."""
        records = await self._read(
            _LOAD_SESSION, f"loading session {session_id!r}", session_id=session_id, history=history
        )
        if not records:
            return None
        return _session(records[0]["record"]), [_turn(t) for t in records[0]["turns"]]

    async def turns(self, session_id: str, limit: int, *, before: int | None = None) -> list[Turn]:
        """Up to ``limit`` resolved turns of the whole history, newest first ([] for an
        unknown session); with ``before``, only those numbered below it."""
        records = await self._read(
            _TURNS, f"reading turns of session {session_id!r}", session_id=session_id, limit=limit, before=before
        )
        return [_turn(r["turn"]) for r in records]

    async def player_sessions(self, player_id: str, limit: int) -> list[Session]:
        """Sessions the player is or was in (departed included), most recently updated first."""
        records = await self._read(
            _PLAYER_SESSIONS, f"reading sessions of player {player_id!r}", player_id=player_id, limit=limit
        )
        return [_session(r["record"]) for r in records]

    async def session_ids(self, after: str, limit: int) -> list[str]:
        """Ids of the sessions the graph holds, in order, the first ``limit`` above ``after``."""
        records = await self._read(_SESSION_IDS, "reading session ids", after=after, limit=limit)
        return [r["session_id"] for r in records]

    async def companions(self, player_id: str, limit: int) -> list[tuple[str, str, int]]:
        """(player_id, display_name, shared sessions) of the player's co-players, most shared
        first, leaving out players whose profile hides them from recommendations. The name is
        the profile's, else the one they used in their latest shared session."""
        records = await self._read(
            _COMPANIONS, f"reading companions of player {player_id!r}", player_id=player_id, limit=limit
        )
        return [(r["player_id"], r["display_name"], r["shared"]) for r in records]

    async def profile(self, player_id: str) -> PlayerProfile | None:
        """The player's profile as last committed, or None if they never had one."""
        records = await self._read(_PROFILE, f"reading the profile of {player_id!r}", player_id=player_id)
        return _profile(records[0]["profile"]) if records else None

    async def find_channel_sessions(self, channel_id: str, limit: int = 1000) -> list[Session]:
        """Sessions bound to the channel (its games, any state), most recently updated
        first. For LoadGame/SwapGame when the channel's sessions are not hot."""
        records = await self._read(
            _CHANNEL_SESSIONS, f"reading sessions of channel {channel_id!r}", channel_id=channel_id, limit=limit
        )
        return [_session(r["record"]) for r in records]


def _session(record: str) -> Session:
    return codec.session_from_dict(json.loads(record), legacy=Persistence.DURABLE)


def _turn(props: dict[str, Any]) -> Turn:
    return codec.turn_from_dict(props | {"choices": json.loads(props["choices"]), "tally": json.loads(props["tally"])})


def _profile(props: dict[str, Any]) -> PlayerProfile:
    return codec.profile_from_dict(
        props | {"preferences": json.loads(props["preferences"]), "content": json.loads(props["content"])}
    )
