"""ListSessions/ListGames filters turned into store queries."""

from __future__ import annotations

from sessiond.core.errors import InvalidInput
from sessiond.core.limits import check_id
from sessiond.core.models import SessionStatus
from sessiond.core.paging import parse_filter
from sessiond.store.protocols import SessionQuery

SESSION_FILTER_FIELDS = frozenset({"player_id", "game_id", "channel_id", "character_id", "world_id", "state"})
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
        game_id=terms.get("game_id", ""),
        channel_id=terms.get("channel_id", ""),
        character_id=terms.get("character_id", ""),
        world_id=terms.get("world_id", ""),
        status=status,
        in_channel=in_channel,
    )
