"""ListSessions/ListGames filters turned into store queries."""

from __future__ import annotations

from sessiond.core.errors import InvalidInput
from sessiond.core.limits import check_id
from sessiond.core.models import LINKED_IDS, SessionStatus
from sessiond.core.paging import parse_filter
from sessiond.store.protocols import SessionQuery

SESSION_FILTER_FIELDS = frozenset({*LINKED_IDS, "player_id", "state"})
GAME_FILTER_FIELDS = frozenset({"channel_id", "game_id", "state"})


def session_query(filter_text: str, fields: frozenset[str], *, in_channel: bool = False) -> SessionQuery:
    terms = parse_filter(filter_text, fields)
    status = None
    if "state" in terms:
        try:
            status = SessionStatus(terms.pop("state").upper())
        except ValueError:
            names = ", ".join(s.value for s in SessionStatus)
            raise InvalidInput("filter", f"state must be one of {names}") from None
    for name, value in terms.items():
        check_id(f"filter {name}", value)
    return SessionQuery(
        player_id=terms.get("player_id", ""),
        **{name: terms.get(name, "") for name in LINKED_IDS},
        status=status,
        in_channel=in_channel,
    )
