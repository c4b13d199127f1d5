"""Closes choice windows at their deadline: a local timer for precision, a periodic sweep
of the store's deadline index for safety (windows opened by another replica, or before a
restart). Windows due together close together, in one batch of the store
(``mutate_many``). The store's guarded close decides; running it twice is harmless."""

from __future__ import annotations

import asyncio
import contextlib
import heapq
from collections.abc import Callable, Sequence

import structlog

from sessiond.core.errors import SessiondError, SessionNotFound
from sessiond.core.models import Change, Mutation, Session, Turn
from sessiond.core.window import close_if_due
from sessiond.periodic import Loops, periodic
from sessiond.store.protocols import SessionStore

log = structlog.get_logger(__name__)

# A timer may fire a hair before the store's clock reaches the deadline.
EARLY_FIRE_RETRIES = 5
BATCH = 500  # windows closed in one store batch at most

WindowKey = tuple[str, int]  # session id, turn number


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
        # One timer for every window: a heap of (loop time due, session id, turn, attempt),
        # and the due time of each window it holds.
        self._heap: list[tuple[float, str, int, int]] = []
        self._due: dict[WindowKey, float] = {}
        self._wake = asyncio.Event()
        self._loops = Loops("window-closer")

    @property
    def running(self) -> bool:
        return self._loops.running

    async def start(self) -> None:
        """Schedule every window the store has open (closing overdue ones now), then sweep."""
        self._loops.start(
            {
                "window-timers": self._fire(),
                "window-sweep": periodic(self._sweep_interval, self.sweep, "window sweep"),
            }
        )
        try:
            now = await self._store.now()
            due_windows = await self._store.windows_due(float("inf"))
        except SessiondError as exc:  # the store is down: the sweep closes them once it is back
            log.warning("open windows not scheduled at start", error=exc.message)
            return
        # One origin for all: windows with one deadline get one due time, so one batch.
        origin = asyncio.get_running_loop().time()
        for due in due_windows:
            if (due.session_id, due.turn_number) not in self._due:
                self._push(due.session_id, due.turn_number, origin + max(0.0, due.deadline - now), 0)

    async def stop(self) -> None:
        await self._loops.stop()
        self._heap.clear()
        self._due.clear()

    def schedule(self, session_id: str, turn_number: int, delay: float) -> None:
        """Close the window of ``turn_number`` after ``delay`` seconds (once per window)."""
        if not self.running or (session_id, turn_number) in self._due:
            return  # not started (unit tests drive sweep() by hand), or already timed
        self._push(session_id, turn_number, asyncio.get_running_loop().time() + delay, 0)

    def _push(self, session_id: str, turn_number: int, due: float, attempt: int) -> None:
        """Time the window for ``due`` (the event loop's clock)."""
        self._due[session_id, turn_number] = due
        heapq.heappush(self._heap, (due, session_id, turn_number, attempt))
        if self._heap[0][0] == due:
            self._wake.set()  # the timer now has an earlier window to wait for

    async def _fire(self) -> None:
        """The one timer: sleeps until the earliest window is due, then closes every
        window due by then in one batch (more than BATCH: several, one after the other)."""
        loop = asyncio.get_running_loop()
        while True:
            self._wake.clear()
            if not self._heap:
                await self._wake.wait()
                continue
            if self._heap[0][0] > loop.time():
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout_at(self._heap[0][0]):
                        await self._wake.wait()
                continue
            now = loop.time()
            batch: list[tuple[str, int, int]] = []
            while self._heap and self._heap[0][0] <= now and len(batch) < BATCH:
                _, session_id, turn_number, attempt = heapq.heappop(self._heap)
                batch.append((session_id, turn_number, attempt))
            waits = await self.close_many([(s, t) for s, t, _ in batch])
            for (session_id, turn_number, attempt), wait in zip(batch, waits, strict=True):
                if wait is not None and attempt + 1 < EARLY_FIRE_RETRIES:
                    self._push(session_id, turn_number, loop.time() + wait, attempt + 1)
                else:
                    del self._due[session_id, turn_number]

    async def close(self, session_id: str, turn_number: int) -> float | None:
        """Run the guarded close of one window (see ``close_many``)."""
        (wait,) = await self.close_many([(session_id, turn_number)])
        return wait

    async def close_many(self, windows: Sequence[WindowKey]) -> list[float | None]:
        """Run the guarded close of each window, all in one store batch. Per window: the
        seconds to wait if it is open but not yet due by the store's clock, else None."""
        deadlines: dict[WindowKey, float] = {}

        def closing(key: WindowKey) -> Change[Turn | None]:
            close = close_if_due(key[1])

            def change(s: Session, t: Turn | None, now: float) -> tuple[Mutation, Turn | None]:
                deadlines[key] = s.window.deadline if s.window is not None else 0.0
                return close(s, t, now)

            return change

        try:
            outcomes = await self._store.mutate_many([(key[0], closing(key)) for key in windows])
        except SessiondError as exc:  # the store is down: the sweep closes them once it is back
            log.warning("window close failed", windows=len(windows), error=exc.message)
            return [None] * len(windows)
        except Exception:  # a bug, or a record this version cannot read: only its window may stay open
            if len(windows) > 1:
                return [wait for key in windows for wait in await self.close_many([key])]
            log.exception("window close failed", session_id=windows[0][0], turn=windows[0][1])
            return [None]
        waits: list[float | None] = []
        now: float | None = None
        for key, outcome in zip(windows, outcomes, strict=True):
            wait = None
            if isinstance(outcome, SessiondError):
                if not isinstance(outcome, SessionNotFound):
                    log.warning("window close failed", session_id=key[0], turn=key[1], error=outcome.message)
            elif (turn := outcome[1]) is not None:
                if self._on_close_lag is not None:
                    self._on_close_lag(max(0.0, turn.resolve_time - deadlines[key]))
            elif (window := outcome[0].window) is not None and window.turn_number == key[1]:
                now = now if now is not None else await self._store.now()
                wait = max(0.001, window.deadline - now)
            waits.append(wait)
        return waits

    async def sweep(self) -> int:
        """Try to close every overdue window once, but those the timer holds (it closes
        them; a backlog must not be closed twice over); returns how many are overdue."""
        now = await self._store.now()
        overdue = await self._store.windows_due(now)
        windows = [(due.session_id, due.turn_number) for due in overdue]
        orphans = [key for key in windows if key not in self._due]
        for start in range(0, len(orphans), BATCH):
            await self.close_many(orphans[start : start + BATCH])
        return len(overdue)
