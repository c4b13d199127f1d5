"""Checks shared by the rules: lifecycle state, etags, versions, roster capacity."""

from __future__ import annotations

from sessiond.core.errors import RosterFull, StaleEtag, StaleStateVersion, WrongLifecycleState
from sessiond.core.models import PlayerEntry, Session, SessionState


def require_state(s: Session, wanted: SessionState, action: str) -> None:
    if s.state is not wanted:
        raise WrongLifecycleState(f"cannot {action}: session {s.session_id!r} is {s.state.value}, not {wanted.value}")


def require_open(s: Session, action: str) -> None:
    if s.state.final:
        raise WrongLifecycleState(f"cannot {action}: session {s.session_id!r} is {s.state.value}")


def check_etag(s: Session, etag: str) -> None:
    if etag and etag != s.etag:
        raise StaleEtag(f"etag {etag!r} is stale: session {s.session_id!r} is now at {s.etag!r}")


def check_version(s: Session, expected: int | None) -> None:
    if expected is not None and expected != s.state_version:
        raise StaleStateVersion(
            f"expected state_version {expected}, but session {s.session_id!r} is at {s.state_version}"
        )


def add_player(s: Session, player_id: str, display_name: str, now: float) -> PlayerEntry:
    if len(s.roster) >= s.settings.max_players:
        raise RosterFull(f"session {s.session_id!r} has its maximum of {s.settings.max_players} players")
    player = PlayerEntry(player_id, display_name, now, now, s.turn_number)
    s.roster[player_id] = player
    return player
