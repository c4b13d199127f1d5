"""What only the graph has, for the redis+neo4j store: turns beyond the hot ones, and
the players' archive (PlayerArchive: their sessions and companions).

Invariant: no turn falls between Redis and the graph. The older turns the graph does not
have yet are read from the session's outbox before the graph is read: a fact leaves the
outbox only once the graph committed it. Deep history and the archive's answers need the
graph (GraphUnavailable, fast, through the gate, while it is down): the dashboard then
names those parts in incomplete_parts rather than answer them from Redis alone.
"""

from __future__ import annotations

from sessiond.core import codec, facts
from sessiond.core.models import Session, Turn
from sessiond.store.durable_gate import GraphGate
from sessiond.store.neo4j import GraphStore
from sessiond.store.redis import RedisStore


class GraphArchive:
    def __init__(self, hot: RedisStore, graph: GraphStore, gate: GraphGate) -> None:
        self._hot = hot
        self._graph = graph
        self._gate = gate

    async def older_turns(self, session_id: str, before: int, need: int) -> list[Turn]:
        """The ``need`` newest turns numbered below ``before``, newest first."""
        pending = await self._pending_turns(session_id, before)  # first: see the module docstring
        doing = f"reading turns of session {session_id!r} older than the hot ones"
        if not pending:
            return await self._gate.read(lambda: self._graph.turns(session_id, need, before=before), doing)
        # The graph lags: merge. Of its turns, at most len(pending) are also pending.
        window = need + len(pending)
        durable = await self._gate.read(lambda: self._graph.turns(session_id, window, before=before), doing)
        older = {t.turn_number: t for t in durable} | pending
        return sorted(older.values(), key=lambda t: t.turn_number, reverse=True)[:need]

    async def _pending_turns(self, session_id: str, before: int) -> dict[int, Turn]:
        """Turns numbered below ``before`` whose facts are still in the session's outbox,
        the newest version of each (none of an earlier session under the same id)."""
        turns: dict[int, Turn] = {}
        for fact in await self._hot.outbox_log.facts(self._hot.keys.session(session_id).outbox):
            if fact.get("kind") == facts.SESSION_DELETED:
                turns.clear()
            elif fact.get("kind") == facts.TURN and fact["turn_number"] < before:
                turns[fact["turn_number"]] = codec.turn_from_dict(fact["turn"])
        return turns

    # PlayerArchive: without the graph its answer would be partial, so GraphUnavailable
    # (the dashboard names the part incomplete).

    async def archived_sessions(self, player_id: str, limit: int) -> list[Session]:
        return await self._gate.read(
            lambda: self._graph.player_sessions(player_id, limit), f"reading the sessions of {player_id!r}"
        )

    async def archived_companions(self, player_id: str, limit: int) -> list[tuple[str, str, int]]:
        return await self._gate.read(
            lambda: self._graph.companions(player_id, limit), f"reading the companions of {player_id!r}"
        )
