"""The embedded default store: everything in this process, optionally kept in a snapshot file.

Atomicity comes from asyncio itself: a change runs on a clone of the session with
no await between reading and committing, so no other task can interleave.
Snapshots are written by a forked child (store/snapshot.py), so they never pause serving.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Collection, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

import structlog

from sessiond.core import codec
from sessiond.core.errors import (
    EventsExpired,
    ProfileNotFound,
    SessiondError,
    SessionExists,
    SessionNotFound,
    TooManySessions,
    TurnNotFound,
)
from sessiond.core.events import UnknownEvent
from sessiond.core.guards import check_etag
from sessiond.core.models import Event, Persistence, PlayerProfile, Session, Turn
from sessiond.core.paging import SessionKey, newest_first
from sessiond.periodic import Loops, periodic
from sessiond.store import snapshot
from sessiond.store._bookkeeping import Tally, stamp_commit, stamp_profile
from sessiond.store._keyed_locks import KeyedLocks
from sessiond.store.memory_presence import LocalPresence
from sessiond.store.notices import ChangeNotices
from sessiond.store.protocols import (
    Change,
    DueWindow,
    EventsRead,
    PresenceLeases,
    ProfileChange,
    SessionQuery,
    StoreStats,
    T,
)

log = structlog.get_logger("sessiond")

SNAPSHOT_FORMAT = 1


@dataclass(slots=True)
class _Entry:
    session: Session
    turns: deque[Turn]
    events: deque[Event]
    # Set and replaced on every commit; waiters hold the one current when they started.
    signal: asyncio.Event = field(default_factory=asyncio.Event)
    version: int = 0  # new on every commit: the snapshot writer copies unchanged sessions

    def notify(self) -> None:
        self.signal.set()
        self.signal = asyncio.Event()


class MemoryStore:
    name = "memory"

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.time,
        history: int = 50,
        event_retention: int = 1000,
        request_id_ttl: float = 24 * 3600.0,
        snapshot_path: Path | None = None,
        snapshot_interval: float = 30.0,
    ) -> None:
        """With ``snapshot_path``, ``start`` loads that file and ``close`` writes it, as do
        periodic snapshots every ``snapshot_interval`` seconds in between."""
        self._clock = clock
        self._notices = ChangeNotices()
        self._history = history
        self._event_retention = event_retention
        self._request_id_ttl = request_id_ttl
        self._entries: dict[str, _Entry] = {}
        self._tally = Tally()  # of _entries' sessions: stats without a scan
        self._requests: dict[str, tuple[str, float]] = {}  # request id -> (session id, expiry)
        self._profiles: dict[str, PlayerProfile] = {}
        self._locks = KeyedLocks()
        self._versions = itertools.count(1)
        self._snapshots = snapshot.SnapshotWriter(snapshot_path, self.snapshot_contents) if snapshot_path else None
        self._snapshot_interval = snapshot_interval
        self._loops = Loops("memory-store")
        self._presence = LocalPresence(clock)

    async def now(self) -> float:
        return self._clock()

    def _entry(self, session_id: str) -> _Entry:
        entry = self._entries.get(session_id)
        if entry is None:
            raise SessionNotFound(session_id)
        return entry

    def _new_entry(self, session: Session) -> _Entry:
        entry = _Entry(session, deque(maxlen=self._history), deque(maxlen=self._event_retention))
        entry.version = next(self._versions)
        return entry

    async def create(self, session: Session, request_id: str, max_sessions: int) -> tuple[Session, bool]:
        now = self._clock()
        if request_id:
            known = self._requests.get(request_id)
            if known is not None and known[1] > now and known[0] in self._entries:
                return self._entries[known[0]].session.clone(), False
        if session.session_id in self._entries:
            raise SessionExists(session.session_id)
        if len(self._entries) >= max_sessions:
            raise TooManySessions(f"the server holds its maximum of {max_sessions} sessions; end or delete some")
        self._entries[session.session_id] = self._new_entry(session.clone())
        self._tally.add(session)
        if request_id:
            self._requests[request_id] = (session.session_id, now + self._request_id_ttl)
        return session.clone(), True

    async def get(self, session_id: str) -> Session:
        return self._entry(session_id).session.clone()

    async def find(self, query: SessionQuery, after: SessionKey | None, limit: int) -> tuple[list[Session], int]:
        found = [e.session for e in self._entries.values() if query.matches(e.session)]
        return [s.clone() for s in newest_first(found, after, limit)], len(found)

    async def delete(self, session_id: str, etag: str = "") -> None:
        entry = self._entry(session_id)
        check_etag(entry.session, etag)
        del self._entries[session_id]
        self._tally.remove(entry.session)
        entry.notify()
        self._notices.notify((session_id,))

    async def evict(self, session_id: str, etag: str = "") -> None:
        await self.delete(session_id, etag)  # nothing durable to keep

    async def mutate(
        self, session_id: str, change: Change[T], *, turn_number: int | None = None
    ) -> tuple[Session, T]:
        return self._mutate(session_id, change, turn_number)

    async def mutate_many(self, changes: Sequence[tuple[str, Change[T]]]) -> list[tuple[Session, T] | SessiondError]:
        """One pass, no await in between: the batch commits as one step of the event loop."""
        outcomes: list[tuple[Session, T] | SessiondError] = []
        for session_id, change in changes:
            try:
                outcomes.append(self._mutate(session_id, change, None))
            except SessiondError as exc:
                outcomes.append(exc)
        return outcomes

    def _mutate(self, session_id: str, change: Change[T], turn_number: int | None) -> tuple[Session, T]:
        entry = self._entry(session_id)
        now = self._clock()
        session = entry.session.clone()
        turn = None
        if turn_number is not None:
            turn = _find_turn(entry, turn_number)
            turn = replace(turn, choices=list(turn.choices), tally=list(turn.tally))
        mutation, result = change(session, turn, now)
        if not mutation.changed:
            return entry.session.clone(), result
        entry.events.extend(stamp_commit(session, mutation, now))
        if mutation.new_turn is not None:
            entry.turns.append(mutation.new_turn)
        if mutation.updated_turn is not None:
            index = entry.turns.index(_find_turn(entry, mutation.updated_turn.turn_number))
            entry.turns[index] = mutation.updated_turn
        self._tally.replace(entry.session, session)
        entry.session = session
        entry.version = next(self._versions)
        entry.notify()
        if mutation.events:
            self._notices.notify((session_id,))
        return session.clone(), result

    async def turns(self, session_id: str, before: int | None, limit: int) -> list[Turn]:
        found = [t for t in reversed(self._entry(session_id).turns) if before is None or t.turn_number < before]
        return found[: max(0, limit)]

    async def events_after(self, session_id: str, after_id: int, limit: int) -> list[Event]:
        entry = self._entry(session_id)
        if not entry.events or after_id >= entry.events[-1].event_id:
            return []
        oldest = entry.events[0].event_id
        if after_id < oldest - 1:
            raise EventsExpired(session_id, after_id, oldest)
        start = after_id - oldest + 1  # ids are consecutive within the ring
        return [entry.events[i] for i in range(start, min(len(entry.events), start + limit))]

    async def events_after_many(self, after: Mapping[str, int], limit: int) -> dict[str, EventsRead]:
        found: dict[str, EventsRead] = {}
        for session_id, after_id in after.items():
            try:
                found[session_id] = await self.events_after(session_id, after_id, limit)
            except (SessionNotFound, EventsExpired) as exc:
                found[session_id] = exc
        return found

    async def wait_events(self, session_id: str, after_id: int, block_seconds: float) -> list[Event]:
        entry = self._entry(session_id)
        signal = entry.signal
        found = await self.events_after(session_id, after_id, 1000)
        if found:
            return found
        try:
            async with asyncio.timeout(block_seconds):
                await signal.wait()
        except TimeoutError:
            return []
        return await self.events_after(session_id, after_id, 1000)

    def changed_sessions(self) -> AsyncIterator[set[str] | None]:
        return self._notices.listen()

    async def windows_due(self, until: float) -> list[DueWindow]:
        return [
            DueWindow(e.session.session_id, w.turn_number, w.deadline)
            for e in self._entries.values()
            if (w := e.session.window) is not None and w.deadline <= until
        ]

    async def sessions_idle(self, until: float, limit: int) -> list[str]:
        idle = [sid for sid, e in self._entries.items() if e.session.expire_time <= until]
        return idle[:limit]

    async def stats(self) -> StoreStats:
        return self._tally.stats()

    async def renew_presence(self, leases: PresenceLeases) -> None:
        self._presence.renew(leases)

    async def presence_leases(self, session_id: str) -> dict[str, float]:
        return self._presence.leases(session_id)

    async def presence_due(self, until: float, limit: int) -> list[str]:
        return self._presence.due(until, limit)

    async def presence_checked(self, session_id: str, forget: Collection[str], next_check: float | None) -> None:
        self._presence.checked(session_id, forget, next_check)

    async def get_profile(self, player_id: str) -> PlayerProfile:
        profile = await self.find_profile(player_id)
        if profile is None:
            raise ProfileNotFound(player_id)
        return profile

    async def find_profile(self, player_id: str) -> PlayerProfile | None:
        profile = self._profiles.get(player_id)
        return _copy_profile(profile) if profile is not None else None

    async def mutate_profile(self, player_id: str, change: ProfileChange) -> PlayerProfile:
        now = self._clock()
        stored = self._profiles.get(player_id)
        updated = _copy_profile(change(_copy_profile(stored) if stored else None))
        stamp_profile(updated, player_id, stored, now)
        self._profiles[player_id] = updated
        return _copy_profile(updated)

    def lock(self, name: str) -> AbstractAsyncContextManager[None]:
        return self._locks.hold(name)

    async def ping(self) -> None:
        return None

    async def start(self) -> None:
        """Load the snapshot file, if any, then write one every ``snapshot_interval``."""
        if self._snapshots is None:
            return
        data = snapshot.read(self._snapshots.path)
        if data is not None:
            count = self.load(data)
            versions = {sid: e.version for sid, e in self._entries.items()}
            self._snapshots.adopt(str(data.get("id", "")), versions)
            log.info("snapshot loaded", path=str(self._snapshots.path), sessions=count)
        periodic_save = partial(self.save_snapshot, background=True)
        self._loops.start({"snapshots": periodic(self._snapshot_interval, periodic_save, "snapshot")})

    async def close(self) -> None:
        """Stop the periodic snapshots and write the last one."""
        await self._loops.stop()
        if self._snapshots is not None:
            await self.save_snapshot()

    async def save_snapshot(self, *, background: bool = False) -> None:
        """Write a snapshot now (``background``: see `snapshot.SnapshotWriter.save`)."""
        if self._snapshots is not None:
            size = await self._snapshots.save(background=background)
            log.info("snapshot written", path=str(self._snapshots.path), bytes=size)

    # Snapshots: built in the snapshot writer's child. Records stay dataclasses:
    # snapshot.encode writes them field by field (asdict's deep copies would make a
    # snapshot of 100,000 sessions take minutes).

    def snapshot_contents(self) -> snapshot.Contents:
        now = self._clock()
        header = {
            "format": SNAPSHOT_FORMAT,
            "taken_at": now,
            "requests": {rid: list(v) for rid, v in self._requests.items() if v[1] > now},
            "profiles": list(self._profiles.values()),
        }
        return snapshot.Contents(header, ((sid, e.version, partial(_record, e)) for sid, e in self._entries.items()))

    def dump(self) -> dict[str, Any]:
        """The whole store as one dict for ``snapshot.encode``."""
        contents = self.snapshot_contents()
        return {**contents.header, "sessions": [record() for _, _, record in contents.sessions]}

    def load(self, data: dict[str, Any]) -> int:
        """Replace the contents with a dump; returns the number of sessions loaded."""
        if data.get("format") != SNAPSHOT_FORMAT:
            raise ValueError(f"unknown snapshot format {data.get('format')!r}")
        self._entries.clear()
        for item in data["sessions"]:
            entry = self._new_entry(codec.session_from_dict(item["session"], legacy=Persistence.EPHEMERAL))
            entry.turns.extend(codec.turn_from_dict(t) for t in item["turns"])
            entry.events.extend(codec.event_from_dict(ev) for ev in item["events"])
            self._entries[entry.session.session_id] = entry
            if any(p.online for p in entry.session.roster.values()):
                # Their leases died with the process that held them: settle them again.
                self._presence.make_due(entry.session.session_id, 0.0)
        self._tally = Tally.of(e.session for e in self._entries.values())
        self._requests = {rid: (v[0], float(v[1])) for rid, v in data.get("requests", {}).items()}
        profiles = (codec.profile_from_dict(p) for p in data.get("profiles", []))
        self._profiles = {p.player_id: p for p in profiles}
        return len(self._entries)


def _record(e: _Entry) -> dict[str, Any]:
    return {"session": e.session, "turns": list(e.turns), "events": [_stored_event(ev) for ev in e.events]}


def _stored_event(ev: Event) -> dict[str, Any]:
    """``codec.event_to_dict(ev)`` for snapshot.write: a known kind's fields are its stored data."""
    payload = ev.payload
    data = payload.data if isinstance(payload, UnknownEvent) else payload
    return {"event_id": ev.event_id, "session_id": ev.session_id, "time": ev.time, "kind": ev.kind, "data": data}


def _copy_profile(p: PlayerProfile) -> PlayerProfile:
    return codec.profile_from_dict(codec.profile_to_dict(p))


def _find_turn(entry: _Entry, turn_number: int) -> Turn:
    for turn in entry.turns:
        if turn.turn_number == turn_number:
            return turn
    raise TurnNotFound(entry.session.session_id, turn_number)
