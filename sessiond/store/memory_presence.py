"""Presence leases in this process (the memory store's): the same bookkeeping the Redis
store keeps in a hash per session, with the same due index and replica leases, so the
manager's sweep runs unchanged on both."""

from __future__ import annotations

import math
from collections.abc import Callable, Collection
from dataclasses import dataclass, field

from sessiond.store.protocols import PresenceLeases


@dataclass(slots=True)
class _Replica:
    lease_end: float
    sessions: set[str] = field(default_factory=set)


class LocalPresence:
    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._leases: dict[str, dict[tuple[str, str], float]] = {}  # session -> (replica, player) -> end
        self._due: dict[str, float] = {}  # session -> when to settle it
        self._replicas: dict[str, _Replica] = {}

    def renew(self, batch: PresenceLeases) -> None:
        now = self._clock()
        end = now + batch.lease_seconds
        replica = self._replicas.setdefault(batch.replica, _Replica(end))
        replica.lease_end = end
        for sid, pid in batch.held:
            self._leases.setdefault(sid, {})[(batch.replica, pid)] = end
        for (sid, pid), grace in batch.released.items():
            self._leases.setdefault(sid, {})[(batch.replica, pid)] = now
            self.make_due(sid, now + grace)
        held = {sid for sid, _ in batch.held}
        replica.sessions = held if batch.complete else replica.sessions | held

    def leases(self, session_id: str) -> dict[str, float]:
        ends: dict[str, float] = {}
        for (_, pid), end in self._leases.get(session_id, {}).items():
            ends[pid] = max(end, ends.get(pid, 0.0))
        return ends

    def due(self, until: float, limit: int) -> list[str]:
        for name, replica in list(self._replicas.items()):
            if replica.lease_end <= until:  # it stopped renewing: its leases have ended
                for sid in replica.sessions:
                    self.make_due(sid, replica.lease_end)
                del self._replicas[name]
        return [sid for sid, at in self._due.items() if at <= until][:limit]

    def checked(self, session_id: str, forget: Collection[str], next_check: float | None) -> None:
        now = self._clock()
        leases = self._leases.get(session_id, {})
        for key in [k for k, end in leases.items() if k[1] in forget and end <= now]:
            del leases[key]
        if not leases:
            self._leases.pop(session_id, None)
        if next_check is None:
            self._due.pop(session_id, None)
        else:
            self._due[session_id] = next_check

    def make_due(self, session_id: str, at: float) -> None:
        self._due[session_id] = min(at, self._due.get(session_id, math.inf))
