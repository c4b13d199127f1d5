"""Durable facts: what a hot store hands to the durable graph (through its outbox).

A fact is a plain dict, JSON-ready, applied idempotently and in any order by the
projector: the newest revision of a record wins, re-applying a fact changes nothing.
"""

from __future__ import annotations

from typing import Any

from sessiond.core import codec
from sessiond.core.models import PlayerProfile, Session, Turn

SESSION = "session"  # the whole session as committed (settings, state, roster, departed...)
TURN = "turn"  # a resolved turn, new or updated (summary, NARRATOR winner)
SESSION_DELETED = "session_deleted"  # DeleteSession: the caller wants it gone
PROFILE = "profile"  # a player profile as committed


def session_fact(s: Session) -> dict[str, Any]:
    # Without the memo of request ids: it matters for minutes, to retries, not to the graph.
    record = codec.session_to_dict(s) | {"requests": {}}
    return {"kind": SESSION, "session_id": s.session_id, "revision": s.revision, "session": record}


def turn_fact(t: Turn, revision: int | None = None) -> dict[str, Any]:
    """``revision``: the session's, so updates of one turn apply in order even when replayed out of order."""
    fact = {"kind": TURN, "session_id": t.session_id, "turn_number": t.turn_number, "turn": codec.turn_to_dict(t)}
    if revision is not None:
        fact["revision"] = revision
    return fact


def deleted_fact(session_id: str, create_time: float | None = None) -> dict[str, Any]:
    """``create_time`` tells the deleted session from a later one created under the same id."""
    fact: dict[str, Any] = {"kind": SESSION_DELETED, "session_id": session_id}
    if create_time is not None:
        fact["create_time"] = create_time
    return fact


def profile_fact(p: PlayerProfile) -> dict[str, Any]:
    record = codec.profile_to_dict(p) | {"requests": {}}  # without the memo, as sessions
    return {"kind": PROFILE, "player_id": p.player_id, "revision": p.revision, "profile": record}


def facts_of_commit(session: Session, new_turn: Turn | None, updated_turn: Turn | None) -> list[dict[str, Any]]:
    """The facts one committed mutation produces: the session, then any turn it wrote."""
    out = [session_fact(session)]
    out += [turn_fact(t, session.revision) for t in (new_turn, updated_turn) if t is not None]
    return out
