"""The presence-lease operations of the store contract (see protocols.PresenceLeases),
on every backend. Times are asked of the store (``until`` in the future), never slept for."""

from __future__ import annotations

import pytest

from sessiond.core import presence
from sessiond.core.events import PresenceChanged
from sessiond.core.lifecycle import join
from sessiond.core.models import Presence
from sessiond.core.tiers import TierRules
from sessiond.store.protocols import PresenceLeases, SessionStore
from tests.contract.test_store_contract import created

LEASE = 10.0
GRACE = 5.0


async def test_held_leases_end_a_lease_from_now_and_the_latest_replica_wins(store: SessionStore) -> None:
    await created(store, "s1")
    before = await store.now()
    await store.renew_presence(PresenceLeases("A", LEASE, [("s1", "p1")]))
    await store.renew_presence(PresenceLeases("B", 2 * LEASE, [("s1", "p1"), ("s1", "p2")]))
    after = await store.now()
    leases = await store.presence_leases("s1")
    assert set(leases) == {"p1", "p2"}
    assert before + 2 * LEASE <= leases["p1"] <= after + 2 * LEASE
    assert await store.presence_leases("other") == {}


async def test_a_release_ends_the_lease_now_and_the_session_is_due_after_the_grace(store: SessionStore) -> None:
    await created(store, "s1")
    await store.renew_presence(PresenceLeases("A", LEASE, [("s1", "p1")]))
    await store.renew_presence(PresenceLeases("A", LEASE, released={("s1", "p1"): GRACE}))
    now = await store.now()
    assert (await store.presence_leases("s1"))["p1"] <= now
    assert "s1" not in await store.presence_due(now, 100)
    assert "s1" in await store.presence_due(now + GRACE + 1, 100)


async def test_a_replica_that_stops_renewing_makes_its_sessions_due_when_its_leases_end(store: SessionStore) -> None:
    for sid in ("s1", "s2"):
        await created(store, sid)
    await store.renew_presence(PresenceLeases("A", LEASE, [("s1", "p1"), ("s2", "p1")]))
    # Its heartbeat: every pair it still holds; s2 is no longer one of them.
    await store.renew_presence(PresenceLeases("A", LEASE, [("s1", "p1")], complete=True))
    now = await store.now()
    assert await store.presence_due(now + LEASE / 2, 100) == []
    assert await store.presence_due(now + LEASE + 1, 100) == ["s1"]
    assert await store.presence_due(now + LEASE + 1, 100) == ["s1"], "due until checked, whoever looked"


async def test_checked_forgets_ended_leases_only_and_sets_the_next_look(store: SessionStore) -> None:
    await created(store, "s1")
    await store.renew_presence(PresenceLeases("A", LEASE, [("s1", "p1"), ("s1", "p2")]))
    await store.renew_presence(PresenceLeases("A", LEASE, released={("s1", "p1"): GRACE}))
    now = await store.now()
    await store.presence_checked("s1", ["p1", "p2"], now + 2 * LEASE)  # p2's lease is live: kept
    assert set(await store.presence_leases("s1")) == {"p2"}
    assert await store.presence_due(now + LEASE / 2, 100) == []
    assert await store.presence_due(now + 3 * LEASE, 100) == ["s1"]
    await store.presence_checked("s1", [], None)
    assert await store.presence_due(now + 3 * LEASE, 100) == []


async def test_settling_commits_each_change_once_with_its_event(store: SessionStore) -> None:
    session = await created(store, "s1")
    tiers = TierRules()
    await store.mutate("s1", join("p1", ""))
    now = await store.now()
    online, changed = await store.mutate("s1", presence.settle({"p1": (True, now)}, tiers))
    assert changed == ["p1"] and online.roster["p1"].online
    again, changed = await store.mutate("s1", presence.settle({"p1": (True, now)}, tiers))
    assert changed == [] and again.revision == online.revision, "a second replica's settle changes nothing"
    offline, _ = await store.mutate("s1", presence.settle({"p1": (False, now)}, tiers))
    assert not offline.roster["p1"].online and offline.roster["p1"].last_seen_time == pytest.approx(now)
    found = await store.events_after("s1", session.last_event_id, 100)
    payloads = [e.payload for e in found if isinstance(e.payload, PresenceChanged)]
    assert payloads == [
        PresenceChanged("p1", Presence.OFFLINE, Presence.ONLINE),
        PresenceChanged("p1", Presence.ONLINE, Presence.OFFLINE),
    ]
    assert (await store.stats()).players_online == 0
