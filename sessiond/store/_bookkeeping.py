"""The bookkeeping every backend does the same way, written once.

A commit stamps the session (revision + 1, update_time, last_activity_time for a
caller's change) and gives the change's events consecutive ids ending at the session's
new ``last_event_id``; a profile write stamps the profile. Stats are tallied from the
sessions a backend holds.
"""

from __future__ import annotations

from collections.abc import Iterable

from sessiond.core.models import Event, Mutation, Persistence, PlayerProfile, Session, SessionState
from sessiond.store.protocols import StoreStats


def stamp_commit(session: Session, mutation: Mutation, now: float) -> list[Event]:
    """Stamp ``session`` (edited by ``mutation``'s change) as committed at ``now``;
    returns the change's events with their ids."""
    session.revision += 1
    session.update_time = now
    if mutation.activity:
        session.last_activity_time = now
    events: list[Event] = []
    for draft in mutation.events:
        session.last_event_id += 1
        events.append(Event(session.last_event_id, session.session_id, now, draft))
    return events


def stamp_profile(updated: PlayerProfile, player_id: str, stored: PlayerProfile | None, now: float) -> None:
    """Stamp ``updated`` as the next version of ``stored`` (None: the first), written at ``now``."""
    updated.player_id = player_id
    updated.create_time = stored.create_time if stored is not None else now
    updated.update_time = now
    updated.revision = (stored.revision if stored is not None else 0) + 1


def tally(sessions: Iterable[Session]) -> StoreStats:
    """Sessions by state and by persistence, rostered players and open windows of ``sessions``."""
    by_state: dict[SessionState, int] = {}
    by_persistence: dict[Persistence, int] = {}
    players = windows = 0
    for s in sessions:
        by_state[s.state] = by_state.get(s.state, 0) + 1
        by_persistence[s.settings.persistence] = by_persistence.get(s.settings.persistence, 0) + 1
        players += len(s.roster)
        windows += s.window is not None
    return StoreStats(by_state, players, windows, sessions_by_persistence=by_persistence)
