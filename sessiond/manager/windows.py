"""Closes choice windows at their deadline: a local timer per open window for
precision, a periodic sweep of the store's deadline index for safety (windows opened
by another replica, or before a restart). The store's guarded close decides; running
it twice is harmless."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

import structlog

from sessiond.core.errors import SessiondError, SessionNotFound
from sessiond.core.models import Mutation, Session, Turn
from sessiond.core.window import close_if_due
from sessiond.periodic import Loops, periodic
from sessiond.store.protocols import SessionStore

log = structlog.get_logger(__name__)

# A timer may fire a hair before the store's clock reaches the deadline.
EARLY_FIRE_RETRIES = 5


class WindowCloser:
    def __init__(
        self,
        store: SessionStore,
        sweep_interval: float,
        on_close_lag: Callable[[float], None] | None = None,
    ) -> None:
        """``on_close_lag`` hears, for each window this replica closed at its deadline,
        how late the close committed (seconds after the deadline, by the store's clock)."""
        self._store = store
        self._sweep_interval = sweep_interval
        self._on_close_lag = on_close_lag
        self._timers: dict[tuple[str, int], asyncio.Task[None]] = {}
        self._sweeper = Loops("window-closer")

    @property
    def running(self) -> bool:
        return self._sweeper.running

    async def start(self) -> None:
        """Schedule every window the store has open (closing overdue ones now), then sweep."""
        self._sweeper.start({"window-sweep": periodic(self._sweep_interval, self.sweep, "window sweep")})
        try:
            now = await self._store.now()
            due_windows = await self._store.windows_due(float("inf"))
        except SessiondError as exc:  # the store is down: the sweep closes them once it is back
            log.warning("open windows not scheduled at start", error=exc.message)
            return
        for due in due_windows:
            self.schedule(due.session_id, due.turn_number, max(0.0, due.deadline - now))

    async def stop(self) -> None:
        await self._sweeper.stop()
        tasks = list(self._timers.values())
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._timers.clear()

    def schedule(self, session_id: str, turn_number: int, delay: float) -> None:
        """Close the window of ``turn_number`` after ``delay`` seconds (once per window)."""
        key = (session_id, turn_number)
        if not self.running or key in self._timers:
            return  # not started (unit tests drive sweep() by hand), or already timed
        self._timers[key] = asyncio.create_task(self._close_later(key, delay), name=f"close-{session_id}-{turn_number}")

    async def _close_later(self, key: tuple[str, int], delay: float) -> None:
        try:
            await asyncio.sleep(delay)
            for _ in range(EARLY_FIRE_RETRIES):
                wait = await self.close(*key)
                if wait is None:
                    return
                await asyncio.sleep(wait)
        finally:
            self._timers.pop(key, None)

    async def close(self, session_id: str, turn_number: int) -> float | None:
        """Run the guarded close. Returns seconds to wait if the window is open but not
        yet due by the store's clock, else None."""
        deadline = 0.0
        close = close_if_due(turn_number)

        def change(s: Session, t: Turn | None, now: float) -> tuple[Mutation, Turn | None]:
            nonlocal deadline
            deadline = s.window.deadline if s.window is not None else 0.0
            return close(s, t, now)

        try:
            session, turn = await self._store.mutate(session_id, change)
        except SessionNotFound:
            return None
        except SessiondError as exc:
            log.warning("window close failed", session_id=session_id, turn=turn_number, error=exc.message)
            return None
        if turn is not None:
            if self._on_close_lag is not None:
                self._on_close_lag(max(0.0, turn.resolve_time - deadline))
            return None
        window = session.window
        if window is not None and window.turn_number == turn_number:
            return max(0.001, window.deadline - await self._store.now())
        return None

    async def sweep(self) -> int:
        """Try to close every overdue window once; returns how many are overdue."""
        now = await self._store.now()
        overdue = await self._store.windows_due(now)
        for due in overdue:
            await self.close(due.session_id, due.turn_number)
        return len(overdue)
