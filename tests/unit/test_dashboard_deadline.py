"""The dashboard answers with what is ready when the caller's deadline is near."""

from __future__ import annotations

import asyncio

from sessiond.core.models import PlayerProfile
from sessiond.core.paging import SessionKey
from sessiond.manager.manager_config import ManagerConfig
from sessiond.manager.players import PlayerManager
from sessiond.store.memory import MemoryStore
from sessiond.store.protocols import SessionQuery


class StalledSessionSearch(MemoryStore):
    """A memory store whose session search never finishes: a stand-in for a slow part."""

    async def find(self, query: SessionQuery, after: SessionKey | None, limit: int) -> tuple[list, int]:  # type: ignore[type-arg]
        await asyncio.Event().wait()
        raise AssertionError("unreachable")


async def test_a_slow_part_is_left_out_and_named_not_failed() -> None:
    store = StalledSessionSearch()
    await store.mutate_profile("ann", lambda _old: PlayerProfile("ann", "Ann"))
    board = await asyncio.wait_for(PlayerManager(store, ManagerConfig()).dashboard("ann", 0, budget=0.3), 5.0)
    assert board.profile is not None and board.profile.display_name == "Ann"
    assert board.incomplete == ["sessions", "companions"]
    assert board.recent == [] and board.companions == []


async def test_without_a_deadline_everything_is_waited_for() -> None:
    store = MemoryStore()
    board = await PlayerManager(store, ManagerConfig()).dashboard("ann", 0, budget=None)
    assert board.incomplete == [] and board.profile is None
