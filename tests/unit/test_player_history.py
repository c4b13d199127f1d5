"""A player's history: the sessions a store holds, merged with a durable store's archive."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import pytest

from sessiond.core.errors import Unavailable
from sessiond.core.lifecycle import join
from sessiond.core.models import Session
from sessiond.manager.player_history import PlayerHistory
from sessiond.store.memory import MemoryStore
from tests.support import FakeClock, make_session


@dataclass
class Archive:
    """A PlayerArchive answering from fixed lists (companions None: it cannot answer now)."""

    sessions: list[Session] = field(default_factory=list)
    companions: list[tuple[str, str, int]] | None = None

    async def archived_sessions(self, player_id: str, limit: int) -> list[Session]:
        return self.sessions[:limit]

    async def archived_companions(self, player_id: str, limit: int) -> list[tuple[str, str, int]]:
        if self.companions is None:
            raise Unavailable("the archive is away")
        return self.companions


async def held_store() -> tuple[MemoryStore, Session]:
    clock = FakeClock(1000.0)
    store = MemoryStore(clock=clock)
    await store.create(make_session("s1", clock()), "", 10)
    for pid, name in (("ann", "Ann"), ("bob", "Bob")):
        clock.advance(1)
        held, _ = await store.mutate("s1", join(pid, name))
    return store, held


async def test_of_a_session_both_know_the_newer_revision_wins_and_cold_ones_are_added() -> None:
    store, held = await held_store()
    stale = replace(held.clone(), revision=held.revision - 1, title="old")
    cold = replace(make_session("s0", 900.0), update_time=900.0)
    found = await PlayerHistory(store, Archive([stale, cold])).player_sessions("ann", 10)
    assert [(s.session_id, s.revision) for s in found] == [("s1", held.revision), ("s0", cold.revision)]
    assert await PlayerHistory(store, Archive([stale, cold])).player_sessions("ann", 1) == [held]


async def test_companions_come_from_the_archive_if_any_else_from_the_held_sessions() -> None:
    store, _ = await held_store()
    assert await PlayerHistory(store, Archive(companions=[("cy", "Cy", 4)])).companions("ann", 10) == [("cy", "Cy", 4)]
    assert await PlayerHistory(store).companions("ann", 10) == [("bob", "Bob", 1)]


async def test_an_archive_that_cannot_answer_is_unavailable_not_a_partial_answer() -> None:
    store, _ = await held_store()
    with pytest.raises(Unavailable):
        await PlayerHistory(store, Archive()).companions("ann", 10)
