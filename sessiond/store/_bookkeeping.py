"""The bookkeeping every backend does the same way, written once.

A commit stamps the session (revision + 1, update_time, last_activity_time for a
caller's change) and gives the change's events consecutive ids ending at the session's
new ``last_event_id``; a profile write stamps the profile. Stats are a `Tally` of the
sessions a backend holds, kept up to date on every write (a scrape reads it in O(1)).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

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


@dataclass(slots=True)
class Tally:
    """Running totals of the sessions a backend holds: what `StoreStats` reports.

    A backend counts every session in (create, load) and out (delete, expire), and swaps
    the old for the new on each commit, so the figures always equal a recount
    (`Tally.of`) without one."""

    by_state: Counter[SessionState] = field(default_factory=Counter)
    by_persistence: Counter[Persistence] = field(default_factory=Counter)
    players: int = 0
    windows: int = 0

    @classmethod
    def of(cls, sessions: Iterable[Session]) -> Tally:
        """The tally of ``sessions``, counted one by one."""
        tally = cls()
        for s in sessions:
            tally.add(s)
        return tally

    def add(self, session: Session, sign: int = 1) -> None:
        """Count ``session`` in (``sign`` -1: out)."""
        self.by_state[session.state] += sign
        self.by_persistence[session.settings.persistence] += sign
        self.players += sign * len(session.roster)
        self.windows += sign * (session.window is not None)

    def remove(self, session: Session) -> None:
        self.add(session, -1)

    def replace(self, old: Session, new: Session) -> None:
        """Count a commit that turned ``old`` into ``new``."""
        self.remove(old)
        self.add(new)

    def stats(self) -> StoreStats:
        """The figures, leaving out states and persistences no session has."""
        return StoreStats(
            {k: n for k, n in self.by_state.items() if n},
            self.players,
            self.windows,
            sessions_by_persistence={k: n for k, n in self.by_persistence.items() if n},
        )


def tally(sessions: Iterable[Session]) -> StoreStats:
    """Sessions by state and by persistence, rostered players and open windows of ``sessions``."""
    return Tally.of(sessions).stats()
