"""What every backend shares (store/_bookkeeping, _keyed_locks, _backoff), on its own."""

from __future__ import annotations

import asyncio

from sessiond.core.events import PlayerLeft
from sessiond.core.models import Mutation, PlayerProfile
from sessiond.store._backoff import backoff_delay
from sessiond.store._bookkeeping import stamp_commit, stamp_profile
from sessiond.store._keyed_locks import KeyedLocks
from tests.support import make_session


async def test_holders_of_one_key_queue_other_keys_do_not_and_released_keys_are_forgotten() -> None:
    locks = KeyedLocks()
    order: list[str] = []
    first_in = asyncio.Event()
    release = asyncio.Event()

    async def holder(key: str, name: str) -> None:
        async with locks.hold(key):
            order.append(name)
            if name == "a1":
                first_in.set()
                await release.wait()

    a1 = asyncio.create_task(holder("a", "a1"))
    await first_in.wait()
    a2 = asyncio.create_task(holder("a", "a2"))
    await holder("b", "b1")  # another key: does not wait for a1
    assert order == ["a1", "b1"] and len(locks) == 1
    release.set()
    await asyncio.gather(a1, a2)
    assert order == ["a1", "b1", "a2"] and len(locks) == 0


def test_a_commit_stamps_revision_times_and_consecutive_event_ids() -> None:
    session = make_session("s1", 100.0)
    session.last_event_id, revision = 4, session.revision
    events = stamp_commit(session, Mutation(events=(PlayerLeft("p1"), PlayerLeft("p2")), activity=False), 150.0)
    assert [e.event_id for e in events] == [5, 6] and session.last_event_id == 6
    assert session.revision == revision + 1 and session.update_time == 150.0
    assert session.last_activity_time == 100.0  # not a caller's change: the idle clock keeps running
    stamp_commit(session, Mutation(), 160.0)
    assert session.last_activity_time == 160.0


def test_a_profile_keeps_its_create_time_and_counts_revisions() -> None:
    first = PlayerProfile("x")
    stamp_profile(first, "ann", None, 10.0)
    assert (first.player_id, first.create_time, first.update_time, first.revision) == ("ann", 10.0, 10.0, 1)
    second = PlayerProfile("ann", "Ann")
    stamp_profile(second, "ann", first, 20.0)
    assert (second.create_time, second.update_time, second.revision) == (10.0, 20.0, 2)


def test_backoff_grows_to_its_cap_within_its_jitter() -> None:
    for attempt, ceiling in ((0, 0.1), (1, 0.2), (2, 0.4), (3, 0.5), (200, 0.5)):
        delay = backoff_delay(attempt, first=0.1, cap=0.5, jitter=0.5)
        assert ceiling * 0.5 <= delay <= ceiling
