from __future__ import annotations

import pytest

from sessiond.manager.manager_config import ManagerConfig
from sessiond.manager.sessions import SessionManager
from sessiond.store.memory import MemoryStore
from tests.support import FakeClock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(clock: FakeClock) -> MemoryStore:
    return MemoryStore(clock=clock)


@pytest.fixture
def manager(store: MemoryStore, clock: FakeClock) -> SessionManager:
    """A manager that is not started: no timers; tests close windows with sweep()."""
    return SessionManager(store, ManagerConfig(max_sessions=5), wall_clock=clock)
