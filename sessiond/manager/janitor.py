"""Expires sessions idle past their TTL, then frees them after a retention period."""

from __future__ import annotations

import structlog

from sessiond.core.errors import SessiondError, SessionNotFound
from sessiond.core.lifecycle import expire
from sessiond.periodic import Loops, periodic
from sessiond.store.protocols import SessionStore

log = structlog.get_logger(__name__)

BATCH = 500


class Janitor:
    def __init__(self, store: SessionStore, interval: float, retention: float) -> None:
        self._store = store
        self._interval = interval
        self._retention = retention
        self._loops = Loops("janitor")

    async def start(self) -> None:
        self._loops.start({"janitor": periodic(self._interval, self.run_once, "janitor pass")})

    async def stop(self) -> None:
        await self._loops.stop()

    async def run_once(self) -> tuple[int, int]:
        """One pass: returns (sessions expired, sessions freed)."""
        now = await self._store.now()
        expired = freed = 0
        for session_id in await self._store.sessions_idle(now, BATCH):
            try:
                before = await self._store.get(session_id)
                if not before.state.final:
                    after, _ = await self._store.mutate(session_id, expire)
                    expired += after.revision != before.revision
                elif before.expire_time + self._retention <= now:
                    await self._store.evict(session_id, before.etag)
                    freed += 1
            except SessionNotFound:
                continue
            except SessiondError as exc:  # a concurrent change (stale etag): next pass
                log.info("janitor skipped a session", session_id=session_id, reason=exc.message)
        if expired or freed:
            log.info("janitor pass", expired=expired, freed=freed)
        return expired, freed
