"""What every SessionStore does with a session's persistence (DURABLE or EPHEMERAL).

A store keeps the kind a session was created with through every change, counts and
filters sessions by it, and lets an EPHEMERAL session go for good when it frees it: only
a store with a graph brings back a freed DURABLE session. (Which kinds a store may be
asked for is the manager's rule: tests/e2e/test_persistence.py.)
"""

from __future__ import annotations

import asyncio
import time

import pytest

from sessiond.core.errors import SessionNotFound
from sessiond.core.models import Persistence
from sessiond.store.protocols import SessionQuery, SessionStore
from tests.contract.conftest import WHOLE_HISTORY
from tests.contract.test_store_contract import bump, created

DURABLE, EPHEMERAL = Persistence.DURABLE, Persistence.EPHEMERAL
CATCH_UP = 60.0  # seconds the projection may take (a bound, not a latency figure)


def has_graph(store: SessionStore) -> bool:
    return store.name in WHOLE_HISTORY


async def projected(store: SessionStore) -> None:
    """Returns once the store has no fact waiting for its graph."""
    deadline = time.monotonic() + CATCH_UP
    while (await store.stats()).outbox_pending:
        assert time.monotonic() < deadline, "the projection did not catch up"
        await asyncio.sleep(0.02)


@pytest.mark.parametrize("kind", list(Persistence))
async def test_a_session_keeps_its_persistence_through_every_change(store: SessionStore, kind: Persistence) -> None:
    made = await created(store, "s1", persistence=kind)
    assert made.settings.persistence is kind
    changed, _ = await store.mutate("s1", bump())
    assert changed.settings.persistence is kind
    assert (await store.get("s1")).settings.persistence is kind


async def test_stats_count_sessions_by_persistence_and_find_filters_by_it(store: SessionStore) -> None:
    await created(store, "d1", persistence=DURABLE)
    await created(store, "e1", persistence=EPHEMERAL)
    await created(store, "e2", persistence=EPHEMERAL)

    assert (await store.stats()).sessions_by_persistence == {DURABLE: 1, EPHEMERAL: 2}
    ephemeral, total = await store.find(SessionQuery(persistence=EPHEMERAL), None, 10)
    assert sorted(s.session_id for s in ephemeral) == ["e1", "e2"] and total == 2
    durable, total = await store.find(SessionQuery(persistence=DURABLE), None, 10)
    assert [s.session_id for s in durable] == ["d1"] and total == 1


async def test_a_freed_ephemeral_session_is_gone_and_its_id_free_again(store: SessionStore) -> None:
    await created(store, "s1", persistence=EPHEMERAL)
    await store.mutate("s1", bump())
    await projected(store)
    await store.evict("s1")  # what the janitor does once a session's time is up

    with pytest.raises(SessionNotFound):
        await store.get("s1")
    again = await created(store, "s1", persistence=EPHEMERAL)
    assert again.session_state == {} and again.revision == 1


async def test_a_freed_durable_session_comes_back_only_where_a_graph_keeps_it(store: SessionStore) -> None:
    await created(store, "s1", persistence=DURABLE)
    bumped, _ = await store.mutate("s1", bump())
    await projected(store)
    await store.evict("s1")

    if has_graph(store):
        back = await store.get("s1")
        assert back.session_state == bumped.session_state and back.settings.persistence is DURABLE
    else:
        with pytest.raises(SessionNotFound):
            await store.get("s1")
