"""Fact dicts (sessiond.core.facts) checked and turned into Cypher parameters.

Every fact is decoded with sessiond.core.codec first, so a fact the graph accepts is one
the service can read back; anything that does not decode, whose guard fields (ids,
revisions, times) have the wrong type, or whose integers do not fit Neo4j's 64 bits, is a
PermanentFactError before any Cypher runs. Values only ever travel as parameters.

Two fields are optional because facts written by older versions lack them: a turn fact's
``revision`` (of the session commit that wrote it) orders updates of the turn; a delete's
``create_time`` (of the session deleted) keeps a late delete from removing a session that
was created again under the same id.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sessiond.core import codec, facts
from sessiond.core.models import Persistence, Session
from sessiond.store.neo4j._failures import PermanentFactError

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


@dataclass(frozen=True, slots=True)
class Parsed:
    """A fact that passed the checks: its kind and the parameters of its statements."""

    kind: str
    params: dict[str, Any]


def parse(fact: Mapping[str, Any]) -> Parsed:
    """Check ``fact`` and build its parameters. Raises PermanentFactError."""
    if not isinstance(fact, Mapping):
        raise PermanentFactError(f"a fact is a dict, not {type(fact).__name__}", fact=fact)
    kind = fact.get("kind")
    if not isinstance(kind, str) or kind not in _BUILDERS:
        raise PermanentFactError(f"unknown fact kind {kind!r}; expected one of {sorted(_BUILDERS)}", fact=fact)
    try:
        params = _BUILDERS[kind](fact)
        _check_integers(params)
        return Parsed(kind, params)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise PermanentFactError(f"malformed {kind} fact: {type(exc).__name__}: {exc}", fact=fact) from exc


def turn_key(session_id: str, turn_number: int) -> str:
    """The unique key of a turn node (Community has no composite node keys)."""
    return f"{session_id}#{turn_number}"


def _session(fact: Mapping[str, Any]) -> dict[str, Any]:
    s = codec.session_from_dict(fact["session"], legacy=Persistence.DURABLE)
    _require_id("session_id", fact["session_id"], s.session_id)
    _require_int("revision", fact["revision"], s.revision)
    for name in ("create_time", "update_time"):
        _require_number(name, getattr(s, name))
    return {
        "session_id": s.session_id,
        "revision": s.revision,
        "create_time": s.create_time,
        "update_time": s.update_time,
        "status": s.state.value,
        "owner_player_id": s.owner_player_id,
        "title": s.title,
        # The fact's own dict, not the decoded record encoded again: it decodes to the same
        # session (the reads decode it as parse does), and re-encoding cost the projector
        # half of its CPU (docs/benchmarks.md).
        "record": _json(fact["session"]),
        "links": {
            "USES_CHARACTER": s.character_id,
            "IN_WORLD": s.world_id,
            "PLAYS": s.game_id,
            "IN_CHANNEL": s.channel_id,
        },
        "members": _members(s),
    }


def _members(s: Session) -> list[dict[str, Any]]:
    """Everyone the session has had: the roster (left = None), then those who left."""
    out = []
    for entries, present in ((s.roster, True), (s.departed, False)):
        for player_id, entry in entries.items():
            _require_id("roster player_id", player_id, entry.player_id)
            out.append(
                {
                    "player_id": player_id,
                    "display_name": entry.display_name,
                    "joined": entry.join_time,
                    "left": None if present else entry.leave_time,
                }
            )
    return out


def _turn(fact: Mapping[str, Any]) -> dict[str, Any]:
    t = codec.turn_from_dict(fact["turn"])
    _require_id("session_id", fact["session_id"], t.session_id)
    _require_int("turn_number", fact["turn_number"], t.turn_number)
    revision = fact.get("revision")
    if revision is not None:
        _require_int("revision", revision, revision)
    for name in ("open_time", "resolve_time"):
        _require_number(name, getattr(t, name))
    return {
        "session_id": t.session_id,
        "turn_key": turn_key(t.session_id, t.turn_number),
        "revision": revision,
        "open_time": t.open_time,
        "turn": _turn_properties(fact["turn"]),
        "winner": t.winner,
        "summary": t.summary,
        "choices": [{"player_id": c.player_id, "choice": c.choice, "time": c.time, "seq": c.seq} for c in t.choices],
    }


def _turn_properties(turn: Mapping[str, Any]) -> dict[str, Any]:
    """The turn as node properties (winner and summary apart: they follow the ordering
    rules); nested values (choices, tally) as JSON strings. From the fact's own dict once
    it decoded (as the session's record is), not the decoded turn encoded again."""
    record = {k: v for k, v in turn.items() if k not in ("winner", "summary")}
    record["choices"] = _json(record["choices"])
    record["tally"] = _json(record["tally"])
    return record


def _deleted(fact: Mapping[str, Any]) -> dict[str, Any]:
    session_id = fact["session_id"]
    _require_id("session_id", session_id, session_id)
    create_time = fact.get("create_time")
    if create_time is not None:
        _require_number("create_time", create_time)
    return {"session_id": session_id, "create_time": create_time}


def _profile(fact: Mapping[str, Any]) -> dict[str, Any]:
    p = codec.profile_from_dict(fact["profile"])
    _require_id("player_id", fact["player_id"], p.player_id)
    _require_int("revision", fact["revision"], p.revision)
    for name in ("create_time", "update_time"):
        _require_number(name, getattr(p, name))
    record = codec.profile_to_dict(p)
    return {
        "player_id": p.player_id,
        "revision": p.revision,
        "profile": {
            "display_name": p.display_name,
            "preferences": _json(record["preferences"]),
            "hide_from_recommendations": bool(p.hide_from_recommendations),
            "hide_from_departed_rosters": bool(p.hide_from_departed_rosters),
            "content": _json(record["content"]),
            "create_time": p.create_time,
            "update_time": p.update_time,
            "revision": p.revision,
        },
    }


def _json(value: Any) -> str:
    """Compact JSON; NaN and infinities are refused (they would not round-trip)."""
    return json.dumps(value, separators=(",", ":"), allow_nan=False)


def _require_id(name: str, outer: object, inner: object) -> None:
    if not isinstance(outer, str) or not outer or outer != inner:
        raise ValueError(f"{name} must be a non-empty string matching the record, got {outer!r} / {inner!r}")


def _require_int(name: str, outer: object, inner: object) -> None:
    if not isinstance(outer, int) or isinstance(outer, bool) or outer != inner:
        raise ValueError(f"{name} must be an integer matching the record, got {outer!r} / {inner!r}")


def _require_number(name: str, value: object) -> None:
    if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")


def _check_integers(value: object) -> None:
    """Neo4j integers are 64-bit; a larger one would fail in the driver, not the database."""
    if isinstance(value, int) and not INT64_MIN <= value <= INT64_MAX:
        raise ValueError(f"integer {value} does not fit in 64 bits")
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, list):
        for item in value:
            _check_integers(item)


_BUILDERS = {
    facts.SESSION: _session,
    facts.TURN: _turn,
    facts.SESSION_DELETED: _deleted,
    facts.PROFILE: _profile,
}
