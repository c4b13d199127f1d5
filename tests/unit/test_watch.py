"""The watch loop: snapshot, replay, live events, slow watchers, deletion."""

from __future__ import annotations

import asyncio

import pytest

from sessiond.core.errors import InvalidInput, SessionNotFound, Unavailable
from sessiond.core.lifecycle import SessionSpec
from sessiond.core.models import Event
from sessiond.manager.manager_config import ManagerConfig
from sessiond.manager.sessions import SessionManager, WatchStart
from sessiond.store.memory import MemoryStore


@pytest.fixture
def small_queue_manager() -> SessionManager:
    return SessionManager(MemoryStore(), ManagerConfig(watch_queue_size=3))


async def test_a_watcher_that_falls_behind_is_cut_with_its_resume_point(small_queue_manager: SessionManager) -> None:
    m = small_queue_manager
    await m.create_session(SessionSpec(), "s1", "")
    stream = m.watch("s1", None, ticks=False)
    first = await anext(stream)
    assert isinstance(first, WatchStart)
    reader = asyncio.create_task(anext(stream))
    await asyncio.sleep(0)  # the watch goes live: it now waits for the hub
    await m.update_session_state("s1", {"i": -1}, None)
    received = [await asyncio.wait_for(reader, 5.0)]  # its consumer then stalls
    for i in range(10):
        await m.update_session_state("s1", {"i": i}, None)
    with pytest.raises(Unavailable, match=r"fell too far behind; reconnect with after_event_id=\d+") as err:
        while True:
            received.append(await asyncio.wait_for(anext(stream), 5.0))
    last = received[-1]
    assert isinstance(last, Event)
    assert f"after_event_id={last.event_id}" in err.value.message
    assert m.hub.watchers == 0


async def test_deleting_a_watched_session_ends_the_watch_not_found(small_queue_manager: SessionManager) -> None:
    m = small_queue_manager
    await m.create_session(SessionSpec(), "s1", "")
    stream = m.watch("s1", 0, ticks=False)
    waiting = asyncio.create_task(anext(stream))
    await asyncio.sleep(0.01)
    await m.delete_session("s1", "")
    with pytest.raises(SessionNotFound):
        await asyncio.wait_for(waiting, 5.0)


async def test_a_resume_point_ahead_of_the_session_is_refused(small_queue_manager: SessionManager) -> None:
    m = small_queue_manager
    await m.create_session(SessionSpec(), "s1", "")
    with pytest.raises(InvalidInput, match="after_event_id"):
        await anext(m.watch("s1", 5, ticks=False))
