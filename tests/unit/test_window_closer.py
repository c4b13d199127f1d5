"""The window closer's timer: windows due together close together, in one store batch."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from sessiond.core.errors import SessiondError
from sessiond.core.models import Session, Window
from sessiond.manager.windows import BATCH, WindowCloser
from sessiond.store.memory import MemoryStore
from sessiond.store.protocols import Change, T
from tests.support import make_session

WINDOWS = 120
DUE_IN = 0.3  # seconds: every window gets the same deadline, this far ahead


class BatchLog(MemoryStore):
    """The memory store, noting the size of every batch and every single mutate."""

    def __init__(self) -> None:
        super().__init__()
        self.batches: list[int] = []

    async def mutate_many(self, changes: Sequence[tuple[str, Change[T]]]) -> list[tuple[Session, T] | SessiondError]:
        self.batches.append(len(changes))
        return await super().mutate_many(changes)


async def test_windows_due_in_the_same_instant_close_in_one_batch_each_once() -> None:
    store = BatchLog()
    now = await store.now()
    ids = [f"s{i:03}" for i in range(WINDOWS)]
    for session_id in ids:
        session = make_session(session_id, now)
        session.window = Window(1, now, now + DUE_IN, "p1")
        await store.create(session, "", 1000)
    closed = 0
    all_closed = asyncio.Event()

    def heard(_lag: float) -> None:
        nonlocal closed
        closed += 1
        if closed == WINDOWS:
            all_closed.set()

    closer = WindowCloser(store, sweep_interval=3600.0, on_close_lag=heard)
    await closer.start()
    try:
        for session_id in ids:  # what a SubmitChoice of this replica would ask again: no second timer
            closer.schedule(session_id, 1, DUE_IN)
        await asyncio.wait_for(all_closed.wait(), 10)
    finally:
        await closer.stop()
    assert WINDOWS <= BATCH and store.batches == [WINDOWS]
    for session_id in ids:
        session = await store.get(session_id)
        assert session.window is None and session.turn_number == 2
        assert [e.kind for e in await store.events_after(session_id, 0, 10)] == ["turn_resolved"]


async def test_a_timer_that_fires_before_the_store_deadline_closes_the_window_when_due() -> None:
    """The store's clock decides (replicas share it): a timer early by it waits what is left."""
    store = MemoryStore()
    lags: list[float] = []
    done = asyncio.Event()

    def heard(lag: float) -> None:
        lags.append(lag)
        done.set()

    closer = WindowCloser(store, sweep_interval=3600.0, on_close_lag=heard)
    await closer.start()
    try:
        now = await store.now()
        session = make_session("s1", now)
        session.window = Window(1, now, now + 0.1, "p1")
        await store.create(session, "", 10)
        closer.schedule("s1", 1, 0.0)  # early: the store finds the window open, not due
        await asyncio.wait_for(done.wait(), 5)
    finally:
        await closer.stop()
    assert (await store.get("s1")).turn_number == 2 and len(lags) == 1


class OneBadRecord(MemoryStore):
    """A store that fails (not with a domain error) on every change of one session."""

    def _mutate(self, session_id: str, change: Change[T], turn_number: int | None) -> tuple[Session, T]:
        if session_id == "bad":
            raise ValueError("a record this version cannot read")
        return super()._mutate(session_id, change, turn_number)


async def test_a_window_whose_close_fails_unexpectedly_does_not_hold_back_its_batch() -> None:
    store = OneBadRecord()
    now = await store.now()
    for session_id in ("a", "bad", "b"):
        session = make_session(session_id, now)
        session.window = Window(1, now - 2, now - 1, "p1")
        await store.create(session, "", 10)
    closer = WindowCloser(store, sweep_interval=3600.0)
    assert await closer.close_many([("a", 1), ("bad", 1), ("b", 1)]) == [None, None, None]
    assert [(await store.get(s)).turn_number for s in ("a", "bad", "b")] == [2, 1, 2]
