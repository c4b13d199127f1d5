"""Presence: who is connected, from the leases of watch streams (pure rules, no I/O).

A player is ONLINE while a lease of theirs is live (some replica holds a watch stream
that names them, and renews it), AWAY once the last lease ended but the settled state
is still online, OFFLINE when the grace after that passed and the sweep settled it.
Only settled changes are committed (``online`` on the roster entry, with an event), so
a stream that drops and comes back within the grace commits nothing. Settling is
guarded on the settled flag, so replicas racing to settle one player commit it once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sessiond.core.events import EventPayload, GameMasterChanged, PresenceChanged
from sessiond.core.models import (
    UNCHANGED,
    Change,
    CloseReason,
    EarlyCloseScope,
    Mutation,
    PlayerEntry,
    Presence,
    Session,
    SessionState,
    Turn,
)
from sessiond.core.tiers import TierRules
from sessiond.core.window import close_window, everyone_chose

Leases = Mapping[str, float]
"""Player id -> the end of their latest lease over every replica (in the past once it
ended: its stream closed then, or its replica stopped renewing it)."""


@dataclass(frozen=True, slots=True)
class Seen:
    presence: Presence
    last_seen_time: float  # now while ONLINE; when the last stream ended otherwise


def seen(player: PlayerEntry, lease_end: float, now: float) -> Seen:
    """The player's presence at ``now`` given the end of their latest lease (0: none)."""
    if lease_end > now:
        return Seen(Presence.ONLINE, now)
    if player.online:
        return Seen(Presence.AWAY, away_since(player, lease_end))
    return Seen(Presence.OFFLINE, player.last_seen_time)


def away_since(player: PlayerEntry, lease_end: float) -> float:
    """When a settled-online player without a live lease went away: their last lease's
    end, or when they came online if no lease is known (lost with a restart)."""
    return lease_end or player.last_seen_time


def due(s: Session, leases: Leases, now: float) -> dict[str, tuple[bool, float]]:
    """The settled changes due at ``now``: player -> (online, when it happened)."""
    grace = s.settings.presence_grace_seconds
    changes: dict[str, tuple[bool, float]] = {}
    for pid, p in s.roster.items():
        end = leases.get(pid, 0.0)
        if end > now and not p.online:
            changes[pid] = (True, now)
        elif end <= now and p.online and away_since(p, end) + grace <= now:
            changes[pid] = (False, away_since(p, end))
    return changes


def next_due(s: Session, leases: Leases, now: float) -> float | None:
    """When the next settled change may fall due without another lease changing (None: never)."""
    times = [
        now if end > now else away_since(p, end) + s.settings.presence_grace_seconds
        for pid, p in s.roster.items()
        if ((end := leases.get(pid, 0.0)) > now) != p.online  # live but settled offline, or the reverse
    ]
    return min(times, default=None)


def settle(changes: Mapping[str, tuple[bool, float]], tiers: TierRules) -> Change[list[str]]:
    """Commit settled presence: player -> (online, when). Skips players whose settled
    state already is so (another replica settled them) or who left. Going OFFLINE hands
    the co-GM role back to the narrator when the session asks for it, and closes an open
    window whose early close counts ONLINE players once everyone left online has chosen.
    Returns the players changed."""

    def change(s: Session, _turn: Turn | None, now: float) -> tuple[Mutation, list[str]]:
        events: list[EventPayload] = []
        changed: list[str] = []
        for pid, (online, when) in changes.items():
            p = s.roster.get(pid)
            if p is None or p.online == online:
                continue
            p.online, p.last_seen_time = online, when
            old, new = (Presence.OFFLINE, Presence.ONLINE) if online else (Presence.ONLINE, Presence.OFFLINE)
            events.append(PresenceChanged(pid, old, new))
            changed.append(pid)
            if not online and s.settings.game_master_handback and s.game_master == pid and not s.state.final:
                s.game_master = ""
                events.append(GameMasterChanged(pid, ""))
        if not events:
            return UNCHANGED, []
        resolved = None
        if (
            s.window is not None
            and s.state is SessionState.ACTIVE
            and s.settings.early_close
            and s.settings.early_close_scope is EarlyCloseScope.ONLINE
            and everyone_chose(s, now, tiers)
        ):
            closed, resolved = close_window(s, now, CloseReason.ALL_CHOSEN)
            events.extend(closed.events)
        return Mutation(events=tuple(events), new_turn=resolved, activity=False), changed

    return change
