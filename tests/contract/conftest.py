"""The store contract runs against every backend: each factory here builds a fresh,
empty store of one kind, configured with small retention so trimming is testable."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from sessiond.store.memory import MemoryStore
from sessiond.store.protocols import SessionStore

HISTORY = 5
EVENT_RETENTION = 20

StoreFactory = Callable[[], Awaitable[SessionStore]]


async def memory_store() -> SessionStore:
    return MemoryStore(history=HISTORY, event_retention=EVENT_RETENTION)


BACKENDS: dict[str, StoreFactory] = {"memory": memory_store}


@pytest.fixture(params=sorted(BACKENDS))
async def store(request: pytest.FixtureRequest) -> AsyncIterator[SessionStore]:
    made = await BACKENDS[request.param]()
    try:
        yield made
    finally:
        await made.close()
