"""Durable facts: what a hot store hands to the durable graph (through its outbox).

A fact is a plain dict, JSON-ready, applied idempotently and in any order by the
projector: the newest revision of a record wins, re-applying a fact changes nothing.
An EPHEMERAL session has no facts: nothing of it ever reaches the graph.
"""

from __future__ import annotations

from typing import Any

from sessiond.core import codec
from sessiond.core.models import Persistence, PlayerProfile, Session, Turn

SESSION = "session"  # the whole session as committed (settings, state, roster, departed...)
TURN = "turn"  # a resolved turn, new or updated (summary, NARRATOR winner)
SESSION_DELETED = "session_deleted"  # DeleteSession: the caller wants it gone
PROFILE = "profile"  # a player profile as committed


def durable(s: Session) -> bool:
    """Whether the session's changes go to the graph."""
    return s.settings.persistence is Persistence.DURABLE


def session_fact(s: Session, after_event_id: int | None = None) -> dict[str, Any]:
    """``after_event_id``: the session's last event id before this change (default: its
    own), so the graph's progress can be told in event ids (see graph_progress). The
    record goes without its memo of request ids: that matters for minutes, to retries,
    not to the graph."""
    return {
        "kind": SESSION,
        "session_id": s.session_id,
        "revision": s.revision,
        "after_event_id": s.last_event_id if after_event_id is None else after_event_id,
        "session": codec.session_to_dict(s) | {"requests": {}},
    }


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


def facts_of_create(session: Session) -> list[dict[str, Any]]:
    return [session_fact(session)] if durable(session) else []


def facts_of_delete(session: Session) -> list[dict[str, Any]]:
    return [deleted_fact(session.session_id, session.create_time)] if durable(session) else []


def facts_of_commit(
    session: Session, new_turn: Turn | None, updated_turn: Turn | None, *, after_event_id: int | None = None
) -> list[dict[str, Any]]:
    """The facts one committed mutation produces: the session, then any turn it wrote.
    ``after_event_id``: the session's last event id before the change."""
    if not durable(session):
        return []
    out = [session_fact(session, after_event_id)]
    out += [turn_fact(t, session.revision) for t in (new_turn, updated_turn) if t is not None]
    return out


def projected_event_id(session: Session, pending: int, oldest: dict[str, Any] | None) -> int:
    """The event id up to which the graph has the session, given how many of its facts
    wait in the outbox and the oldest of them. One without ``after_event_id`` (a turn, a
    delete, a fact of an older version, one that did not decode) says nothing: 0, the
    safe answer."""
    if not pending:
        return session.last_event_id
    after = oldest.get("after_event_id") if oldest is not None else None
    return after if isinstance(after, int) else 0
