"""What every SessionStore must do (sessiond/store/protocols.py). Runs once per backend."""

from __future__ import annotations

import asyncio
import contextlib
import math
import random

import pytest

from sessiond.core import events
from sessiond.core.errors import (
    EventsExpired,
    InvalidInput,
    LimitReached,
    SessionExists,
    SessionNotFound,
    TurnNotFound,
    VersionConflict,
)
from sessiond.core.lifecycle import patch_session_state
from sessiond.core.limits import Limits
from sessiond.core.models import UNCHANGED, Mutation, Session, SessionState, Turn, Window
from sessiond.core.paging import session_key
from sessiond.core.window import close_if_due
from sessiond.store.protocols import SessionQuery, SessionStore
from tests.contract.conftest import EVENT_RETENTION, HISTORY, WHOLE_HISTORY
from tests.support import make_session

LIMITS = Limits()


async def created(store: SessionStore, session_id: str, **spec: object) -> Session:
    session, was_created = await store.create(make_session(session_id, await store.now(), **spec), "", 100)
    assert was_created
    return session


def bump(key: str = "n") -> object:
    """A change that increments state[key] and emits one event."""

    def change(s: Session, _t: Turn | None, _now: float) -> tuple[Mutation, int]:
        value = int(s.session_state.get(key, 0)) + 1
        return patch_session_state({key: value}, None, LIMITS)(s, None, 0.0)[0], value

    return change


def fake_turn(s: Session, number: int, now: float) -> Turn:
    # Opened now: a window never opens before its session was created (the graph drops such turns).
    s.window = Window(number, now, now, "p1")
    from sessiond.core.models import CloseReason
    from sessiond.core.window import close_window

    _, turn = close_window(s, now, CloseReason.DEADLINE)
    return turn


async def add_turns(store: SessionStore, session_id: str, count: int) -> None:
    for _ in range(count):

        def change(s: Session, _t: Turn | None, now: float) -> tuple[Mutation, None]:
            turn = fake_turn(s, s.turn_number, now)
            return Mutation(events=(events.TurnResolved(turn),), new_turn=turn), None

        await store.mutate(session_id, change)


# Clock


async def test_now_is_seconds_since_epoch_and_moves_forward(store: SessionStore) -> None:
    first = await store.now()
    assert 1.6e9 < first < 4e9
    assert await store.now() >= first


# Create, get, delete


async def test_create_then_get_returns_an_equal_session(store: SessionStore) -> None:
    made = await created(store, "s1", game_id="g1", title="T", session_state={"a": {"b": [1, 2]}}, options=("x", "y"))
    got = await store.get("s1")
    assert got == made
    assert got.session_state == {"a": {"b": [1, 2]}} and got.options == ["x", "y"] and got.game_id == "g1"


async def test_get_unknown_session_raises_not_found(store: SessionStore) -> None:
    with pytest.raises(SessionNotFound):
        await store.get("nope")


async def test_create_with_taken_id_raises_exists(store: SessionStore) -> None:
    await created(store, "s1")
    with pytest.raises(SessionExists):
        await store.create(make_session("s1", await store.now()), "", 100)


async def test_create_with_a_known_request_id_returns_the_first_session(store: SessionStore) -> None:
    now = await store.now()
    first, was_created = await store.create(make_session("s1", now, title="first"), "req-1", 100)
    again, again_created = await store.create(make_session("s2", now, title="second"), "req-1", 100)
    assert was_created and not again_created
    assert again.session_id == "s1" and again.title == "first"
    with pytest.raises(SessionNotFound):
        await store.get("s2")


async def test_create_beyond_the_limit_raises_and_stores_nothing(store: SessionStore) -> None:
    now = await store.now()
    await store.create(make_session("s1", now), "", 2)
    await store.create(make_session("s2", now), "", 2)
    with pytest.raises(LimitReached):
        await store.create(make_session("s3", now), "", 2)
    with pytest.raises(SessionNotFound):
        await store.get("s3")


async def test_delete_removes_session_turns_and_events(store: SessionStore) -> None:
    await created(store, "s1")
    await store.mutate("s1", bump())
    await add_turns(store, "s1", 1)
    await store.delete("s1")
    for call in (store.get("s1"), store.turns("s1", None, 10), store.events_after("s1", 0, 10), store.delete("s1")):
        with pytest.raises(SessionNotFound):
            await call
    # The id is free again, and the new session starts a fresh history.
    await created(store, "s1")
    assert await store.turns("s1", None, 10) == []
    assert await store.events_after("s1", 0, 10) == []


async def test_delete_with_a_stale_etag_is_refused(store: SessionStore) -> None:
    made = await created(store, "s1")
    await store.mutate("s1", bump())
    with pytest.raises(VersionConflict):
        await store.delete("s1", made.etag)
    await store.get("s1")
    await store.delete("s1", (await store.get("s1")).etag)


# List


async def test_list_filters_pages_and_counts_newest_first(store: SessionStore) -> None:
    for i in range(7):
        await created(store, f"s{i}", game_id="g" if i % 2 == 0 else "h", channel_id=f"c{i}")
    await store.mutate("s2", lambda s, _t, now: _join(s, "alice", now))
    page, total = await store.find(SessionQuery(game_id="g"), None, 2)
    assert total == 4
    assert [s.session_id for s in page] == ["s6", "s4"]
    page2, _ = await store.find(SessionQuery(game_id="g"), session_key(page[-1]), 2)
    assert [s.session_id for s in page2] == ["s2", "s0"]
    assert await store.find(SessionQuery(game_id="g"), session_key(page2[-1]), 2) == ([], 4)
    rest, _ = await store.find(SessionQuery(), session_key(page[0]), 100)
    assert [s.session_id for s in rest] == ["s5", "s4", "s3", "s2", "s1", "s0"]
    by_player, total = await store.find(SessionQuery(player_id="alice"), None, 10)
    assert [s.session_id for s in by_player] == ["s2"] and total == 1
    by_channel, _ = await store.find(SessionQuery(channel_id="c3"), None, 10)
    assert [s.session_id for s in by_channel] == ["s3"]
    await store.mutate("s3", lambda s, _t, _now: (_pause(s), None))
    paused, total = await store.find(SessionQuery(state=SessionState.PAUSED), None, 10)
    assert [s.session_id for s in paused] == ["s3"] and total == 1
    everything, total = await store.find(SessionQuery(), None, 100)
    assert total == 7 and len(everything) == 7


def _join(s: Session, player_id: str, now: float) -> tuple[Mutation, None]:
    from sessiond.core.lifecycle import join

    mutation, _ = join(player_id, "")(s, None, now)
    return mutation, None


def _pause(s: Session) -> Mutation:
    from sessiond.core.lifecycle import change_state

    return change_state("pause", "")(s, None, 0.0)[0]


# Mutate


async def test_mutate_commits_the_change_with_revision_time_and_event_ids(store: SessionStore) -> None:
    made = await created(store, "s1")
    after, result = await store.mutate("s1", bump())
    assert result == 1
    assert after.session_state == {"n": 1} and after.state_version == 1
    assert after.revision == made.revision + 1 and after.etag != made.etag
    assert after.update_time >= made.update_time and after.last_activity_time >= made.last_activity_time
    assert after.last_event_id == 1
    assert await store.get("s1") == after
    [event] = await store.events_after("s1", 0, 10)
    assert event.event_id == 1 and event.kind == "state_changed" and event.data["patch"] == {"n": 1}


async def test_a_refused_change_writes_nothing(store: SessionStore) -> None:
    await created(store, "s1")
    before = await store.get("s1")

    def refuse(s: Session, _t: Turn | None, _now: float) -> tuple[Mutation, None]:
        s.session_state = {"half": "done"}
        s.roster.clear()
        raise InvalidInput("x", "no")

    with pytest.raises(InvalidInput):
        await store.mutate("s1", refuse)
    assert await store.get("s1") == before
    assert await store.events_after("s1", 0, 10) == []


async def test_an_unchanged_mutation_bumps_nothing(store: SessionStore) -> None:
    before = await created(store, "s1")
    after, _ = await store.mutate("s1", lambda s, _t, _n: (UNCHANGED, None))
    assert after == before == await store.get("s1")


async def test_a_change_without_activity_keeps_the_idle_clock(store: SessionStore) -> None:
    before = await created(store, "s1")

    def quiet(s: Session, _t: Turn | None, _now: float) -> tuple[Mutation, None]:
        s.title = "renamed"
        return Mutation(activity=False), None

    after, _ = await store.mutate("s1", quiet)
    assert after.title == "renamed" and after.last_activity_time == before.last_activity_time
    assert after.expire_time == before.expire_time


async def test_mutate_unknown_session_raises_not_found(store: SessionStore) -> None:
    with pytest.raises(SessionNotFound):
        await store.mutate("nope", bump())


async def test_concurrent_mutations_are_never_lost(store: SessionStore) -> None:
    await created(store, "s1")
    results = await asyncio.gather(*(store.mutate("s1", bump()) for _ in range(50)))
    assert sorted(r for _, r in results) == list(range(1, 51))
    final = await store.get("s1")
    assert final.session_state == {"n": 50} and final.last_event_id == 50


async def test_mutate_round_trips_roster_window_and_settings(store: SessionStore) -> None:
    await created(store, "s1", window_seconds=3.5)
    from sessiond.core.tiers import TierRules
    from sessiond.core.window import submit_choice

    await store.mutate("s1", lambda s, _t, now: _join(s, "p2", now))
    await store.mutate("s1", lambda s, _t, now: submit_choice("p1", "left", LIMITS, TierRules())(s, None, now))
    got = await store.get("s1")
    assert got.window is not None and got.window.opened_by == "p1"
    assert got.window.choices["p1"].choice == "left"
    assert math.isclose(got.window.deadline - got.window.open_time, 3.5)
    assert list(got.roster) == ["p2", "p1"]
    assert got.settings.window_seconds == 3.5


# Turns


async def test_turns_are_newest_first_paged_and_trimmed_to_the_history(store: SessionStore) -> None:
    await created(store, "s1")
    await add_turns(store, "s1", HISTORY + 3)
    turns = await store.turns("s1", None, 100)
    oldest = 1 if store.name in WHOLE_HISTORY else 4  # a durable store pages past the hot turns
    assert [t.turn_number for t in turns] == list(range(HISTORY + 3, oldest - 1, -1))
    assert [t.turn_number for t in await store.turns("s1", HISTORY + 3, 2)] == [HISTORY + 2, HISTORY + 1]
    assert [t.turn_number for t in await store.turns("s1", 6, 4)] == list(range(5, max(oldest, 2) - 1, -1))
    assert await store.turns("s1", 1, 10) == []
    assert await store.turns("s1", None, 0) == []


async def test_mutate_with_a_turn_can_update_it(store: SessionStore) -> None:
    await created(store, "s1")
    await add_turns(store, "s1", 2)

    def summarise(_s: Session, turn: Turn | None, _now: float) -> tuple[Mutation, Turn]:
        assert turn is not None and turn.turn_number == 1
        turn.summary = "the party rested"
        return Mutation(events=(events.TurnUpdated(turn),), updated_turn=turn), turn

    await store.mutate("s1", summarise, turn_number=1)
    turns = await store.turns("s1", None, 10)
    assert [(t.turn_number, t.summary) for t in turns] == [(2, ""), (1, "the party rested")]
    with pytest.raises(TurnNotFound):
        await store.mutate("s1", summarise, turn_number=9)


# Events


async def test_events_after_is_ordered_limited_and_resumable(store: SessionStore) -> None:
    await created(store, "s1")
    for _ in range(6):
        await store.mutate("s1", bump())
    first = await store.events_after("s1", 0, 4)
    assert [e.event_id for e in first] == [1, 2, 3, 4]
    rest = await store.events_after("s1", 4, 100)
    assert [e.event_id for e in rest] == [5, 6]
    assert await store.events_after("s1", 6, 100) == []
    assert all(e.session_id == "s1" and e.time > 0 for e in first + rest)


async def test_events_older_than_the_retention_are_reported_expired(store: SessionStore) -> None:
    await created(store, "s1")
    for _ in range(EVENT_RETENTION + 5):
        await store.mutate("s1", bump())
    kept = await store.events_after("s1", 5, 100)
    assert [e.event_id for e in kept] == list(range(6, EVENT_RETENTION + 6))
    with pytest.raises(EventsExpired):
        await store.events_after("s1", 3, 100)


async def test_events_after_many_reads_each_session_as_events_after_does(store: SessionStore) -> None:
    for sid in ("s1", "s2", "old"):
        await created(store, sid)
    for _ in range(3):
        await store.mutate("s1", bump())
    await store.mutate("s2", bump())
    for _ in range(EVENT_RETENTION + 5):
        await store.mutate("old", bump())
    found = await store.events_after_many({"s1": 1, "s2": 1, "old": 3, "gone": 0}, 100)
    assert set(found) == {"s1", "s2", "old", "gone"}
    assert [e.event_id for e in found["s1"]] == [2, 3] == [e.event_id for e in await store.events_after("s1", 1, 100)]
    assert found["s2"] == []
    assert isinstance(found["old"], EventsExpired)
    assert isinstance(found["gone"], SessionNotFound)
    await store.delete("s1")
    assert isinstance((await store.events_after_many({"s1": 0}, 10))["s1"], SessionNotFound)
    assert [e.event_id for e in (await store.events_after_many({"s2": 0}, 1))["s2"]] == [1]


async def test_wait_events_wakes_on_a_commit_and_times_out_empty(store: SessionStore) -> None:
    await created(store, "s1")
    assert await store.wait_events("s1", 0, 0.05) == []
    waiter = asyncio.create_task(store.wait_events("s1", 0, 10.0))
    await asyncio.sleep(0)  # let the waiter block before the commit
    await store.mutate("s1", bump())
    got = await asyncio.wait_for(waiter, 5.0)
    assert [e.event_id for e in got] == [1]


async def test_wait_events_on_a_deleted_session_raises_not_found(store: SessionStore) -> None:
    await created(store, "s1")
    waiter = asyncio.create_task(store.wait_events("s1", 0, 10.0))
    await asyncio.sleep(0)
    await store.delete("s1")
    with pytest.raises(SessionNotFound):
        await asyncio.wait_for(waiter, 5.0)


# Indexes


async def test_windows_due_lists_open_windows_by_deadline(store: SessionStore) -> None:
    now = await store.now()
    past = make_session("past", now)
    past.window = Window(1, now - 5, now - 1, "p1")
    future = make_session("future", now)
    future.window = Window(1, now, now + 600, "p1")
    for s in (past, future, make_session("none", now)):
        await store.create(s, "", 100)
    assert {d.session_id for d in await store.windows_due(now)} == {"past"}
    everything = await store.windows_due(math.inf)
    assert {(d.session_id, d.turn_number) for d in everything} == {("past", 1), ("future", 1)}
    # The guarded close resolves it once; the index forgets it.
    _, turn = await store.mutate("past", lambda s, _t, t: close_if_due(1)(s, None, t))
    assert turn is not None and turn.turn_number == 1
    _, again = await store.mutate("past", lambda s, _t, t: close_if_due(1)(s, None, t))
    assert again is None
    assert {d.session_id for d in await store.windows_due(math.inf)} == {"future"}


async def test_sessions_idle_follow_last_activity(store: SessionStore) -> None:
    now = await store.now()
    old = make_session("old", now - 7200, idle_ttl_seconds=3600.0)
    fresh = make_session("fresh", now, idle_ttl_seconds=3600.0)
    for s in (old, fresh):
        await store.create(s, "", 100)
    assert await store.sessions_idle(now, 10) == ["old"]
    assert set(await store.sessions_idle(now + 3601, 10)) == {"old", "fresh"}
    await store.mutate("old", bump())  # activity moves it out of the idle set
    assert await store.sessions_idle(now, 10) == []


async def test_stats_count_sessions_players_and_windows(store: SessionStore) -> None:
    now = await store.now()
    a = make_session("a", now)
    a.window = Window(1, now, now + 60, "p1")
    await store.create(a, "", 100)
    await created(store, "b")
    await store.mutate("a", lambda s, _t, t: _join(s, "p1", t))
    await store.mutate("b", lambda s, _t, t: _join(s, "p2", t))
    await store.mutate("b", lambda s, _t, t: _join(s, "p3", t))
    await store.mutate("b", lambda s, _t, _n: (_pause(s), None))
    stats = await store.stats()
    assert stats.sessions_by_state == {SessionState.ACTIVE: 1, SessionState.PAUSED: 1}
    assert stats.players == 3 and stats.open_windows == 1


async def test_stats_equal_a_recount_after_a_random_sequence_of_writes(store: SessionStore) -> None:
    from sessiond.core.errors import WrongLifecycleState
    from sessiond.core.lifecycle import LifecycleAction, change_state
    from sessiond.core.models import Persistence
    from sessiond.store._bookkeeping import tally

    rng = random.Random(11)
    live: list[str] = []
    for step in range(120):
        op = rng.choice(["create", "create", "join", "state", "state", "window", "delete"])
        if op == "create" or not live:
            sid = f"s{step}"
            await created(store, sid, persistence=rng.choice(list(Persistence)))
            live.append(sid)
            continue
        sid = rng.choice(live)
        if op in ("join", "state"):
            change = (
                (lambda s, _t, t, p=f"p{step}": _join(s, p, t))
                if op == "join"
                else change_state(rng.choice(list(LifecycleAction)), "")
            )
            with contextlib.suppress(WrongLifecycleState):  # an ended session refuses both
                await store.mutate(sid, change)
        elif op == "window":
            await store.mutate(sid, lambda s, _t, t: (_open_window(s, t), None))
        else:
            await store.delete(sid)
            live.remove(sid)
    everything, total = await store.find(SessionQuery(), None, 1000)
    assert total == len(live)
    recount, stats = tally(everything), await store.stats()
    assert stats.sessions_by_state == recount.sessions_by_state
    assert stats.sessions_by_persistence == recount.sessions_by_persistence
    assert (stats.players, stats.open_windows) == (recount.players, recount.open_windows)
    assert stats.players > 0 and stats.open_windows > 0 and len(stats.sessions_by_state) > 1


def _open_window(s: Session, now: float) -> Mutation:
    """Opens a window if none is open (a change that edits the session without an event)."""
    if s.window is None:
        s.window = Window(s.turn_number, now, now + 60, "p1")
    return Mutation(changed=True)


async def test_ping_succeeds_on_a_healthy_store(store: SessionStore) -> None:
    await store.ping()


# Index consistency (added with the Redis backend, whose indexes live apart from the sessions)


async def test_a_window_opened_by_a_change_is_due_at_its_deadline_and_forgotten_once_closed(
    store: SessionStore,
) -> None:
    from sessiond.core.tiers import TierRules
    from sessiond.core.window import submit_choice

    await created(store, "s1", early_close=False)
    _, receipt = await store.mutate("s1", submit_choice("p1", "x", LIMITS, TierRules()))
    assert [(d.session_id, d.turn_number, d.deadline) for d in await store.windows_due(math.inf)] == [
        ("s1", 1, receipt.deadline)
    ]
    assert await store.windows_due(receipt.deadline - 0.5) == []
    assert [d.session_id for d in await store.windows_due(receipt.deadline)] == ["s1"]
    _, turn = await store.mutate("s1", lambda s, _t, _now: close_if_due(1)(s, None, receipt.deadline))
    assert turn is not None and turn.turn_number == 1
    assert await store.windows_due(math.inf) == []


async def test_a_deleted_session_leaves_every_listing_and_frees_its_place(store: SessionStore) -> None:
    now = await store.now()
    gone = make_session("gone", now - 7200, idle_ttl_seconds=3600.0)
    gone.window = Window(1, now - 5, now - 1, "p1")
    await store.create(gone, "", 100)
    await store.mutate("gone", lambda s, _t, t: _join(s, "p1", t))
    await store.delete("gone")
    assert await store.windows_due(math.inf) == []
    assert await store.sessions_idle(now + 10**6, 10) == []
    assert await store.find(SessionQuery(), None, 10) == ([], 0)
    assert await store.find(SessionQuery(player_id="p1"), None, 10) == ([], 0)
    stats = await store.stats()
    assert stats.sessions_by_state == {} and stats.players == 0 and stats.open_windows == 0
    await store.create(make_session("next", now), "", 1)


async def test_a_request_id_whose_session_was_deleted_creates_a_new_one(store: SessionStore) -> None:
    now = await store.now()
    await store.create(make_session("s1", now), "req-1", 100)
    await store.delete("s1")
    again, was_created = await store.create(make_session("s2", now), "req-1", 100)
    assert was_created and again.session_id == "s2"
    replay, replay_created = await store.create(make_session("s3", now), "req-1", 100)
    assert not replay_created and replay.session_id == "s2"


async def test_a_create_refused_for_its_id_does_not_spend_the_request_id(store: SessionStore) -> None:
    now = await store.now()
    await created(store, "s1")
    with pytest.raises(SessionExists):
        await store.create(make_session("s1", now), "req-1", 100)
    made, was_created = await store.create(make_session("s2", now), "req-1", 100)
    assert was_created and made.session_id == "s2"


async def test_wait_events_returns_stored_events_at_once(store: SessionStore) -> None:
    await created(store, "s1")
    for _ in range(3):
        await store.mutate("s1", bump())
    got = await asyncio.wait_for(store.wait_events("s1", 1, 30.0), 5.0)
    assert [e.event_id for e in got] == [2, 3]


async def test_events_keep_their_kind_time_and_data(store: SessionStore) -> None:
    await created(store, "s1")
    after, _ = await store.mutate("s1", lambda s, _t, t: _join(s, "p1", t))
    [event] = await store.events_after("s1", 0, 10)
    assert event.kind == "player_joined" and event.time == after.update_time
    assert event.data["player"]["player_id"] == "p1"
    assert event == (await store.wait_events("s1", 0, 0.01))[0]


# Profiles


async def test_profiles_are_created_updated_and_versioned(store: SessionStore) -> None:
    from sessiond.core.errors import ProfileNotFound
    from sessiond.core.models import ContentSettings, PlayerProfile

    with pytest.raises(ProfileNotFound):
        await store.get_profile("ann")
    assert await store.find_profile("ann") is None
    first = await store.mutate_profile(
        "ann",
        lambda old: PlayerProfile(
            "ann", "Ann", {"lang": "en"}, True, False, ContentSettings("LOW", "RELAXED", ["spiders"], {"k": "v"})
        ),
    )
    assert first.revision == 1 and first.create_time == first.update_time > 0
    assert await store.get_profile("ann") == first
    assert await store.find_profile("ann") == first

    def rename(old: PlayerProfile | None) -> PlayerProfile:
        assert old == first
        old.display_name = "Annie"
        return old

    second = await store.mutate_profile("ann", rename)
    assert second.revision == 2 and second.display_name == "Annie" and second.create_time == first.create_time
    assert second.content.topics_to_avoid == ["spiders"] and second.preferences == {"lang": "en"}
    assert second.hide_from_recommendations and second.etag != first.etag


async def test_a_refused_profile_change_writes_nothing(store: SessionStore) -> None:
    from sessiond.core.models import PlayerProfile

    made = await store.mutate_profile("ann", lambda _old: PlayerProfile("ann", "Ann"))

    def refuse(_old: PlayerProfile | None) -> PlayerProfile:
        raise VersionConflict("no")

    with pytest.raises(VersionConflict):
        await store.mutate_profile("ann", refuse)
    assert await store.get_profile("ann") == made


async def test_concurrent_profile_changes_are_never_lost(store: SessionStore) -> None:
    from sessiond.core.models import PlayerProfile

    await store.mutate_profile("ann", lambda _old: PlayerProfile("ann"))

    def add(key: str) -> object:
        def change(old: PlayerProfile | None) -> PlayerProfile:
            assert old is not None
            old.preferences[key] = "1"
            return old

        return change

    await asyncio.gather(*(store.mutate_profile("ann", add(f"k{i}")) for i in range(20)))  # type: ignore[arg-type]
    final = await store.get_profile("ann")
    assert len(final.preferences) == 20 and final.revision == 21


# Locks and owner/channel queries


async def test_lock_excludes_concurrent_holders_of_one_name_only(store: SessionStore) -> None:
    inside: list[str] = []
    overlaps: list[tuple[str, str]] = []

    async def hold(name: str, tag: str) -> None:
        async with store.lock(name):
            for other in inside:
                if other.split(":")[0] == name:
                    overlaps.append((other, tag))
            inside.append(f"{name}:{tag}")
            await asyncio.sleep(0.01)
            inside.remove(f"{name}:{tag}")

    await asyncio.gather(*(hold(name, str(i)) for i in range(5) for name in ("player:a", "channel:b")))
    assert overlaps == []

    # Different names do not wait for each other.
    async with store.lock("x"):
        await asyncio.wait_for(_enter(store, "y"), 5.0)


async def _enter(store: SessionStore, name: str) -> None:
    async with store.lock(name):
        pass


async def test_find_by_owner_and_channel_membership(store: SessionStore) -> None:
    now = await store.now()
    owned = make_session("owned", now, owner_player_id="ann", character_id="elf", world_id="w1")
    chan = make_session("chan", now, channel_id="lobby")
    for s in (owned, chan, make_session("plain", now)):
        await store.create(s, "", 100)
    mine, total = await store.find(SessionQuery(owner_player_id="ann"), None, 10)
    assert [s.session_id for s in mine] == ["owned"] and total == 1
    games, total = await store.find(SessionQuery(in_channel=True), None, 10)
    assert [s.session_id for s in games] == ["chan"] and total == 1
