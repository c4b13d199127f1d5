"""ListSessions/ListGames filters turned into store queries."""

from __future__ import annotations

from enum import StrEnum
from typing import TypeVar

from sessiond.core.errors import InvalidInput
from sessiond.core.limits import check_id
from sessiond.core.models import LINKED_IDS, Persistence, SessionState
from sessiond.core.paging import parse_filter
from sessiond.store.protocols import SessionQuery

SESSION_FILTER_FIELDS = frozenset({*LINKED_IDS, "player_id", "state", "persistence"})
GAME_FILTER_FIELDS = frozenset({"channel_id", "game_id", "state"})


def session_query(filter_text: str, fields: frozenset[str], *, in_channel: bool = False) -> SessionQuery:
    terms = parse_filter(filter_text, fields)
    state = _enum_term(terms, "state", SessionState)
    persistence = _enum_term(terms, "persistence", Persistence)
    for name, value in terms.items():
        check_id(f"filter {name}", value)
    return SessionQuery(
        player_id=terms.get("player_id", ""),
        **{name: terms.get(name, "") for name in LINKED_IDS},
        state=state,
        persistence=persistence,
        in_channel=in_channel,
    )


E = TypeVar("E", bound=StrEnum)


def _enum_term(terms: dict[str, str], name: str, kind: type[E]) -> E | None:
    """Takes the term ``name`` out of ``terms`` as a member of ``kind`` (None if absent)."""
    if name not in terms:
        return None
    try:
        return kind(terms.pop(name).upper())
    except ValueError:
        names = ", ".join(member.value for member in kind)
        raise InvalidInput("filter", f"{name} must be one of {names}") from None
